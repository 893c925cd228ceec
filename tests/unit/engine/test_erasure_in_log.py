"""An erasure is logged and applied by the learner; what other users were shown survives it
when the item indices stay as they were, and is forgotten when they change."""

from __future__ import annotations

from collections.abc import Callable

from streamrec.engine.engine import Engine
from streamrec.engine.erasures import ERASE_TYPE
from streamrec.engine.state import SHOWN_KEY
from streamrec.settings import Settings
from streamrec.types import Event

EventFactory = Callable[..., Event]


def feedback(engine: Engine, make_event: EventFactory, user: str, shown: str, item: str
             ) -> Event:
    """The logged form of a click on ``item`` in the list ``shown``."""
    engine.ingest([make_event(user, item, "click", context={"recommendation_id": shown})])
    return engine.log.read(engine.log.last_offset() - 1, 1)[0].event


def test_an_erasure_keeps_other_users_lists_when_no_item_index_changes(
    engine_settings: Settings, make_event: EventFactory,
) -> None:
    engine = Engine.open(engine_settings)
    try:
        engine.ingest([make_event("bob", "a"), make_event("carol", "b"),
                       make_event("carol", "c"), make_event("alice", "a"),
                       make_event("alice", "b")])
        shown = engine.recommend("bob", 5)
        assert shown.item_ids
        assert engine.erase_user("alice") == 2
        assert [e.event.type for e in engine.log.read(0, 100)][-1] == ERASE_TYPE
        logged = feedback(engine, make_event, "bob", shown.recommendation_id, shown.item_ids[0])
        assert (logged.context or {}).get(SHOWN_KEY) == shown.item_ids
    finally:
        engine.close()


def test_an_erasure_that_moves_item_indices_forgets_the_lists_shown(
    engine_settings: Settings, make_event: EventFactory,
) -> None:
    engine = Engine.open(engine_settings)
    try:
        engine.ingest([make_event("alice", "only-alice"), make_event("bob", "a"),
                       make_event("carol", "a"), make_event("carol", "b")])
        shown = engine.recommend("bob", 5)
        assert "b" in shown.item_ids
        engine.erase_user("alice")  # "only-alice" was index 0: every other index moves
        logged = feedback(engine, make_event, "bob", shown.recommendation_id, "b")
        assert SHOWN_KEY not in (logged.context or {})  # never another list than was shown
    finally:
        engine.close()
