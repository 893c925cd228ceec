"""Erasure and export through the engine, in one process, on a real SQLite data dir."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import SecretStr

from streamrec.engine.engine import Engine
from streamrec.engine.replay import rebuild_state
from streamrec.errors import Unavailable
from streamrec.settings import Settings, TrustSettings
from streamrec.trust.pseudonyms import pseudonymise
from streamrec.types import Event

EventFactory = Callable[..., Event]
ALICE = "alice-erasable-7f3a"
BOB = "bob-neighbour-91c2"


def bytes_under(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in directory.rglob("*") if p.is_file())


@pytest.mark.parametrize("secret", [None, "pepper"])
def test_an_erased_user_leaves_no_trace_and_others_keep_working(
    tmp_path: Path, make_event: EventFactory, settings_factory: Callable[..., Settings],
    secret: str | None,
) -> None:
    trust = TrustSettings(pseudonym_secret=SecretStr(secret) if secret else None)
    settings = settings_factory(tmp_path / "data", trust=trust)
    engine = Engine.open(settings)
    try:
        # "only-via-alice" is reachable from "shared" through alice's events alone
        engine.ingest([make_event(ALICE, "shared"), make_event(ALICE, "only-via-alice"),
                       make_event(BOB, "shared"), make_event("carol", "other"),
                       make_event("carol", "other2")])
        assert "only-via-alice" in engine.recommend(BOB, 50).item_ids
        engine.snapshot()
        exported = engine.export_user(ALICE)
        assert [e.item_id for e in exported.events] == ["shared", "only-via-alice"]
        assert [h.item_id for h in exported.history] == ["shared", "only-via-alice"]

        assert engine.erase_user(ALICE) == 2
        assert engine.erase_user(ALICE) == 0
        assert engine.stats()["events"] == 3
        assert "only-via-alice" not in engine.recommend(BOB, 50).item_ids
        assert engine.export_user(ALICE).events == []
        stored = bytes_under(settings.data_dir)
        assert ALICE.encode() not in stored
        if secret:
            assert pseudonymise(secret.encode(), ALICE).encode() not in stored
            assert BOB.encode() not in stored  # raw ids never stored at all
        # learning goes on after the rebuild
        engine.ingest([make_event(BOB, "new-item")])
        assert engine.export_user(BOB).history[-1].item_id == "new-item"
    finally:
        engine.close()
    assert ALICE.encode() not in bytes_under(settings.data_dir)


ALICE_ITEM = "alice-only-item-5e2a"
ALICE_CONTEXT = "alice-ctx-value-c41d"
ALICE_EVENT_ID = "alice-evt-9b7e"


def traces(value: str) -> list[bytes]:
    """How a string can sit in the data dir's files: UTF-8 (SQLite, JSON) or UCS-4 (numpy
    string arrays in snapshots)."""
    return [value.encode("utf-8"), value.encode("utf-32-le")]


def readable(value: str, directory: Path) -> list[str]:
    """The files under ``directory`` holding ``value`` in any of its encodings."""
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()
                  and any(trace in p.read_bytes() for trace in traces(value)))


def assert_replay_equals_live(engine: Engine) -> None:
    fresh = rebuild_state(engine.settings, engine.log)
    live, replayed = engine.state.state(), fresh.state()
    assert live.keys() == replayed.keys()
    for component, arrays in replayed.items():
        for name, array in arrays.items():
            assert np.array_equal(live[component][name], array,
                                  equal_nan=array.dtype.kind == "f"), f"{component}/{name}"
    assert (engine.state.offset, engine.state.learned_events) == \
        (fresh.offset, fresh.learned_events)


@pytest.mark.parametrize("secret", [None, "pepper"])
def test_after_erasure_nothing_of_the_users_behaviour_is_readable_in_the_data_dir(
    tmp_path: Path, make_event: EventFactory, settings_factory: Callable[..., Settings],
    secret: str | None,
) -> None:
    trust = TrustSettings(pseudonym_secret=SecretStr(secret) if secret else None)
    settings = settings_factory(tmp_path / "data", trust=trust)
    engine = Engine.open(settings)
    try:
        engine.ingest([make_event(ALICE, ALICE_ITEM, event_id=ALICE_EVENT_ID,
                                  context={"campaign": ALICE_CONTEXT}),
                       make_event(ALICE, "shared"), make_event(BOB, "shared"),
                       make_event(BOB, "bob-item")])
        engine.snapshot()
        # the test can fail: her item is in the snapshot (the state's vocabulary), as is she
        assert readable(ALICE_ITEM, settings.data_dir) != []
        assert engine.erase_user(ALICE) == 2
        for value in (ALICE_ITEM, ALICE_CONTEXT, ALICE_EVENT_ID, ALICE):
            assert readable(value, settings.data_dir) == [], value
        assert_replay_equals_live(engine)
        assert ALICE_ITEM not in engine.state.items
        engine.ingest([make_event(BOB, "after")])
        assert_replay_equals_live(engine)
    finally:
        engine.close()
    for value in (ALICE_ITEM, ALICE_CONTEXT, ALICE_EVENT_ID, ALICE):
        assert readable(value, settings.data_dir) == [], value


def test_a_copy_of_the_log_from_before_an_erasure_is_replayed_without_the_user(
    tmp_path: Path, make_event: EventFactory, settings_factory: Callable[..., Settings],
) -> None:
    """A log that keeps the erased entries (a restored backup here; a Kafka topic always)
    reads the same as one that deleted them: their key is gone, so every reader skips them."""
    settings = settings_factory(tmp_path / "data")
    engine = Engine.open(settings)
    try:
        engine.ingest([make_event(ALICE, ALICE_ITEM, context={"campaign": ALICE_CONTEXT}),
                       make_event(BOB, "shared"), make_event(ALICE, "shared")])
    finally:
        engine.close()
    log_file = settings.data_dir / "events.db"
    before = log_file.read_bytes()
    engine = Engine.open(settings)
    try:
        engine.erase_user(ALICE)
        engine.ingest([make_event(BOB, "later")])
        live = engine.state.state()
    finally:
        engine.close()
    after = log_file.read_bytes()
    # the rows the erasure deleted come back, sealed under the destroyed key
    (tmp_path / "old.db").write_bytes(before)
    restored = sqlite3.connect(log_file)
    restored.execute("ATTACH ? AS old", (str(tmp_path / "old.db"),))
    restored.execute("INSERT INTO main.events SELECT * FROM old.events WHERE log_offset NOT IN"
                     " (SELECT log_offset FROM main.events)")
    restored.commit()
    restored.close()
    assert log_file.read_bytes() != after
    assert ALICE.encode() in b"".join(p.read_bytes() for p in settings.data_dir.glob("events*"))
    shutil.rmtree(settings.snapshot_dir)  # a full replay of the log as it now is
    engine = Engine.open(settings)
    try:
        assert_replay_equals_live(engine)
        found = engine.state.state()
        for component, arrays in live.items():
            for name, array in arrays.items():
                assert np.array_equal(found[component][name], array,
                                      equal_nan=array.dtype.kind == "f"), f"{component}/{name}"
        assert engine.export_user(ALICE).events == []
    finally:
        engine.close()


def test_an_erasure_that_cannot_delete_a_snapshot_stops_before_destroying_anything(
    tmp_path: Path, make_event: EventFactory, settings_factory: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A snapshot holds the user's history: if one cannot be deleted (a read-only dir), the
    erasure is refused with a 503 naming the snapshots, and the user's events stay whole for
    a retry; what another process deleted meanwhile is no error."""
    engine = Engine.open(settings_factory(tmp_path / "data"))
    try:
        engine.ingest([make_event(ALICE, "i1"), make_event(ALICE, "i2"),
                       make_event(BOB, "i1")])
        engine.snapshot()
        real_unlink = os.unlink

        def refused(path: Any, *args: Any, **kwargs: Any) -> None:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))

        monkeypatch.setattr(os, "unlink", refused)
        with pytest.raises(Unavailable, match="snapshots could not be deleted.*read-only"):
            engine.erase_user(ALICE)
        monkeypatch.setattr(os, "unlink", real_unlink)
        assert [e.item_id for e in engine.export_user(ALICE).events] == ["i1", "i2"]
        assert engine.snapshots.offsets()  # still there, whole

        def gone(path: Any, *args: Any, **kwargs: Any) -> None:
            real_unlink(path, *args, **kwargs)
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(path))

        monkeypatch.setattr(os, "unlink", gone)  # as if another replica deleted it first
        engine.snapshots.delete_all()
        monkeypatch.setattr(os, "unlink", real_unlink)
        assert engine.snapshots.offsets() == []
        assert engine.erase_user(ALICE) == 2
    finally:
        engine.close()
