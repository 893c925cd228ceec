"""Restarts from incremental snapshots (storage/snapshots.py): each snapshot writes only the
chunks its predecessors have not, and a restart from the newest, plus the log after it, holds
exactly what a fresh replay of the whole log holds; a torn or missing chunk falls back to the
previous snapshot, then to a replay, with a line saying so."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from streamrec.engine.engine import Engine
from streamrec.engine.replay import rebuild_state, state_differences
from streamrec.models import change_log
from streamrec.settings import Settings
from streamrec.storage.snapshots import SnapshotStore, read_snapshot
from streamrec.types import Event, Item

T0 = 1_700_000_000.0


def events(start: int, count: int) -> list[Event]:
    return [Event(f"u{n % 23}", f"i{(n * 7) % 41}", "view" if n % 5 else "click", T0 + n,
                  event_id=f"e{n}") for n in range(start, start + count)]


def stopped(engine: Engine) -> None:
    """The process dies: no final snapshot."""
    engine.log.close()
    engine.catalogue.close()


def chain(settings: Settings, by_changes: list[int] | None = None,
          ) -> tuple[list[Path], list[int]]:
    """Three snapshots with events between them, and a tail the last did not see; the bytes
    each later snapshot found already on disk (and, into ``by_changes``, how many of the
    writes so far had every sparse part by its changes, after each)."""
    engine = Engine.open(settings, start_learner=False)
    engine.upsert_items([Item(f"i{n}", {"category": f"c{n % 3}", "title": f"thing {n}"})
                         for n in range(41)])
    engine.learner.catch_up()
    folders, reused = [], []
    for part in range(4):
        engine.log.append(events(part * 150, 150))
        engine.learner.catch_up()
        if part < 3:
            folder = engine.snapshot()
            assert folder is not None
            folders.append(folder)
            reused.append(engine.snapshots.last_reused_bytes)
            if by_changes is not None:
                by_changes.append(engine.snapshotter.by_changes)
    stopped(engine)
    return folders, reused


def replay_differences(settings: Settings, engine: Engine) -> list[str]:
    fresh = rebuild_state(settings, engine.log)
    return state_differences(engine.state.state(), fresh.state())


def reopened(settings: Settings) -> Engine:
    return Engine.open(settings, start_learner=False)


def only_in(newest: Path, older: Path) -> Path:
    """A chunk the newest snapshot names and the older does not."""
    def names(folder: Path) -> set[str]:
        found = set()
        for manifest in folder.glob("*.json"):
            if manifest.name != "meta.json":
                for entry in json.loads(manifest.read_text()).values():
                    found.update(entry["chunks"])
        return found
    digest = sorted(names(newest) - names(older))[0]
    return newest.parent / "chunks" / f"{digest}.bin"


def test_a_restart_from_an_incremental_chain_equals_a_replay_of_the_log(
    tmp_path: Path, settings_factory: Callable[..., Settings]
) -> None:
    settings = settings_factory(tmp_path / "data")
    folders, reused = chain(settings)
    assert all(r > reused[0] for r in reused[1:])  # the catalogue, at least, is not rewritten
    engine = reopened(settings)
    try:
        assert engine.snapshotter.written_offset == int(folders[-1].name.split("-")[1])
        assert engine.state.offset > engine.snapshotter.written_offset  # the tail replayed
        assert replay_differences(settings, engine) == []
    finally:
        stopped(engine)


def test_sparse_rows_in_snapshots_name_their_base_and_add_the_changes_and_restart_exactly(
    tmp_path: Path, settings_factory: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Co-occurrence's pairs, ALS's and EASE's users' rows, and users' histories are written
    whole in the first snapshot; the later ones name those chunks and hold what was added
    since (models/change_log.py), and a restart from the newest (base, changes,
    then the log's tail) equals a replay. The restarted engine's first snapshot names the
    same bases (its store adopted the snapshot it restored), and a restart from it too."""
    monkeypatch.setattr(change_log, "SHARE", 1e9)  # never a new base in this chain
    settings = settings_factory(tmp_path / "data")
    settings = settings.model_copy(update={"snapshots": settings.snapshots.model_copy(
        update={"keep": 3})})
    by_changes: list[int] = []
    folders, _ = chain(settings, by_changes)
    assert by_changes == [0, 1, 2]  # the first gave the bases, the later ones named them
    first = json.loads((folders[0] / "model-cooccurrence.json").read_text())
    csr = ("indptr", "indices", "data")
    for part, prefix, keys, logged_key in (
            ("model-cooccurrence", "pairs_", csr, "log_rows"),
            ("model-als", "rows_", csr, "log_rows"), ("model-ease", "rows_", csr, "log_rows"),
            ("histories", "", ("users", "indptr", "items", "times"), "log_users")):
        manifests = [json.loads((folder / f"{part}.json").read_text()) for folder in folders]
        for key in keys:
            assert manifests[0][prefix + key] == manifests[1][prefix + key] == manifests[2][
                prefix + key], part
        assert f"{prefix}{logged_key}" not in manifests[0]  # a base: as ``state`` gives it
        logged = [manifest[f"{prefix}{logged_key}"]["bytes"] for manifest in manifests[1:]]
        assert 0 < logged[0] < logged[1], part
    engine = reopened(settings)
    try:
        assert engine.snapshotter.written_offset == int(folders[-1].name.split("-")[1])
        assert replay_differences(settings, engine) == []
        # a start carries on from the bases: its first snapshot names them too
        engine.log.append(events(600, 50))
        engine.learner.catch_up()
        after = engine.snapshot()
        assert after is not None
    finally:
        stopped(engine)
    manifest = json.loads((after / "model-cooccurrence.json").read_text())
    assert manifest["pairs_data"] == first["pairs_data"]
    engine = reopened(settings)
    try:
        assert engine.snapshotter.written_offset == int(after.name.split("-")[1])
        assert replay_differences(settings, engine) == []
    finally:
        stopped(engine)


@pytest.mark.parametrize("damage", ["torn", "missing"])
def test_a_torn_or_missing_chunk_falls_back_to_the_previous_snapshot_saying_so(
    tmp_path: Path, settings_factory: Callable[..., Settings], damage: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = settings_factory(tmp_path / "data")
    folders, _ = chain(settings)
    chunk = only_in(folders[-1], folders[-2])
    if damage == "torn":
        chunk.write_bytes(chunk.read_bytes()[: chunk.stat().st_size // 2])
    else:
        chunk.unlink()
    with caplog.at_level(logging.WARNING):
        engine = reopened(settings)
    try:
        lines = [r.getMessage() for r in caplog.records if "is damaged" in r.getMessage()]
        assert len(lines) == 1 and str(chunk) in lines[0]
        assert engine.snapshotter.written_offset == int(folders[-2].name.split("-")[1])
        assert replay_differences(settings, engine) == []
    finally:
        stopped(engine)


def test_with_every_snapshot_damaged_the_log_is_replayed_saying_so(
    tmp_path: Path, settings_factory: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = settings_factory(tmp_path / "data")
    chain(settings)
    for chunk in (settings.snapshot_dir / "chunks").iterdir():
        chunk.write_bytes(b"\0" * chunk.stat().st_size)  # the size is right, the bytes not
    with caplog.at_level(logging.WARNING):
        engine = reopened(settings)
    try:
        lines = [r.getMessage() for r in caplog.records if "is damaged" in r.getMessage()]
        assert len(lines) == len(list(settings.snapshot_dir.glob("snapshot-*")))
        assert all("a replay of the log" in line for line in lines)
        assert engine.snapshotter.written_offset == 0
        assert engine.state.offset == engine.log.last_offset()
        assert replay_differences(settings, engine) == []
        assert np.all(engine.state.histories.state()["users"] >= 0)
    finally:
        stopped(engine)


def test_a_close_writes_no_snapshot_when_the_newest_holds_the_state_and_one_when_not(
    tmp_path: Path, settings_factory: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = settings_factory(tmp_path / "data")
    chain(settings)
    engine = reopened(settings)  # replays the tail the chain's last snapshot did not see
    engine.close()  # so it writes one at the log's end
    newest = engine.snapshots.folders()[-1]
    assert int(newest.name.split("-")[1]) == engine.log.last_offset()

    with caplog.at_level(logging.INFO):
        engine = reopened(settings)  # restores that one, nothing to replay
        engine.close()
    assert engine.snapshots.folders()[-1] == newest  # the same state: not written again
    assert any("no snapshot at close" in r.getMessage() for r in caplog.records)
    engine = reopened(settings)
    try:
        assert replay_differences(settings, engine) == []
    finally:
        stopped(engine)

    engine = reopened(settings)
    engine.log.append(events(600, 1))
    engine.learner.catch_up()
    engine.close()  # one event more than the newest holds
    assert engine.snapshots.folders()[-1] != newest
    assert int(engine.snapshots.folders()[-1].name.split("-")[1]) == engine.log.last_offset()


def test_a_close_writes_a_snapshot_when_the_newest_is_damaged_or_made_with_older_settings(
    tmp_path: Path, settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(tmp_path / "data")
    chain(settings)
    reopened(settings).close()  # the newest at the log's end
    snapshots = settings.snapshot_dir
    newest = sorted(snapshots.glob("snapshot-*"))[-1]
    # the newest's own chunk torn: the restart falls back a snapshot, and its close must
    # write the state at the log's end again, not count on the damaged one
    older = sorted(snapshots.glob("snapshot-*"))[-2]
    chunk = only_in(newest, older)
    chunk.write_bytes(chunk.read_bytes()[: chunk.stat().st_size // 2])
    engine = reopened(settings)
    assert engine.snapshotter.written_offset < engine.state.offset
    engine.close()
    engine = reopened(settings)
    try:
        assert engine.snapshotter.written_offset == engine.state.offset  # restored whole
        assert engine.replayed_events == 0
    finally:
        stopped(engine)

    # the newest made with settings of an earlier version that still fit it (restored, not
    # replayed): a close writes the state again under today's
    meta_file = sorted(snapshots.glob("snapshot-*"))[-1] / "meta.json"
    meta = json.loads(meta_file.read_text())
    earlier = sorted(settings.earlier_model_fingerprints())[0]
    meta_file.write_text(json.dumps({**meta, "fingerprint": earlier}))
    engine = reopened(settings)
    assert engine.replayed_events == 0 and engine.snapshotter.written_offset == meta["offset"]
    engine.close()
    newest_meta = json.loads((sorted(snapshots.glob("snapshot-*"))[-1] / "meta.json")
                             .read_text())
    assert newest_meta["offset"] == meta["offset"]
    assert newest_meta["fingerprint"] == engine.snapshotter.fingerprint != earlier


def test_a_close_writes_every_part_whole_so_a_clean_restart_gives_no_change_again(
    tmp_path: Path, settings_factory: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A close's snapshot has no change for a restart to give again (models/change_log.py),
    even where the newest periodic one holds this very state by its changes; a close right
    after a start from a whole one writes nothing, and the restart equals a replay."""
    monkeypatch.setattr(change_log, "SHARE", 1e9)  # every periodic one after the first
    settings = settings_factory(tmp_path / "data")
    engine = Engine.open(settings, start_learner=False)
    engine.log.append(events(0, 150))
    engine.learner.catch_up()
    engine.snapshot()
    engine.log.append(events(150, 30))
    engine.learner.catch_up()
    periodic = engine.snapshot()
    assert change_log.gives_changes_again(read_snapshot(periodic).components)
    assert not engine.snapshotter.written_whole
    engine.close()
    closed = SnapshotStore(settings.snapshot_dir).folders()[-1]
    assert closed.name == periodic.name  # the same offset: the close's replaced it
    assert not change_log.gives_changes_again(read_snapshot(closed).components)
    engine = reopened(settings)
    whole, differences = engine.snapshotter.written_whole, replay_differences(settings, engine)
    writes = engine.snapshotter.writes
    engine.close()
    assert whole and differences == []
    assert engine.snapshotter.writes == writes  # the newest holds this state, whole
