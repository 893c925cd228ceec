"""Snapshots on disk: complete or absent, newest wins, old ones pruned."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from streamrec.storage.snapshots import SnapshotStore


def components(value: float) -> dict[str, dict[str, np.ndarray]]:
    return {
        "model-x": {"mass": np.array([value, 2.0]), "ids": np.array(["a", "b"], dtype=np.str_)},
        "counters": {"learned_events": np.array([7])},
    }


def test_an_empty_store_has_no_snapshot(tmp_path: Path) -> None:
    assert SnapshotStore(tmp_path / "snapshots").load_latest() is None


def test_a_saved_snapshot_loads_back_exactly(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snapshots")
    store.save(42, components(1.5), {"fingerprint": "f1"})
    loaded = store.load_latest()
    assert loaded is not None
    assert loaded.offset == 42 and loaded.meta["fingerprint"] == "f1"
    assert loaded.components.keys() == {"model-x", "counters"}
    np.testing.assert_array_equal(loaded.components["model-x"]["mass"], [1.5, 2.0])
    assert loaded.components["model-x"]["ids"].tolist() == ["a", "b"]


def test_the_newest_offset_wins_and_only_keep_snapshots_remain(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snapshots", keep=2)
    for offset in (5, 100, 20):  # offsets, not save order, decide which is newest
        store.save(offset, components(float(offset)), {})
    loaded = store.load_latest()
    assert loaded is not None and loaded.offset == 100
    assert len(list((tmp_path / "snapshots").glob("snapshot-*"))) == 2


def test_half_written_snapshots_are_ignored_and_cleaned_up(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snapshots")
    store.save(10, components(1.0), {})
    # a crash while writing leaves a temporary folder, or a folder without its meta.json
    (tmp_path / "snapshots" / ".tmp-00000000000000000099-1").mkdir()
    (tmp_path / "snapshots" / "snapshot-00000000000000000050").mkdir()
    loaded = store.load_latest()
    assert loaded is not None and loaded.offset == 10
    store.save(11, components(2.0), {})
    assert not list((tmp_path / "snapshots").glob(".tmp-*"))


def test_saving_at_an_existing_offset_replaces_it(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snapshots")
    store.save(10, components(1.0), {"fingerprint": "old"})
    store.save(10, components(3.0), {"fingerprint": "new"})
    loaded = store.load_latest()
    assert loaded is not None and loaded.meta["fingerprint"] == "new"
    np.testing.assert_array_equal(loaded.components["model-x"]["mass"], [3.0, 2.0])


def test_delete_all_forgets_every_snapshot(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snapshots")
    store.save(10, components(1.0), {})
    store.delete_all()
    assert store.load_latest() is None


def _damage_truncated(folder: Path) -> Path:
    target = folder / "model-x.npz"
    target.write_bytes(target.read_bytes()[:40])
    return target


def _damage_garbage(folder: Path) -> Path:
    target = folder / "model-x.npz"
    target.write_bytes(b"\x80\x04garbage that numpy would offer to unpickle" * 10)
    return target


def _damage_empty_meta(folder: Path) -> Path:
    (folder / "meta.json").write_text("")
    return folder / "meta.json"


def _damage_bad_meta(folder: Path) -> Path:
    (folder / "meta.json").write_text('{"offset": "x"')
    return folder / "meta.json"


def _damage_missing_component(folder: Path) -> Path:
    (folder / "counters.npz").unlink()
    return folder / "counters.npz"


@pytest.mark.parametrize("damage", [_damage_truncated, _damage_garbage, _damage_empty_meta,
                                    _damage_bad_meta, _damage_missing_component])
def test_a_damaged_newest_snapshot_falls_back_to_the_previous_with_one_line_naming_the_file(
    tmp_path: Path, damage: Callable[[Path], Path], caplog: pytest.LogCaptureFixture,
) -> None:
    store = SnapshotStore(tmp_path / "snapshots", keep=2)
    store.save(10, components(1.0), {})
    newest = store.save(20, components(2.0), {})
    bad_file = damage(newest)
    with caplog.at_level(logging.WARNING):
        loaded = store.load_latest()
    assert loaded is not None and loaded.offset == 10
    np.testing.assert_array_equal(loaded.components["model-x"]["mass"], [1.0, 2.0])
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and str(bad_file) in lines[0]
    assert "pickle" not in lines[0]


def test_when_every_snapshot_is_damaged_there_is_none(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snapshots", keep=2)
    for offset in (10, 20):
        _damage_truncated(store.save(offset, components(1.0), {}))
    assert store.load_latest() is None
