"""An erasure interrupted between destroying the keys and logging it is finished at the next
start: until it is logged, other replicas keep what they learned of the user, and a replay
would disagree with the state that learned them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from streamrec.engine.engine import Engine
from streamrec.engine.erasures import PENDING_FILE, is_erasure
from streamrec.engine.replay import rebuild_state, state_differences
from streamrec.errors import Unavailable
from streamrec.settings import Settings
from streamrec.types import Event

EventFactory = Callable[..., Event]


def test_an_erasure_cut_short_before_it_is_logged_is_finished_at_the_next_start(
        engine_settings: Settings, make_event: EventFactory,
        monkeypatch: pytest.MonkeyPatch) -> None:
    engine = Engine.open(engine_settings)
    engine.ingest([make_event("alice", f"a{n}") for n in range(4)] +
                  [make_event("bob", f"b{n}") for n in range(3)])
    real_append = engine.log.append

    def dies_before_the_erasure_is_logged(events: Sequence[Event]) -> object:
        if any(is_erasure(event) for event in events):
            raise Unavailable("the process died here")
        return real_append(events)

    monkeypatch.setattr(engine.log, "append", dies_before_the_erasure_is_logged)
    with pytest.raises(Unavailable):
        engine.erase_user("alice")
    assert (engine_settings.data_dir / PENDING_FILE).exists()
    # alice's key is gone, yet the state (and a replica's) still holds her, and the log
    # does not say she was erased: the state is not a replay of the log
    assert engine.state.users.lookup("alice") is not None
    assert not any(is_erasure(e.event) for e in engine.log.read(0, 100))
    monkeypatch.undo()
    engine.close()  # as a restart would, it snapshots the state that still holds her

    engine = Engine.open(engine_settings)
    try:
        assert not (engine_settings.data_dir / PENDING_FILE).exists()
        logged = [e.event for e in engine.log.read(0, 100)]
        assert [e.type for e in logged if is_erasure(e)] == ["$erase"]
        assert {e.user_id for e in logged if not is_erasure(e)} == {"bob"}
        assert engine.state.users.lookup("alice") is None
        replayed = rebuild_state(engine_settings, engine.log)
        assert state_differences(engine.state.state(), replayed.state()) == []
        assert engine.erase_user("alice") == 0  # done: nothing is left to erase
        assert not (engine_settings.data_dir / PENDING_FILE).exists()
    finally:
        engine.close()


def test_an_erasure_still_pending_is_finished_with_the_next_one(
        engine_settings: Settings, make_event: EventFactory, tmp_path: Path) -> None:
    """A DELETE retried (or another user's) finishes an earlier one the crash left, too."""
    engine = Engine.open(engine_settings)
    try:
        engine.ingest([make_event("alice", "a1"), make_event("carol", "c1"),
                       make_event("bob", "b1")])
        (engine_settings.data_dir / PENDING_FILE).write_text('["alice"]')
        assert engine.erase_user("carol") == 2
        assert {e.event.user_id for e in engine.log.read(0, 100)} == {"bob", ""}
        assert not (engine_settings.data_dir / PENDING_FILE).exists()
    finally:
        engine.close()


def test_replicas_drop_a_user_once_the_replica_that_died_mid_erasure_restarts(
        kafka_broker: Any, redis_url: str, tmp_path: Path, make_event: EventFactory,
        settings_factory: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch) -> None:
    """Two replicas on one topic: the one taking the erasure dies after destroying the key
    and before the erasure record; the other keeps the user's state until the first starts
    again and finishes the erasure, then holds exactly a replay of the topic."""
    topic = f"erase-{uuid.uuid4().hex[:10]}"

    def replica(name: str) -> Settings:
        return settings_factory(tmp_path / name, storage={"log": f"kafka://{kafka_broker.bootstrap}/"
                                                            f"{topic}"},
                           replicas={"redis_url": f"{redis_url}/0", "redis_prefix": f"{topic}:"},
                           models={"sequence": {"enabled": False}},
                           trust={"pseudonym_secret": "interrupted-erasure-secret"})

    first, second = Engine.open(replica("one")), Engine.open(replica("two"))
    try:
        appended = first.ingest([make_event("alice", f"a{n}") for n in range(3)] +
                                [make_event("bob", f"b{n}") for n in range(2)])
        second.wait_learned(appended.last_offset)
        alice = first.user_key("alice")
        assert second.state.users.lookup(alice) is not None
        real_produce = first.log._produce  # type: ignore[attr-defined]

        def dies_before_the_erasure_record(records: list[tuple[str, bytes]]) -> object:
            if any(value[:1] == b"X" for _, value in records):
                raise Unavailable("the process died here")
            return real_produce(records)

        monkeypatch.setattr(first.log, "_produce", dies_before_the_erasure_record)
        with pytest.raises(Unavailable):
            first.erase_user("alice")
        monkeypatch.undo()
        first.close()
        later = second.ingest([make_event("bob", "b9")])
        assert second.state.users.lookup(alice) is not None  # the other replica keeps her

        first = Engine.open(replica("one"))  # finishes the erasure
        assert not (tmp_path / "one" / PENDING_FILE).exists()
        head = first.log.last_offset()
        assert head > later.last_offset
        second.wait_learned(head)
        assert second.state.users.lookup(alice) is None
        for engine in (first, second):
            replayed = rebuild_state(engine.settings, engine.log, through=head)
            assert state_differences(engine.state.state(), replayed.state()) == []
    finally:
        first.close()
        second.close()
