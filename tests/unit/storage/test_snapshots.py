"""Snapshots on disk: complete or absent, newest wins, old ones pruned."""

from __future__ import annotations

from pathlib import Path

import numpy as np

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
