"""What teaches the ranker (engine/state.py ``_may_teach``): decided on the state before a
batch and the batch's earlier events, so a replay, which reads the log in other batches,
teaches the same lessons at the same events."""

from __future__ import annotations

from streamrec.engine.replay import assert_same_state
from streamrec.engine.state import SHOWN_KEY, EngineState
from streamrec.settings import Settings
from streamrec.types import Event, LoggedEvent

T0 = 1_700_000_000.0


def stream() -> list[Event]:
    """Regulars, then a newcomer whose first event and whose click on a list shown to them
    come together (a batch holds both live; a replay may read them apart)."""
    events = [Event(f"u{n % 7}", f"i{(3 * n) % 11}", "view", T0 + n) for n in range(80)]
    events += [Event("newcomer", "i1", "view", T0 + 100),
               Event("u1", "i9", "view", T0 + 101),
               Event("newcomer", "i2", "click", T0 + 102,
                     context={SHOWN_KEY: ["i2", "i3", "i4"]}),
               Event("u2", "i10", "view", T0 + 103)]
    return events


def learned(events: list[Event], batch: int) -> EngineState:
    state = EngineState(Settings())
    logged = [LoggedEvent(n + 1, event) for n, event in enumerate(events)]
    for start in range(0, len(logged), batch):
        state.apply(logged[start:start + batch])
    return state


def test_feedback_from_a_user_new_in_the_same_batch_teaches_as_in_a_replay() -> None:
    whole = learned(stream(), batch=len(stream()))
    for batch in (1, 3, 81):
        assert_same_state(learned(stream(), batch), whole)


def test_the_state_is_the_same_whatever_the_batches() -> None:
    events = stream() * 3  # again and again: items seen before, lessons thinned out
    events = [Event(e.user_id, e.item_id, e.type, T0 + n, context=e.context)
              for n, e in enumerate(events)]
    whole = learned(events, batch=len(events))
    for batch in (1, 7, 64):
        assert_same_state(learned(events, batch), whole)
