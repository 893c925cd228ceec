"""Anonymous sessions through the engine, on a real SQLite data dir: recommendations from a
session's first event, the merge into a user, replay, erasure and pseudonyms.

The world: groups a1-a4 and b1-b4 engaged with together, and a hit (``pop``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from streamrec.engine.engine import Engine
from streamrec.engine.identities import MERGE_TYPE
from streamrec.errors import Conflict, InvalidInput
from streamrec.events.types import EventTypeConfig
from streamrec.settings import EventSettings, Settings
from streamrec.types import Event

EventFactory = Callable[..., Event]
COLD = "popular now (no history for this user yet)"


@pytest.fixture
def open_engine() -> Iterator[Callable[[Settings], Engine]]:
    opened: list[Engine] = []

    def open_(settings: Settings) -> Engine:
        opened.append(Engine.open(settings))
        return opened[-1]

    yield open_
    for engine in opened:
        engine.close()


@pytest.fixture
def engine(open_engine: Callable[[Settings], Engine], engine_settings: Settings,
           make_event: EventFactory) -> Engine:
    engine = open_engine(engine_settings)
    events = [make_event(f"u{group}{n}", f"{group}{item}")
              for group in "ab" for n in range(4) for item in range(1, 5)]
    events += [make_event(f"fan{n}", "pop") for n in range(8)]
    engine.ingest(events)
    return engine


def session_event(make_event: EventFactory, session_id: str, item_id: str,
                  type: str = "view") -> Event:
    return make_event("", item_id, type, session_id=session_id)


def for_session(engine: Engine, session_id: str, k: int = 6) -> list[str]:
    return engine.recommend_session(session_id, k).item_ids


def for_user(engine: Engine, user_id: str, k: int = 6) -> list[str]:
    return engine.recommend(user_id, k).item_ids


def test_a_session_gets_recommendations_from_its_first_event(
    engine: Engine, make_event: EventFactory
) -> None:
    found = engine.recommend_session("visit-1", 6)
    assert found.item_ids[0] == "pop" and found.reasons[0] == [COLD]
    engine.ingest([session_event(make_event, "visit-1", "a1")])
    found = engine.recommend_session("visit-1", 6)
    assert set(found.item_ids[:3]) == {"a2", "a3", "a4"}
    assert found.reasons[0] == ["similar to a1, which you engaged with"]
    assert "a1" not in found.item_ids


def test_a_session_and_a_user_of_the_same_id_are_different_people(
    engine: Engine, make_event: EventFactory
) -> None:
    engine.ingest([session_event(make_event, "same", "a1"), make_event("same", "b1")])
    assert set(for_session(engine, "same")[:3]) == {"a2", "a3", "a4"}
    assert set(for_user(engine, "same")[:3]) == {"b2", "b3", "b4"}


def test_after_the_merge_the_user_draws_on_the_session_and_leaves_out_what_it_saw(
    engine: Engine, make_event: EventFactory
) -> None:
    engine.ingest([make_event("alice", "b1"), session_event(make_event, "visit-2", "a1"),
                   session_event(make_event, "visit-2", "a2")])
    assert not {"a1", "a2"} & set(for_session(engine, "visit-2"))
    assert "a1" in for_user(engine, "alice", k=20)  # not hers yet
    assert engine.merge_session("visit-2", "alice") is True
    found = engine.recommend("alice", 20)
    shown = found.item_ids
    assert not {"a1", "a2", "b1"} & set(shown)
    assert set(shown[:2]) == {"a3", "a4"}  # the session's items are the newest intent
    assert found.reasons[0] == ["similar to a2, which you engaged with"]
    # the session now is alice: the same list, and its new events are hers
    assert for_session(engine, "visit-2", k=20) == shown
    engine.ingest([session_event(make_event, "visit-2", "a3")])
    assert "a3" not in for_user(engine, "alice", k=20)
    history = [h.item_id for h in engine.export_user("alice").history]
    assert history == ["b1", "a1", "a2", "a3"]


def test_a_merge_is_idempotent_and_a_session_belongs_to_one_user(
    engine: Engine, make_event: EventFactory
) -> None:
    engine.ingest([session_event(make_event, "visit-3", "a1")])
    assert engine.merge_session("visit-3", "alice") is True
    events = engine.log.count()
    assert engine.merge_session("visit-3", "alice") is False
    with pytest.raises(Conflict) as refused:
        engine.merge_session("visit-3", "bob")
    assert refused.value.field == "session_id"
    assert engine.log.count() == events  # neither logged anything


def test_a_session_merged_before_its_first_event_sends_its_events_to_the_user(
    engine: Engine, make_event: EventFactory
) -> None:
    assert engine.merge_session("early", "carol") is True
    engine.ingest([session_event(make_event, "early", "b1")])
    assert set(for_user(engine, "carol")[:3]) == {"b2", "b3", "b4"}


@pytest.mark.parametrize(("session_id", "user_id", "field"), [
    ("", "alice", "session_id"), ("a\x01b", "alice", "session_id"),
    ("visit", " ", "user_id"), ("visit", "x" * 257, "user_id"),
])
def test_a_merge_with_a_bad_id_is_refused_naming_it_and_logs_nothing(
    engine: Engine, session_id: str, user_id: str, field: str
) -> None:
    events = engine.log.count()
    with pytest.raises(InvalidInput) as refused:
        engine.merge_session(session_id, user_id)
    assert refused.value.field == field
    assert engine.log.count() == events


@pytest.mark.parametrize(("changes", "field"), [
    ({"user_id": ""}, "events[1].user_id"),
    ({"session_id": "visit"}, "events[1].session_id"),  # and user_id too
    ({"user_id": "", "session_id": ""}, "events[1].session_id"),
    ({"user_id": "", "session_id": "a\nb"}, "events[1].session_id"),
])
def test_an_event_needs_exactly_one_of_user_id_and_session_id(
    engine: Engine, make_event: EventFactory, changes: dict[str, str], field: str
) -> None:
    events = engine.log.count()
    fields = {"user_id": "dora", **changes}
    bad = make_event(fields.pop("user_id"), "a1", **fields)
    with pytest.raises(InvalidInput) as refused:
        engine.ingest([make_event("dora", "a2"), bad])
    assert refused.value.field == field
    assert engine.log.count() == events


def answers(engine: Engine) -> list[tuple[list[str], list[float], list[list[str]]]]:
    found = [engine.recommend("alice", 8), engine.recommend_session("visit-4", 8),
             engine.recommend_session("visit-5", 8)]
    return [(f.item_ids, f.scores, f.reasons) for f in found]


def test_snapshot_plus_replay_and_a_fresh_replay_rebuild_the_same_merged_state(
    open_engine: Callable[[Settings], Engine], engine: Engine, engine_settings: Settings,
    make_event: EventFactory,
) -> None:
    engine.ingest([make_event("alice", "b1"), session_event(make_event, "visit-4", "a1")])
    engine.snapshot()  # the snapshot holds the session unmerged
    engine.merge_session("visit-4", "alice")
    engine.ingest([session_event(make_event, "visit-4", "a2"),
                   session_event(make_event, "visit-5", "b2")])
    expected = answers(engine)
    engine.close()
    restored = open_engine(engine_settings)  # the snapshot, then the merge replayed
    assert answers(restored) == expected
    restored.close()
    shutil.rmtree(engine_settings.snapshot_dir)
    assert answers(open_engine(engine_settings)) == expected  # the log alone


def test_erasing_the_user_erases_the_sessions_merged_into_them(
    engine: Engine, make_event: EventFactory
) -> None:
    engine.ingest([make_event("erin", "b1"), session_event(make_event, "visit-6", "a1"),
                   session_event(make_event, "visit-6", "a2"),
                   session_event(make_event, "visit-7", "a3")])
    engine.merge_session("visit-6", "erin")
    engine.ingest([session_event(make_event, "visit-6", "a4")])
    events = engine.log.count()
    # erin's event, the session's three and the merge; the other session is not hers
    assert engine.erase_user("erin") == 5
    assert engine.log.count() == events - 5 + 1  # and the erasure, logged
    assert engine.export_session("visit-6").events == []
    assert engine.export_user("erin").events == []
    assert for_user(engine, "erin")[0] == "pop"
    assert [e.item_id for e in engine.export_session("visit-7").events] == ["a3"]


def test_erasing_a_merged_session_takes_its_events_out_of_the_users_state(
    engine: Engine, make_event: EventFactory
) -> None:
    engine.ingest([make_event("fay", "b1"), session_event(make_event, "visit-8", "a1")])
    engine.merge_session("visit-8", "fay")
    exported = engine.export_user("fay")
    assert [e.type for e in exported.events] == ["view", "view", MERGE_TYPE]
    assert engine.erase_session("visit-8") == 2  # its view and the merge
    assert [h.item_id for h in engine.export_user("fay").history] == ["b1"]
    assert "a1" in for_user(engine, "fay", k=20)
    # the session is free again: nothing says whose it is
    assert engine.merge_session("visit-8", "gus") is True


def test_with_a_secret_session_ids_never_reach_storage(
    open_engine: Callable[[Settings], Engine], settings_factory: Callable[..., Settings],
    tmp_path: Path, make_event: EventFactory,
) -> None:
    data_dir = tmp_path / "secret"
    settings = settings_factory(data_dir, trust={"pseudonym_secret": "pepper"})
    engine = open_engine(settings)
    engine.ingest([session_event(make_event, "raw-session-31337", "a1"),
                   make_event("raw-user-4242", "a2")])
    engine.merge_session("raw-session-31337", "raw-user-4242")
    engine.snapshot()
    assert engine.session_key("x") != engine.user_key("x")
    stored = b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())
    assert b"raw-session-31337" not in stored and b"raw-user-4242" not in stored
    assert "a1" not in for_user(engine, "raw-user-4242", k=20)


def test_event_types_may_not_take_the_engines_own_names() -> None:
    with pytest.raises(ValueError, match="engine's own"):
        EventSettings(types={MERGE_TYPE: EventTypeConfig(weight=1.0)})
