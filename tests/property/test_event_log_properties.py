"""Invariants of the event log and of replaying it, checked on generated histories.

- offsets strictly increase, across calls and back ends;
- a repeated ``event_id`` is stored once;
- replaying the log rebuilds identical engine state, however the replay is batched and
  whether or not it starts from a snapshot;
- the SQLite log, driven through appends, erasures, clean reopens and crashes (its files
  copied as they are on disk, then opened elsewhere), holds exactly what it acknowledged.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import example, given, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from streamrec.engine.recommender import Recommender
from streamrec.engine.replay import assert_same_state
from streamrec.engine.state import EngineState
from streamrec.events.types import default_event_types
from streamrec.settings import Settings
from streamrec.storage.base import EventLog, open_log
from streamrec.storage.sqlite_log import SQLiteEventLog
from streamrec.types import Event, LoggedEvent

T0 = 1_700_000_000.0
USERS = [f"u{n}" for n in range(6)]
ITEMS = [f"i{n}" for n in range(10)]
TYPES = sorted(default_event_types())


WITHIN_A_DAY = st.integers(0, 86_400).map(lambda s: T0 + s)  # whole seconds, in any order
A_FEW_IDS = st.none() | st.sampled_from("abcdefgh")  # so that some repeat


def events(
    timestamps: st.SearchStrategy[float] = WITHIN_A_DAY,
    event_ids: st.SearchStrategy[str | None] = A_FEW_IDS,
) -> st.SearchStrategy[Event]:
    """Valid events over a few users and items, so that users and items repeat."""

    def build(user: str, item: str, type_: str, value: float, time: float,
              event_id: str | None) -> Event:
        # only ratings need a value; others sometimes carry one, which must not matter
        keeps_value = type_ == "rating" or value > 3
        return Event(user, item, type_, time, value if keeps_value else None, event_id)

    return st.builds(build, st.sampled_from(USERS), st.sampled_from(ITEMS),
                     st.sampled_from(TYPES), st.integers(1, 5).map(float), timestamps, event_ids)


def expected_stored(batch: Sequence[Event], ids: set[str]) -> list[Event]:
    """What an append must store: events without an id, and the first of each new id."""
    stored = []
    for event in batch:
        if event.event_id is None or event.event_id not in ids:
            if event.event_id is not None:
                ids.add(event.event_id)
            stored.append(event)
    return stored


@contextmanager
def opened(url_for: str) -> Iterator[EventLog]:
    directory = tempfile.mkdtemp(prefix="streamrec-property-")
    log = open_log("memory:" if url_for == "memory" else f"sqlite:///{directory}/events.db")
    try:
        yield log
    finally:
        log.close()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.parametrize("back_end", ["sqlite", "memory"])
@settings(max_examples=40)
@given(batches=st.lists(st.lists(events(), max_size=6), max_size=6))
def test_offsets_strictly_increase_and_a_repeated_event_id_is_stored_once(
    back_end: str, batches: list[list[Event]]
) -> None:
    with opened(back_end) as log:
        ids: set[str] = set()
        acknowledged: list[int] = []
        stored: list[Event] = []
        for batch in batches:
            expected = expected_stored(batch, ids)
            appended = log.append(batch)
            assert appended.accepted == len(expected)
            assert appended.duplicates == len(batch) - len(expected)
            acknowledged.extend(appended.offsets)
            stored.extend(expected)
            assert all(a < b for a, b in pairwise(acknowledged))
            assert appended.last_offset == log.last_offset() == (acknowledged or [0])[-1]
        logged = log.read(0, 10_000)
        assert [e.offset for e in logged] == acknowledged
        assert [e.event for e in logged] == stored
        kept_ids = [e.event.event_id for e in logged if e.event.event_id is not None]
        assert len(kept_ids) == len(set(kept_ids))


# -- replay ----------------------------------------------------------------------------------


def fresh_state() -> EngineState:
    return EngineState(Settings(data_dir=Path("unused")))


def logged(history: Sequence[Event]) -> list[LoggedEvent]:
    return [LoggedEvent(offset, event) for offset, event in enumerate(history, start=1)]


def apply_in_chunks(state: EngineState, entries: Sequence[LoggedEvent],
                    sizes: Sequence[int]) -> None:
    start = 0
    for size in sizes:
        state.apply(entries[start : start + size])
        start += size
    state.apply(entries[start:])


def recommendations(state: EngineState) -> list[tuple[list[str], list[float], list[list[str]]]]:
    recommender = Recommender(state)
    answers = []
    for user_id in [*USERS, "stranger"]:
        found = recommender.for_user(user_id, 5, now=T0)
        answers.append((found.item_ids, found.scores, found.reasons))
    return answers


def assert_replays_identically(history: list[Event], sizes: list[int]) -> None:
    note(f"history={history!r}\nsizes={sizes!r}")  # the installed hypothesis prints neither
    entries = logged(history)
    whole, chunked = fresh_state(), fresh_state()
    whole.apply(entries)
    apply_in_chunks(chunked, entries, sizes)
    assert_same_state(whole, chunked, rtol=1e-12, atol=0.0)
    assert recommendations(whole) == recommendations(chunked)


chunk_sizes = st.lists(st.integers(1, 4), max_size=20)


@settings(max_examples=60)
@given(history=st.lists(events(event_ids=st.none()), min_size=1, max_size=60), sizes=chunk_sizes)
# found by a longer run: both directions of a co-occurring pair summed in batch-dependent order
@example(history=[Event("u0", "i0", "view", T0), Event("u0", "i1", "view", T0),
                  Event("u0", "i1", "view", T0 + 2), Event("u0", "i0", "view", T0 + 100)],
         sizes=[3])
# the ranker is taught each event against the user's history as of the start of its batch
@example(history=[Event(f"u{n // 2}", f"i{n % 2}", "view", T0 + n) for n in range(6)],
         sizes=[1, 1, 1, 1, 1])
def test_replaying_in_order_events_in_one_batch_or_many_rebuilds_identical_state(
    history: list[Event], sizes: list[int]
) -> None:
    history.sort(key=lambda event: event.timestamp)
    assert_replays_identically(history, sizes)


@settings(max_examples=60)
@given(history=st.lists(events(event_ids=st.none()), min_size=1, max_size=60), sizes=chunk_sizes)
@example(history=[Event("u0", "i0", "view", T0 + 100), Event("u1", "i1", "view", T0)], sizes=[1])
def test_replaying_late_events_in_one_batch_or_many_rebuilds_identical_state(
    history: list[Event], sizes: list[int]
) -> None:
    # timestamps come from clients: a log's events are not in time order
    assert_replays_identically(history, sizes)


@settings(max_examples=60)
@given(history=st.lists(events(event_ids=st.none()), min_size=1, max_size=60),
       cut=st.integers(0, 60))
def test_a_snapshot_plus_the_rest_of_the_log_rebuilds_identical_state(
    history: list[Event], cut: int
) -> None:
    history.sort(key=lambda event: event.timestamp)
    note(f"history={history!r}\ncut={cut}")
    entries = logged(history)
    whole, before_snapshot, restored = fresh_state(), fresh_state(), fresh_state()
    whole.apply(entries)
    before_snapshot.apply(entries[:cut])
    restored.restore(before_snapshot.offset, before_snapshot.state())
    restored.apply(entries)  # what is at or below the snapshot's offset is skipped
    assert_same_state(whole, restored, rtol=1e-12, atol=0.0)
    assert recommendations(whole) == recommendations(restored)


# -- the SQLite log through appends, erasures, reopens and crashes ---------------------------


class SQLiteLogMachine(RuleBasedStateMachine):
    """The model: every acknowledged, not erased event, in offset order."""

    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="streamrec-machine-"))
        self.generation = 0
        self.log = SQLiteEventLog(self._path())
        self.stored: list[LoggedEvent] = []
        self.ids: set[str] = set()
        self.highest = 0  # every offset ever acknowledged is at most this

    def _path(self) -> Path:
        return self.root / f"run-{self.generation}" / "events.db"

    @rule(batch=st.lists(events(), max_size=5))
    def append(self, batch: list[Event]) -> None:
        expected = expected_stored(batch, self.ids)
        appended = self.log.append(batch)
        assert appended.accepted == len(expected)
        assert appended.duplicates == len(batch) - len(expected)
        assert all(a < b for a, b in pairwise([self.highest, *appended.offsets]))
        if appended.offsets:
            self.highest = appended.offsets[-1]
        self.stored.extend(LoggedEvent(o, e) for o, e in zip(appended.offsets, expected,
                                                             strict=True))

    @rule(user_id=st.sampled_from(USERS))
    def delete_user(self, user_id: str) -> None:
        gone = [e for e in self.stored if e.event.user_id == user_id]
        assert self.log.delete_user(user_id) == len(gone)
        self.stored = [e for e in self.stored if e.event.user_id != user_id]
        self.ids -= {e.event.event_id for e in gone if e.event.event_id is not None}

    @rule()
    def close_and_reopen(self) -> None:
        self.log.close()
        self.log = SQLiteEventLog(self._path())

    @precondition(lambda self: self.generation < 20)
    @rule()
    def crash(self) -> None:
        """Open the files as a crash would leave them: database and WAL as on disk right now
        (no checkpoint, no clean close), in a new place, without the shared-memory index."""
        old = self._path()
        self.generation += 1
        new = self._path()
        new.parent.mkdir()
        for suffix in ("", "-wal"):
            source = old.with_name(old.name + suffix)
            if source.exists():
                shutil.copyfile(source, new.with_name(new.name + suffix))
        self.log.close()
        self.log = SQLiteEventLog(new)

    @invariant()
    def holds_exactly_what_was_acknowledged(self) -> None:
        assert self.log.read(0, 100_000) == self.stored
        assert self.log.count() == len(self.stored)
        assert self.log.last_offset() <= self.highest

    def teardown(self) -> None:
        self.log.close()
        shutil.rmtree(self.root, ignore_errors=True)


TestSQLiteLogMachine = SQLiteLogMachine.TestCase
TestSQLiteLogMachine.settings = settings(max_examples=25, stateful_step_count=12)
