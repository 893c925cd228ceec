"""Snapshots on disk: complete or absent, newest wins, old ones pruned."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

import blake3
import numpy as np
import pytest

from streamrec.storage.snapshots import (
    CHUNK_BYTES,
    AsSaved,
    Kept,
    NotHeld,
    SnapshotStore,
    read_snapshot,
    unchanging,
)


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


def _mass_chunk(folder: Path) -> Path:
    """The chunk of model-x's ``mass``: the newest snapshot's alone (its values differ)."""
    digest = json.loads((folder / "model-x.json").read_text())["mass"]["chunks"][0]
    return folder.parent / "chunks" / f"{digest}.bin"


def _damage_truncated(folder: Path) -> Path:
    target = _mass_chunk(folder)
    target.write_bytes(target.read_bytes()[:7])
    return target


def _damage_garbage(folder: Path) -> Path:
    target = _mass_chunk(folder)  # the same size, other bytes: only the digest tells
    target.write_bytes(b"\x80\x04garbage that numpy would offer to unpickle"[:16])
    return target


def _damage_missing_chunk(folder: Path) -> Path:
    target = _mass_chunk(folder)
    target.unlink()
    return target


def _damage_garbage_manifest(folder: Path) -> Path:
    target = folder / "model-x.json"
    target.write_bytes(b"\x80\x04garbage")
    return target


def _damage_wrong_shape(folder: Path) -> Path:
    target = folder / "model-x.json"
    manifest = json.loads(target.read_text())
    manifest["mass"]["shape"] = [3]
    target.write_text(json.dumps(manifest))
    return target


def _damage_empty_meta(folder: Path) -> Path:
    (folder / "meta.json").write_text("")
    return folder / "meta.json"


def _damage_bad_meta(folder: Path) -> Path:
    (folder / "meta.json").write_text('{"offset": "x"')
    return folder / "meta.json"


def _damage_missing_component(folder: Path) -> Path:
    (folder / "counters.json").unlink()
    return folder / "counters.json"


@pytest.mark.parametrize("damage", [_damage_truncated, _damage_garbage, _damage_missing_chunk,
                                    _damage_garbage_manifest, _damage_wrong_shape,
                                    _damage_empty_meta, _damage_bad_meta,
                                    _damage_missing_component])
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
        _damage_garbage_manifest(store.save(offset, components(float(offset)), {}))
    assert store.load_latest() is None


def test_a_snapshot_writes_only_the_chunks_an_older_one_has_not(tmp_path: Path) -> None:
    big = np.arange(3 * CHUNK_BYTES // 8 + 5, dtype=np.int64)  # four chunks, the last short
    store = SnapshotStore(tmp_path / "snapshots", keep=2)
    store.save(1, {"c": {"big": big, "small": np.array([1.0])}}, {})
    assert store.last_reused_bytes == 0 and store.last_written_bytes == big.nbytes + 8
    changed = big.copy()
    changed[CHUNK_BYTES // 8 + 1] = -1  # in the second chunk only
    store.save(2, {"c": {"big": changed, "small": np.array([1.0])}}, {})
    assert store.last_written_bytes == CHUNK_BYTES
    assert store.last_reused_bytes == big.nbytes + 8 - CHUNK_BYTES
    loaded = store.load_latest()
    assert loaded is not None and loaded.offset == 2
    np.testing.assert_array_equal(loaded.components["c"]["big"], changed)
    # both read back whole, each on its own
    older = read_snapshot(store.folders()[0])
    np.testing.assert_array_equal(older.components["c"]["big"], big)


def test_an_array_that_cannot_change_is_hashed_once_and_one_that_can_every_time(
    tmp_path: Path,
) -> None:
    """Read-only down to its memory, or declared ``unchanging``: the next save of the same
    array reuses its digests. A read-only view of a writeable array changes with it: it is
    hashed again, and the snapshot holds its new bytes."""
    frozen = np.arange(CHUNK_BYTES // 8 + 3, dtype=np.int64)  # two chunks
    frozen.flags.writeable = False
    declared = unchanging(np.arange(CHUNK_BYTES // 8, dtype=np.float64))
    live = np.zeros(CHUNK_BYTES // 8, dtype=np.int64)
    view = live[:]
    view.flags.writeable = False
    store = SnapshotStore(tmp_path / "snapshots", keep=2)

    def save(offset: int) -> dict[str, np.ndarray]:
        store.save(offset, {"c": {"frozen": frozen, "declared": declared, "view": view}}, {})
        loaded = store.load_latest()
        assert loaded is not None and loaded.offset == offset
        return loaded.components["c"]

    save(1)
    assert store.last_hashed_bytes == frozen.nbytes + declared.nbytes + view.nbytes
    live[5] = 7  # through the writeable array the view shows
    loaded = save(2)
    assert store.last_hashed_bytes == view.nbytes
    assert loaded["view"][5] == 7 and store.last_written_bytes == view.nbytes
    np.testing.assert_array_equal(loaded["frozen"], frozen)
    np.testing.assert_array_equal(loaded["declared"], declared)
    # a chunk of a known array gone from the disk is written again from the array
    digest = json.loads((store.folders()[-1] / "c.json").read_text())["frozen"]["chunks"][1]
    (tmp_path / "snapshots" / "chunks" / f"{digest}.bin").unlink()
    np.testing.assert_array_equal(save(3)["frozen"], frozen)
    assert store.last_hashed_bytes == view.nbytes and store.last_written_bytes == 24
    # an equal array of its own is another array: hashed
    copy = frozen.copy()
    copy.flags.writeable = False
    store.save(4, {"c": {"frozen": copy}}, {})
    assert store.last_hashed_bytes == copy.nbytes


def test_an_array_kept_by_a_token_is_named_by_later_saves_without_hashing_or_writing_it(
    tmp_path: Path,
) -> None:
    """``Kept(array, token)`` is written; the next save may give ``AsSaved(token)`` instead
    of the array (its owner no longer holds it): nothing is hashed or written, and the
    snapshot reads back whole. The store holds what its last save kept or named; a save
    naming what it does not hold fails as a disk's refusal does, leaving no snapshot."""
    base = np.arange(CHUNK_BYTES // 8 + 3, dtype=np.int64)  # two chunks
    store = SnapshotStore(tmp_path / "snapshots", keep=2)
    assert not store.holds("base")
    store.save(1, {"c": {"base": Kept(base, "base"), "log": np.array([1.0])}}, {})
    assert store.holds("base") and store.last_hashed_bytes == base.nbytes + 8
    for offset in (2, 3):  # named twice: each save holds what it named
        store.save(offset, {"c": {"base": AsSaved("base"), "log": np.arange(float(offset))}},
                   {})
        assert store.last_hashed_bytes == 8 * offset and store.last_written_bytes == 8 * offset
        assert store.last_reused_bytes == base.nbytes
        loaded = store.load_latest()
        assert loaded is not None and loaded.offset == offset
        np.testing.assert_array_equal(loaded.components["c"]["base"], base)
    # the chunks of the first snapshot (pruned: keep=2) stay while a kept one names them
    assert [p.name for p in store.folders()] == [f"snapshot-{n:020d}" for n in (2, 3)]
    np.testing.assert_array_equal(read_snapshot(store.folders()[0]).components["c"]["base"],
                                  base)
    # a save that neither keeps nor names it: the store no longer holds it
    store.save(4, {"c": {"log": np.array([4.0])}}, {})
    assert not store.holds("base")
    with pytest.raises(NotHeld):
        store.save(5, {"c": {"base": AsSaved("base")}}, {})
    assert store.offsets() == [3, 4]
    # kept again, then a chunk lost: the save fails, and the store no longer holds it
    store.save(6, {"c": {"base": Kept(base, "again")}}, {})
    digest = json.loads((store.folders()[-1] / "c.json").read_text())["base"]["chunks"][0]
    (tmp_path / "snapshots" / "chunks" / f"{digest}.bin").unlink()
    with pytest.raises(NotHeld):
        store.save(7, {"c": {"base": AsSaved("again")}}, {})
    assert not store.holds("again") and store.offsets() == [4, 6]
    # an erasure deletes every snapshot: nothing is held
    store.save(8, {"c": {"base": Kept(base, "third")}}, {})
    store.delete_all()
    assert not store.holds("third")


def test_a_store_adopts_the_kept_arrays_of_a_snapshot_of_its_own_that_a_start_restored(
    tmp_path: Path,
) -> None:
    """A snapshot read back names the arrays it kept by token; the store it came from,
    adopting it (a start restored it), holds them as its own last save did: a new
    process's first snapshot names them. Another store's snapshot is not adopted."""
    base = np.arange(CHUNK_BYTES // 8 + 3, dtype=np.int64)
    store = SnapshotStore(tmp_path / "snapshots")
    store.save(1, {"c": {"base": Kept(base, "b1"), "log": np.array([1.0])}}, {})
    store.save(2, {"c": {"base": AsSaved("b1"), "log": np.array([1.0, 2.0])}}, {})
    loaded = store.load_latest()
    assert loaded is not None and set(loaded.kept) == {"b1"}
    other = SnapshotStore(tmp_path / "elsewhere")
    other.adopt(loaded)
    assert not other.holds("b1")
    started = SnapshotStore(tmp_path / "snapshots")  # a new process's store
    assert not started.holds("b1")
    started.adopt(loaded)
    assert started.holds("b1")
    started.save(3, {"c": {"base": AsSaved("b1"), "log": np.array([3.0])}}, {})
    assert started.last_hashed_bytes == 8 and started.last_reused_bytes == base.nbytes
    again = started.load_latest()
    assert again is not None and again.offset == 3
    np.testing.assert_array_equal(again.components["c"]["base"], base)


def test_an_array_read_back_and_kept_unchanging_is_not_hashed_by_a_starts_first_save(
    tmp_path: Path,
) -> None:
    """The digests of a restored snapshot's arrays are adopted with it: an array a model
    keeps as read back and has made read-only or declared ``unchanging`` when the start
    adopts the snapshot is not hashed again by its first save; one the model changed (a
    copy of its own) or left writeable is, and one it let go is not held."""
    frozen = np.arange(CHUNK_BYTES // 8 + 3, dtype=np.int64)
    frozen.flags.writeable = False
    store = SnapshotStore(tmp_path / "snapshots")
    names = ("read_only", "declared", "changed", "writeable", "dropped")
    store.save(1, {"c": {name: frozen for name in names}}, {})
    loaded = store.load_latest()
    assert loaded is not None
    arrays = loaded.components["c"]
    arrays["read_only"].flags.writeable = False
    unchanging(arrays["declared"])
    changed = arrays.pop("changed").copy()
    changed[0] = -1
    changed.flags.writeable = False
    del arrays["dropped"]
    started = SnapshotStore(tmp_path / "snapshots")
    started.adopt(loaded)
    assert len(started._known) == 2  # the immutable ones, held weakly
    started.save(2, {"c": {**arrays, "changed": changed}}, {})
    assert started.last_hashed_bytes == 2 * frozen.nbytes  # the changed and the writeable
    assert started.last_written_bytes == CHUNK_BYTES  # the changed one's first chunk
    back = started.load_latest()
    assert back is not None and back.components["c"]["changed"][0] == -1
    for name in ("read_only", "declared", "writeable"):
        np.testing.assert_array_equal(back.components["c"][name], frozen)


def test_an_array_read_back_owns_its_memory_so_made_read_only_it_is_hashed_once(
    tmp_path: Path,
) -> None:
    """A model that keeps an array a restart read (the GRU's item vectors) and marks it
    read-only holds one that cannot change: the saves after the first do not hash it."""
    store = SnapshotStore(tmp_path / "snapshots", keep=2)
    store.save(1, {"c": {"vectors": np.ones((3, 4), dtype=np.float32)}}, {})
    loaded = store.load_latest()
    assert loaded is not None
    kept = loaded.components["c"]["vectors"]
    kept.flags.writeable = False
    store.save(2, {"c": {"vectors": kept}}, {})
    assert store.last_hashed_bytes == kept.nbytes
    store.save(3, {"c": {"vectors": kept}}, {})
    assert store.last_hashed_bytes == 0


def test_chunks_read_side_by_side_land_in_place_and_a_torn_one_is_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    """A snapshot's chunks are read by several threads at once: each lands at its own place
    in its array, and the one torn chunk among many is the one the log line names."""
    big = np.arange(5 * CHUNK_BYTES // 8 + 3, dtype=np.int64)  # six chunks
    other = np.arange(CHUNK_BYTES // 4 + 1, dtype=np.float32)[::-1].copy()  # two
    store = SnapshotStore(tmp_path / "snapshots", keep=2)
    store.save(1, {"a": {"big": big}, "b": {"other": other}}, {})
    changed = big.copy()
    changed[4 * CHUNK_BYTES // 8 + 1] = -1  # in the fifth chunk only
    newest = store.save(2, {"a": {"big": changed}, "b": {"other": other}}, {})
    loaded = read_snapshot(newest)
    np.testing.assert_array_equal(loaded.components["a"]["big"], changed)
    np.testing.assert_array_equal(loaded.components["b"]["other"], other)
    digest = json.loads((newest / "a.json").read_text())["big"]["chunks"][4]
    torn = tmp_path / "snapshots" / "chunks" / f"{digest}.bin"
    torn.write_bytes(torn.read_bytes()[:-8] + b"\x00" * 8)
    with caplog.at_level(logging.WARNING):
        fallback = store.load_latest()
    assert fallback is not None and fallback.offset == 1
    np.testing.assert_array_equal(fallback.components["a"]["big"], big)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and str(torn) in lines[0] and "'big'" in lines[0]


def test_chunks_no_kept_snapshot_names_are_deleted(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snapshots", keep=1)
    store.save(1, {"c": {"a": np.array([1.0, 2.0])}}, {})
    store.save(2, {"c": {"a": np.array([3.0, 4.0])}}, {})
    chunks = list((tmp_path / "snapshots" / "chunks").iterdir())
    assert len(chunks) == 1
    assert np.frombuffer(chunks[0].read_bytes()).tolist() == [3.0, 4.0]
    store.delete_all()
    assert not (tmp_path / "snapshots" / "chunks").exists()


def test_shapes_dtypes_and_empty_arrays_read_back(tmp_path: Path) -> None:
    arrays = {"matrix": np.arange(12, dtype=np.float32).reshape(3, 4),
              "empty": np.zeros((0, 8), dtype=np.float32), "flags": np.array([True, False]),
              "scalar": np.array(5, dtype=np.int32), "ids": np.array(["é", "xyz"])}
    store = SnapshotStore(tmp_path / "snapshots")
    store.save(3, {"c": arrays}, {})
    loaded = store.load_latest()
    assert loaded is not None
    for key, array in arrays.items():
        found = loaded.components["c"][key]
        assert found.dtype == array.dtype and found.shape == array.shape
        np.testing.assert_array_equal(found, array)


def test_an_object_array_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="plain arrays"):
        SnapshotStore(tmp_path / "snapshots").save(1, {"c": {"o": np.array([{}], dtype=object)}},
                                                   {})


def test_a_snapshot_of_the_npz_format_before_chunks_still_reads_back(tmp_path: Path) -> None:
    folder = tmp_path / "snapshots" / f"snapshot-{9:020d}"
    folder.mkdir(parents=True)
    for name, arrays in components(4.0).items():
        np.savez(folder / f"{name}.npz", **arrays)
    (folder / "meta.json").write_text(json.dumps({"offset": 9,
                                                  "components": sorted(components(4.0))}))
    loaded = SnapshotStore(tmp_path / "snapshots").load_latest()
    assert loaded is not None and loaded.offset == 9
    np.testing.assert_array_equal(loaded.components["model-x"]["mass"], [4.0, 2.0])


def test_a_read_ahead_gives_what_readable_gives_and_raises_its_error_in_the_caller(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The newest snapshot read in a thread (``read_ahead``, begun before a start opens its
    log): the same snapshots, newest first, a damaged one skipped with its line; an error
    the thread met is raised where the snapshots are asked for, not lost with the thread."""
    store = SnapshotStore(tmp_path / "snapshots", keep=3)
    for offset in (10, 20, 30):
        store.save(offset, components(float(offset)), {})
    torn = _damage_truncated(store.folders()[-1])
    with caplog.at_level(logging.WARNING):
        ahead = store.read_ahead()
        found = [(s.offset, s.components["model-x"]["mass"].tolist()) for s in ahead]
    assert found == [(20, [20.0, 2.0]), (10, [10.0, 2.0])]
    assert len(caplog.records) == 1 and str(torn) in caplog.messages[0]
    assert list(SnapshotStore(tmp_path / "empty").read_ahead()) == []

    def unreadable(folder: Path) -> None:
        raise PermissionError(f"{folder}: not allowed")

    monkeypatch.setattr("streamrec.storage.snapshots.read_snapshot", unreadable)
    with pytest.raises(PermissionError, match="not allowed"):
        list(store.read_ahead())


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _blake2b(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=20).hexdigest()


def test_new_snapshots_name_their_chunks_by_blake3(tmp_path: Path) -> None:
    folder = SnapshotStore(tmp_path / "snapshots").save(5, components(3.0), {})
    assert json.loads((folder / "meta.json").read_text())["format"] == "chunks-3"
    chunks = list((tmp_path / "snapshots" / "chunks").iterdir())
    assert chunks
    for chunk in chunks:
        assert chunk.stem == blake3.blake3(chunk.read_bytes()).hexdigest()


@pytest.mark.parametrize(("format_name", "digest"), [("chunks-1", _blake2b),
                                                     ("chunks-2", _sha256)])
def test_a_snapshot_of_an_older_format_still_reads_back_checked(
    tmp_path: Path, format_name: str, digest: Callable[[bytes], str],
) -> None:
    """chunks-1 named chunks by BLAKE2b, chunks-2 by SHA-256, chunks-3 by BLAKE3 (the
    fastest here). A data dir written before reads back, each chunk checked against the
    digest its format used."""
    store = SnapshotStore(tmp_path / "snapshots")
    folder = store.save(5, components(3.0), {})
    chunks = tmp_path / "snapshots" / "chunks"
    renamed = {}
    for chunk in list(chunks.iterdir()):
        old = digest(chunk.read_bytes())
        renamed[chunk.stem] = old
        chunk.rename(chunks / f"{old}.bin")
    for manifest in folder.glob("*.json"):
        content = json.loads(manifest.read_text())
        if manifest.name == "meta.json":
            content["format"] = format_name
        else:
            for entry in content.values():
                entry["chunks"] = [renamed[d] for d in entry["chunks"]]
        manifest.write_text(json.dumps(content))
    loaded = read_snapshot(folder)
    np.testing.assert_array_equal(loaded.components["model-x"]["mass"], [3.0, 2.0])
    assert loaded.components["model-x"]["ids"].tolist() == ["a", "b"]
    mass = json.loads((folder / "model-x.json").read_text())["mass"]["chunks"][0]
    (chunks / f"{mass}.bin").write_bytes(np.array([9.0, 2.0]).tobytes())  # same size, other bytes
    assert store.load_latest() is None
