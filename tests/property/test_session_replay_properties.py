"""Replaying a log with anonymous sessions and merges rebuilds identical state, however the
replay is batched and whether or not it starts from a snapshot; merged sessions are served
their user's list; and negative events never make a score non-finite."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from hypothesis import given, note, settings
from hypothesis import strategies as st

from streamrec.engine.identities import merge_event
from streamrec.engine.recommender import Recommender
from streamrec.engine.replay import assert_same_state
from streamrec.engine.state import EngineState
from streamrec.events.types import default_event_types
from streamrec.settings import Settings
from streamrec.trust.pseudonyms import session_key_function
from streamrec.types import Event, LoggedEvent

T0 = 1_700_000_000.0
SESSION_KEY = session_key_function(None)
USERS = [f"u{n}" for n in range(3)]
SESSIONS = [SESSION_KEY(f"s{n}") for n in range(3)]
ITEMS = [f"i{n}" for n in range(8)]
TYPES = sorted(default_event_types())
TIMES = st.integers(0, 86_400).map(lambda s: T0 + s)


def build(subject: str, item: str, type_: str, time: float) -> Event:
    return Event(subject, item, type_, time, 3.0 if type_ == "rating" else None)


engagement = st.builds(build, st.sampled_from(USERS + SESSIONS), st.sampled_from(ITEMS),
                       st.sampled_from(TYPES), TIMES)
# any merge, a second one of a session included: the engine refuses those, replay ignores them
merge = st.builds(merge_event, st.sampled_from(SESSIONS), st.sampled_from(USERS), TIMES)
histories = st.lists(st.one_of(engagement, engagement, engagement, merge), min_size=1,
                     max_size=50)


def fresh_state() -> EngineState:
    return EngineState(Settings(data_dir=Path("unused")))


def logged(history: Sequence[Event]) -> list[LoggedEvent]:
    return [LoggedEvent(offset, event) for offset, event in enumerate(history, start=1)]


def answers(state: EngineState) -> list[tuple[list[str], list[float], list[list[str]]]]:
    recommender = Recommender(state)
    found = []
    for key in [*USERS, *SESSIONS, "stranger"]:
        answer = recommender.for_user(state.identities.resolve(key), 5, now=T0 + 86_400)
        assert all(math.isfinite(s) and s >= 0 for s in answer.scores), answer.scores
        found.append((answer.item_ids, answer.scores, answer.reasons))
    return found


@settings(max_examples=60)
@given(history=histories, sizes=st.lists(st.integers(1, 5), max_size=15))
def test_replaying_sessions_and_merges_in_one_batch_or_many_rebuilds_identical_state(
    history: list[Event], sizes: list[int]
) -> None:
    note(f"history={history!r}\nsizes={sizes!r}")
    entries = logged(history)
    whole, chunked = fresh_state(), fresh_state()
    whole.apply(entries)
    start = 0
    for size in sizes:
        chunked.apply(entries[start : start + size])
        start += size
    chunked.apply(entries[start:])
    assert_same_state(whole, chunked, rtol=1e-12, atol=0.0)
    assert answers(whole) == answers(chunked)


@settings(max_examples=60)
@given(history=histories, cut=st.integers(0, 50))
def test_a_snapshot_plus_the_rest_of_the_log_rebuilds_identical_state_with_sessions(
    history: list[Event], cut: int
) -> None:
    note(f"history={history!r}\ncut={cut}")
    entries = logged(history)
    whole, before_snapshot, restored = fresh_state(), fresh_state(), fresh_state()
    whole.apply(entries)
    before_snapshot.apply(entries[:cut])
    restored.restore(before_snapshot.offset, before_snapshot.state())
    restored.apply(entries)
    assert_same_state(whole, restored, rtol=1e-12, atol=0.0)
    assert answers(whole) == answers(restored)


@settings(max_examples=40)
@given(history=histories)
def test_a_merged_session_holds_no_history_of_its_own_and_the_first_merge_wins(
    history: list[Event],
) -> None:
    state = fresh_state()
    state.apply(logged(history))
    first: dict[str, str] = {}
    for event in history:
        if event.type == "$merge":
            first.setdefault(event.user_id, event.item_id)
    for session in SESSIONS:
        assert state.identities.owner(session) == first.get(session)
        index = state.users.lookup(session)
        if session in first and index is not None:
            assert state.histories.event_count(index) == 0
