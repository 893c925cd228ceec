"""Reads run side by side: a slow read holds up no other, a write waits for the reads under way
and is in every read after it, and reads during learning never fail nor see a half-learned
batch. No timings: a source that stalls one user's query until told (events), and threads
joined with generous guards that only a hang would reach."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pytest

from streamrec.engine.engine import Engine
from streamrec.engine.recommender import Recommender
from streamrec.engine.rwlock import ReadWriteLock
from streamrec.engine.snapshotter import Snapshotter
from streamrec.engine.state import EngineState
from streamrec.models.base import Model
from streamrec.settings import Settings, SnapshotSettings
from streamrec.sources import SOURCES, Source
from streamrec.storage.snapshots import SnapshotStore
from streamrec.types import (
    Candidates,
    Event,
    EventBatch,
    FloatArray,
    IntArray,
    LoggedEvent,
    Query,
)

T0 = 1_700_000_000.0
GUARD_S = 20.0  # only a read that hangs reaches it


class Stalling:
    """A source with no opinion that stalls the queries of one user until ``release``."""

    name = "stalling"

    def __init__(self) -> None:
        self.user: int | None = None
        self.entered = threading.Event()
        self.release = threading.Event()

    def _stall(self, query: Query) -> None:
        if self.user is not None and query.user == self.user:
            self.entered.set()
            self.release.wait(GUARD_S)

    def dense_scores(self, query: Query, n_items: int) -> FloatArray:
        self._stall(query)
        return np.zeros(n_items)

    def learn(self, batch: EventBatch) -> None:
        pass

    def recommend(self, query: Query, k: int) -> Candidates:
        return Candidates.empty()

    def score(self, query: Query, items: IntArray) -> FloatArray:
        return np.zeros(items.shape[0])

    def state(self) -> dict[str, np.ndarray]:
        return {}

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        pass


def _stalling(settings: object) -> Model:
    return Stalling()


@pytest.fixture
def state() -> Iterator[EngineState]:
    source = Source(name="stalling", build=_stalling, prior={"score": 0.0, "rank": 0.0})
    with SOURCES.added(source):
        state = EngineState(Settings())
        pairs = [(f"u{n}", f"i{(n + i) % 12}") for n in range(6) for i in range(5)]
        state.apply(logged([*pairs, ("slow", "i1"), ("quick", "i2")]))
        yield state


def logged(pairs: list[tuple[str, str]], first: int = 1) -> list[LoggedEvent]:
    return [LoggedEvent(first + n, Event(user, item, "view", T0 + first + n))
            for n, (user, item) in enumerate(pairs)]


def in_thread(work: object) -> tuple[threading.Thread, list[object]]:
    results: list[object] = []
    thread = threading.Thread(target=lambda: results.append(work()),  # type: ignore[operator]
                              daemon=True)
    thread.start()
    return thread, results


def stalled_read(state: EngineState) -> tuple[Stalling, threading.Thread, list[object]]:
    stalling = state.models["stalling"]
    assert isinstance(stalling, Stalling)
    stalling.user = state.users.lookup("slow")
    # k above the catalogue: the list is every item the user has not seen
    slow, result = in_thread(lambda: Recommender(state).for_user("slow", 20, now=T0 + 99))
    assert stalling.entered.wait(GUARD_S), "the slow read never started"
    return stalling, slow, result


def until_a_read_waits(lock: ReadWriteLock) -> None:
    deadline = time.monotonic() + GUARD_S
    while lock._waiting_reads == 0 and time.monotonic() < deadline:
        time.sleep(0.001)


def read_waiting_behind(lock: ReadWriteLock) -> tuple[threading.Event, threading.Thread]:
    """A read in a thread of its own, once it waits behind the write this thread holds; the
    event is set when it is in."""
    entered = threading.Event()

    def read() -> None:
        with lock.reading():
            entered.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    until_a_read_waits(lock)
    return entered, reader


def test_a_slow_read_does_not_hold_up_another(state: EngineState) -> None:
    stalling, slow, _ = stalled_read(state)
    try:
        quick, found = in_thread(lambda: Recommender(state).for_user("quick", 5, now=T0 + 99))
        quick.join(GUARD_S)
        assert not quick.is_alive(), "a read waited for another read"
        similar, alike = in_thread(lambda: Recommender(state).similar("i1", 3))
        similar.join(GUARD_S)
        assert not similar.is_alive() and alike
        assert slow.is_alive()  # the slow one is still in its source
    finally:
        stalling.release.set()
        slow.join(GUARD_S)
    assert found and not slow.is_alive()


def test_a_write_waits_for_the_reads_under_way_and_every_later_read_sees_it(
        state: EngineState) -> None:
    stalling, slow, answer = stalled_read(state)
    done = threading.Event()
    writer, _ = in_thread(lambda: (state.apply(logged([("slow", "i7")], state.offset + 1)),
                                   done.set()))
    try:
        assert not done.wait(0.2), "a write went in under a read in progress"
    finally:
        stalling.release.set()
    slow.join(GUARD_S)
    writer.join(GUARD_S)
    assert done.is_set()
    before = answer[0]
    after = Recommender(state).for_user("slow", 20, now=T0 + 99)
    assert "i7" in before.item_ids  # type: ignore[attr-defined]  (begun before the write)
    assert "i7" not in after.item_ids  # after it: seen, so left out


def test_reads_during_learning_never_fail_and_never_see_a_write_half_done(
        tmp_path: Path) -> None:
    engine = Engine.open(Settings(data_dir=tmp_path / "data"))
    errors: list[BaseException] = []
    reads = [0]
    stop = threading.Event()

    def reader(seed: int) -> None:
        rng = random.Random(seed)
        recommender = Recommender(engine.state)
        while not stop.is_set():
            try:
                with engine.state.lock.reading():
                    offset = engine.state.offset
                    user = f"u{rng.randrange(40)}"
                    choice = rng.randrange(3)
                    if choice == 0:
                        recommender.for_user(user, 10, now=T0)
                    elif choice == 1 and f"i{seed}" in engine.state.items:
                        recommender.similar(f"i{seed}", 5)
                    else:
                        recommender.popular(5, now=T0)
                    assert engine.state.offset == offset, "learned during a read"
                reads[0] += 1
            except BaseException as error:  # noqa: BLE001  (any failure fails the test)
                errors.append(error)
                return

    threads = [threading.Thread(target=reader, args=(seed,), daemon=True) for seed in range(4)]
    try:
        for thread in threads:
            thread.start()
        rng = np.random.default_rng(5)
        for batch in range(40):
            events = [Event(f"u{u}", f"i{i}", "view", T0 + batch)
                      for u, i in zip(rng.integers(0, 40, 25), rng.zipf(1.5, 25) % 60,
                                      strict=True)]
            appended = engine.ingest(events)  # returns once learned: read-your-writes
            with engine.state.lock.reading():
                assert engine.state.offset >= appended.last_offset
    finally:
        stop.set()
        for thread in threads:
            thread.join(GUARD_S)
        engine.close()
    assert not errors, errors[0]
    assert reads[0] > 0


def test_the_lock_lets_readers_share_and_the_writer_in_alone() -> None:
    lock = ReadWriteLock()
    both_in = threading.Barrier(2, timeout=GUARD_S)

    def read() -> None:
        with lock.reading():
            both_in.wait()  # two readers at once, or a broken barrier

    readers = [threading.Thread(target=read) for _ in range(2)]
    for thread in readers:
        thread.start()
    for thread in readers:
        thread.join(GUARD_S)
    assert not both_in.broken
    with lock, lock, lock.reading():  # the writer re-enters, and may read
        pass
    with lock.reading(), lock.reading(), pytest.raises(RuntimeError, match="cannot start"):
        lock.acquire()  # a reader that writes would wait for itself


def test_a_read_that_waited_through_a_write_goes_in_before_the_next_one() -> None:
    """The learner asks for the lock again as soon as it lets go: the read waiting meanwhile
    must get its turn first, or a stream of writes holds it back for as long as it lasts."""
    lock = ReadWriteLock()
    lock.acquire()
    entered, reader = read_waiting_behind(lock)
    lock.release()
    lock.acquire()  # the next write, at once
    try:
        assert entered.is_set(), "the next write went in ahead of the read that waited"
    finally:
        lock.release()
    reader.join(GUARD_S)
    with lock:  # and nothing is left owed: a write goes in again
        pass



def test_a_batchs_room_is_made_beside_reads_and_put_in_place_under_the_lock(
        state: EngineState, monkeypatch: pytest.MonkeyPatch) -> None:
    """A slab's pack (models/sparse_rows.py) copies every row: made before the learner takes
    the lock, reads go on beside it; only the new slab's putting in place waits for them."""
    rows = state.models["cooccurrence"]._pairs  # type: ignore[attr-defined]
    made, put_under_lock = threading.Event(), []
    make_room = rows.make_room

    def packing_now(ahead: float = 0.05) -> object:
        step = make_room(ahead=1.0)  # pack now, whatever room is left
        assert step is not None
        made.set()

        def put_in_place() -> None:
            put_under_lock.append(state.lock._writer == threading.get_ident())
            step()
        return put_in_place

    monkeypatch.setattr(rows, "make_room", packing_now)
    stalling, slow, _ = stalled_read(state)
    try:
        writer, _ = in_thread(lambda: state.apply(logged([("u1", "i7"), ("u1", "i8")], 100)))
        assert made.wait(GUARD_S), "the room was not made while a read was under way"
        assert writer.is_alive() and slow.is_alive()  # the batch itself waits for the read
    finally:
        stalling.release.set()
        slow.join(GUARD_S)
    writer.join(GUARD_S)
    assert not writer.is_alive() and put_under_lock == [True]
    i7, i8 = state.items.lookup("i7"), state.items.lookup("i8")
    assert i8 in rows.row(i7)[0].tolist()  # learned on the new slab


def test_a_writer_between_whole_steps_lets_the_waiting_reads_in_and_goes_on() -> None:
    """``let_readers_in``: the learner between a batch's lessons. A waiting read goes in
    before the call returns, and the writer holds the lock again after it; nothing changes
    when no read waits, nor inside a nested write."""
    lock = ReadWriteLock()
    with pytest.raises(RuntimeError, match="only the writer"):
        lock.let_readers_in()
    lock.acquire()
    lock.let_readers_in()  # none waits: still held, by this thread
    assert lock._writer == threading.get_ident()
    entered, reader = read_waiting_behind(lock)
    with lock:
        lock.let_readers_in()  # nested: the outer write is half done
        assert not entered.is_set()
    lock.let_readers_in()
    try:
        assert entered.is_set(), "the waiting read did not go in"
        assert lock._writer == threading.get_ident() and lock._writes == 1
    finally:
        lock.release()
    reader.join(GUARD_S)
    assert not reader.is_alive()


def test_a_read_waiting_on_a_batch_goes_in_after_the_lesson_under_way(
        state: EngineState, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each lesson of the ranker is a candidate pass (a query's cost): a read that arrives
    while a batch is learned goes in after the lesson under way, not after the whole batch."""
    stalling = state.models["stalling"]
    assert isinstance(stalling, Stalling)
    stalling.user = state.users.lookup("quick")
    stalling.release.set()  # the read sets ``entered`` under the read lock, and goes on
    taught, go, read_in_batch = threading.Event(), threading.Event(), []
    teach = state._teach_ranker

    def pausing(*args: object) -> bool:
        if taught.is_set():
            read_in_batch.append(stalling.entered.is_set())
        lesson = teach(*args)  # type: ignore[arg-type]
        if lesson and not taught.is_set():
            taught.set()
            go.wait(GUARD_S)  # the first lesson given, under the lock, until a read waits
        return lesson

    monkeypatch.setattr(state, "_teach_ranker", pausing)
    batch = logged([(f"u{n % 6}", f"i{(n * 5) % 12}") for n in range(12)], 100)
    writer, _ = in_thread(lambda: state.apply(batch))
    assert taught.wait(GUARD_S), "no lesson in the batch"
    reader, _ = in_thread(lambda: Recommender(state).for_user("quick", 5, now=T0 + 999))
    until_a_read_waits(state.lock)
    go.set()
    writer.join(GUARD_S)
    reader.join(GUARD_S)
    assert not writer.is_alive() and not reader.is_alive()
    assert read_in_batch and read_in_batch[0], "the read waited for the whole batch"


def test_a_snapshot_asked_for_during_a_batch_is_a_cut_after_it(
        state: EngineState, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Reads go in after each lesson, where the ranker has been taught an event that the
    models have not learned yet. A snapshot's capture (one asked for over the API runs in
    its own thread) must not: restored, its state would be taught that event again. It
    waits for the batch (``EngineState.cut``), and holds what the whole batch made."""
    taught, go = threading.Event(), threading.Event()
    teach = state._teach_ranker

    def pausing(*args: object) -> bool:
        lesson = teach(*args)  # type: ignore[arg-type]
        if lesson and not taught.is_set():
            taught.set()
            go.wait(GUARD_S)  # the first lesson given, under the lock
        return lesson

    monkeypatch.setattr(state, "_teach_ranker", pausing)
    batch = logged([(f"u{n % 6}", f"i{(n * 5) % 12}") for n in range(12)], 100)
    writer, _ = in_thread(lambda: state.apply(batch))
    assert taught.wait(GUARD_S), "no lesson in the batch"
    snapshotter = Snapshotter(state, SnapshotStore(tmp_path), SnapshotSettings(), "-")
    capturing, captured = in_thread(snapshotter._capture)  # as snapshot_now's
    deadline = time.monotonic() + 0.5  # a capture that asks for the read lock now waits
    while state.lock._waiting_reads == 0 and time.monotonic() < deadline:
        time.sleep(0.001)
    go.set()
    writer.join(GUARD_S)
    capturing.join(GUARD_S)
    assert not writer.is_alive() and not capturing.is_alive()
    offset, components = captured[0]  # type: ignore[misc]
    assert offset == batch[-1].offset == state.offset
    assert components["counters"]["learned_events"][0] == state.learned_events
    assert components["ranker"]["eligible_seen"][0] == state.ranker.eligible_seen


def test_reads_go_on_beside_a_lessons_candidate_pass(
        state: EngineState, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lesson's candidate pass only reads the state (every source exact: ~90 ms at 1M
    items), so a read that arrives meanwhile is answered beside it, not after it."""
    passes = state.ranker.candidates
    under_way, answered, answered_in_pass = threading.Event(), threading.Event(), []

    def slow_pass(*args: object, **kwargs: object) -> object:
        if not under_way.is_set() and threading.current_thread() is writer:
            under_way.set()
            answered_in_pass.append(answered.wait(5.0))
        return passes(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(state.ranker, "candidates", slow_pass)
    batch = logged([(f"u{n % 6}", f"i{(n * 5) % 12}") for n in range(12)], 100)
    writer = threading.Thread(target=lambda: state.apply(batch), daemon=True)
    writer.start()
    assert under_way.wait(GUARD_S), "no lesson in the batch"
    reader, lists = in_thread(lambda: Recommender(state).for_user("quick", 5, now=T0 + 999))
    reader.join(GUARD_S)
    answered.set()
    writer.join(GUARD_S)
    assert not writer.is_alive() and not reader.is_alive() and lists
    assert answered_in_pass == [True], "the read waited for the lesson"
    assert state.offset == batch[-1].offset


def test_a_writer_sharing_lets_reads_in_and_no_writer() -> None:
    lock = ReadWriteLock()
    with pytest.raises(RuntimeError, match="only the writer"), lock.sharing():
        pass
    lock.acquire()
    entered, reader = read_waiting_behind(lock)
    other_writer, _ = in_thread(lambda: (lock.acquire(), lock.release()))
    with lock, lock.sharing():  # nested: stays a write
        assert not entered.wait(0.1)
    with lock.sharing():
        assert entered.wait(GUARD_S), "the waiting read did not go in"
        assert lock._writer == threading.get_ident() and other_writer.is_alive()
    reader.join(GUARD_S)  # out before the write goes on
    assert lock._readers == 0 and lock._writer == threading.get_ident()
    lock.release()
    other_writer.join(GUARD_S)
    assert not other_writer.is_alive()
