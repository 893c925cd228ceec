"""The EventLog contract, run on every back end.

``EventLogContract`` holds what every log promises; ``DurableEventLogContract`` adds what a
log that survives a restart promises. A back end subclasses the one that fits and says only
how it is opened: no test asks which back end it runs on.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from streamrec.errors import StreamrecError
from streamrec.storage.base import EventLog, open_log
from streamrec.storage.codec import open_cipher
from streamrec.types import Appended, Event, LoggedEvent

EventFactory = Callable[..., Event]
Opener = Callable[[], EventLog]

# generous: only reached when a call hangs, which is the failure being reported
_HANG_S = 10.0


def _events(log: EventLog) -> list[LoggedEvent]:
    return log.read(0, 1_000_000)


def _offsets(log: EventLog) -> list[int]:
    return [entry.offset for entry in _events(log)]


def _call_with_deadline(call: Callable[[], Appended]) -> Appended | BaseException:
    """Run ``call`` in a thread; fail the test if it never returns (a wedged log)."""
    outcome: list[Appended | BaseException] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as error:  # handed back to the test, which judges it
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(_HANG_S)
    if thread.is_alive():
        pytest.fail(f"the call did not return within {_HANG_S} s: the log is wedged")
    return outcome[0]


class EventLogContract:
    """Subclasses define ``open_log(directory, query)``: ``query`` (e.g. ``dedup_window=3``)
    goes after the log's URL."""

    def open_log(self, directory: Path, query: str = "") -> EventLog:
        raise NotImplementedError

    @pytest.fixture
    def opened(self) -> Iterator[list[EventLog]]:
        logs: list[EventLog] = []
        yield logs
        for log in logs:
            log.close()

    @pytest.fixture
    def open_again(self, tmp_path: Path, opened: list[EventLog]) -> Opener:
        """Opens the log in ``tmp_path`` (again); every log opened is closed at teardown."""

        def open_() -> EventLog:
            log = self.open_log(tmp_path / "log")
            opened.append(log)
            return log

        return open_

    @pytest.fixture
    def log(self, open_again: Opener) -> EventLog:
        return open_again()

    @pytest.fixture
    def open_windowed(self, tmp_path: Path, opened: list[EventLog]) -> Callable[[int], EventLog]:
        """Opens the log in ``tmp_path`` (again) with a dedup window of the size given."""

        def open_(size: int) -> EventLog:
            log = self.open_log(tmp_path / "log", f"dedup_window={size}")
            opened.append(log)
            return log

        return open_

    # -- append and read ---------------------------------------------------------------
    def test_an_empty_log_has_offset_zero_and_no_events(self, log: EventLog) -> None:
        assert (log.last_offset(), log.count(), _events(log)) == (0, 0, [])

    def test_offsets_strictly_increase_within_and_across_calls(
        self, log: EventLog, make_event: EventFactory
    ) -> None:
        acknowledged: list[int] = []
        for size in (1, 3, 1, 5, 2):
            appended = log.append([make_event("u1", f"i{n}") for n in range(size)])
            assert appended.accepted == size and appended.duplicates == 0
            assert appended.last_offset == appended.offsets[-1]
            acknowledged.extend(appended.offsets)
        assert all(a < b for a, b in pairwise(acknowledged))
        assert _offsets(log) == acknowledged

    def test_an_empty_append_stores_nothing(self, log: EventLog, make_event: EventFactory) -> None:
        head = log.append([make_event("u1", "i1")]).last_offset
        assert log.append([]) == Appended((), 0, head)
        assert log.count() == 1

    def test_read_returns_events_after_the_offset_in_order_up_to_limit(
        self, log: EventLog, make_event: EventFactory
    ) -> None:
        sent = [make_event(f"u{n % 3}", f"i{n}") for n in range(10)]
        offsets = log.append(sent).offsets
        assert [e.event for e in log.read(0, 100)] == sent
        assert [e.offset for e in log.read(offsets[3], 4)] == list(offsets[4:8])
        assert log.read(offsets[-1], 10) == []
        assert log.read(0, 0) == []
        paged: list[LoggedEvent] = []
        while page := log.read(paged[-1].offset if paged else 0, 3):
            assert len(page) <= 3
            paged.extend(page)
        assert [e.event for e in paged] == sent

    def test_every_field_of_an_event_round_trips(self, log: EventLog) -> None:
        full = Event("user é", "item/1", "rating", 1_700_000_000.25, value=4.5, event_id="e-1",
                     context={"recommendation_id": "r1", "page": 2, "nested": {"a": [1, None]}})
        bare = Event("u2", "i2", "view", 1_700_000_001.0)
        log.append([full, bare])
        assert [e.event for e in _events(log)] == [full, bare]

    def test_last_offset_and_count_follow_appends(
        self, log: EventLog, make_event: EventFactory
    ) -> None:
        first = log.append([make_event("u1", "i1"), make_event("u1", "i2")])
        second = log.append([make_event("u2", "i1")])
        assert log.last_offset() == second.last_offset == second.offsets[-1]
        assert second.offsets[0] > first.offsets[-1]
        assert log.count() == 3

    # -- idempotency ---------------------------------------------------------------------
    def test_an_event_id_repeated_in_one_call_is_stored_once(
        self, log: EventLog, make_event: EventFactory
    ) -> None:
        appended = log.append([make_event("u1", "i1", event_id="a"),
                               make_event("u1", "i2", event_id="b"),
                               make_event("u1", "i3", event_id="a")])
        assert (appended.accepted, appended.duplicates) == (2, 1)
        assert [e.event.item_id for e in _events(log)] == ["i1", "i2"]

    def test_an_event_id_repeated_in_a_later_call_is_stored_once(
        self, log: EventLog, make_event: EventFactory
    ) -> None:
        log.append([make_event("u1", "i1", event_id="a")])
        newer = log.append([make_event("u2", "i2")])
        again = log.append([make_event("u1", "i9", event_id="a")])
        # only repeats: nothing stored, and the head is reported, never an older offset
        assert again == Appended((), 1, newer.last_offset)
        mixed = log.append([make_event("u1", "i1", event_id="a"),
                            make_event("u3", "i3", event_id="c")])
        assert (mixed.accepted, mixed.duplicates) == (1, 1)
        assert log.count() == 3
        assert [e.event.item_id for e in _events(log)] == ["i1", "i2", "i3"]

    def test_repeated_event_ids_use_up_no_offsets(
        self, log: EventLog, make_event: EventFactory
    ) -> None:
        first = log.append([make_event("u1", "i1", event_id="a")])
        for _ in range(20):  # a client retrying: separately, and in one call
            log.append([make_event("u1", "i1", event_id="a")])
        log.append([make_event("u1", "i1", event_id="a")] * 5)
        assert log.last_offset() == first.last_offset
        assert log.append([make_event("u2", "i2")]).offsets == (first.last_offset + 1,)

    def test_an_id_is_a_duplicate_within_the_window_and_new_after_it(
        self, open_windowed: Callable[[int], EventLog], make_event: EventFactory
    ) -> None:
        log = open_windowed(3)
        log.append([make_event("u1", "i1", event_id="a"), make_event("u1", "i2", event_id="b")])
        log.append([make_event("u2", "i3", event_id="c"), make_event("u2", "i4")])  # no id
        assert log.append([make_event("u1", "i1", event_id="a")]).duplicates == 1
        log.append([make_event("u2", "i5", event_id="d")])  # "a" leaves the window
        assert log.append([make_event("u1", "i1", event_id="b")]).duplicates == 1
        again = log.append([make_event("u1", "i1", event_id="a")])
        assert (again.accepted, again.duplicates) == (1, 0)  # stored anew, as documented
        assert [e.event.event_id for e in _events(log)] == ["a", "b", "c", None, "d", "a"]

    def test_a_bad_or_unknown_log_parameter_is_refused_with_its_name(
        self, tmp_path: Path
    ) -> None:
        for query, named in (("dedup_window=0", "dedup_window"),
                             ("dedup_window=many", "dedup_window"), ("windw=3", "windw")):
            with pytest.raises(StreamrecError, match=named):
                self.open_log(tmp_path / "refused", query).close()

    def test_events_without_event_id_are_never_deduplicated(
        self, log: EventLog, make_event: EventFactory
    ) -> None:
        same = make_event("u1", "i1", timestamp=1_700_000_000.0)
        assert log.append([same, same]).accepted == 2
        assert log.append([same]).accepted == 1
        assert log.count() == 3

    # -- waiting -------------------------------------------------------------------------
    def test_wait_for_is_true_at_once_when_newer_events_exist(
        self, log: EventLog, make_event: EventFactory
    ) -> None:
        head = log.append([make_event("u1", "i1")]).last_offset
        assert log.wait_for(head - 1, timeout_s=30.0)

    def test_wait_for_is_false_when_nothing_newer_comes(
        self, log: EventLog, make_event: EventFactory
    ) -> None:
        head = log.append([make_event("u1", "i1")]).last_offset
        assert not log.wait_for(head, timeout_s=0.01)

    def test_wait_for_wakes_when_another_thread_appends(
        self, log: EventLog, make_event: EventFactory
    ) -> None:
        head = log.append([make_event("u1", "i1")]).last_offset
        woke: list[bool] = []
        waiter = threading.Thread(target=lambda: woke.append(log.wait_for(head, timeout_s=60.0)))
        waiter.start()
        log.append([make_event("u1", "i2")])
        waiter.join()
        assert woke == [True]

    # -- erasure -------------------------------------------------------------------------
    def test_delete_user_removes_only_that_users_events(
        self, log: EventLog, make_event: EventFactory
    ) -> None:
        log.append([make_event(user, f"i{n}") for n in range(3) for user in ("a", "b", "c")])
        assert log.delete_user("b") == 3
        assert log.delete_user("b") == 0
        assert log.delete_user("nobody") == 0
        remaining = _events(log)
        assert sorted({e.event.user_id for e in remaining}) == ["a", "c"]
        assert len(remaining) == log.count() == 6
        assert all(a.offset < b.offset for a, b in pairwise(remaining))

    def test_offsets_after_a_deletion_exceed_every_earlier_offset(
        self, log: EventLog, make_event: EventFactory
    ) -> None:
        earlier = log.append([make_event("a", "i1"), make_event("gone", "i2")])
        log.delete_user("gone")
        later = log.append([make_event("a", "i3")])
        assert later.offsets[0] > max(earlier.offsets)

    def test_an_event_id_erased_with_its_user_is_no_longer_in_the_log(
        self, log: EventLog, make_event: EventFactory
    ) -> None:
        # append() counts as duplicates the ids "already in the log"; once erased they are not
        log.append([make_event("gone", "i1", event_id="e1")])
        log.delete_user("gone")
        assert log.append([make_event("gone", "i1", event_id="e1")]).accepted == 1

    # -- robustness ----------------------------------------------------------------------
    def test_concurrent_appends_get_unique_offsets_and_all_are_stored(
        self, log: EventLog, make_event: EventFactory
    ) -> None:
        threads, calls = 16, 20
        acknowledged: list[list[int]] = [[] for _ in range(threads)]
        start = threading.Barrier(threads)

        def writer(number: int) -> None:
            start.wait()
            for call in range(calls):
                batch = [make_event(f"u{number}", f"i{call}", event_id=f"{number}-{call}-{n}")
                         for n in range(3)]
                batch.append(make_event(f"u{number}", "no-id"))
                offsets = log.append(batch).offsets
                assert all(a < b for a, b in pairwise(offsets))
                acknowledged[number].extend(offsets)

        workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        every = [offset for offsets in acknowledged for offset in offsets]
        assert len(every) == threads * calls * 4
        assert len(set(every)) == len(every)
        assert _offsets(log) == sorted(every)
        assert log.count() == len(every) and log.last_offset() == max(every)
        for offsets in acknowledged:  # each writer's own appends are in order too
            assert offsets == sorted(offsets)

    def test_an_event_the_log_cannot_store_leaves_it_working(
        self, log: EventLog, make_event: EventFactory
    ) -> None:
        # an integer beyond 64 bits in the free-form context: stored or refused, never a hang
        odd = make_event("u1", "i1", context={"n": 2**70})
        outcome = _call_with_deadline(lambda: log.append([odd]))
        if isinstance(outcome, BaseException) and not isinstance(outcome, StreamrecError):
            raise AssertionError("append raised a non-domain error") from outcome
        after = _call_with_deadline(lambda: log.append([make_event("u1", "i2")]))
        assert isinstance(after, Appended) and after.accepted == 1


class DurableEventLogContract(EventLogContract):
    """A log that keeps its events when closed and opened again."""

    def test_reopening_keeps_every_event_and_its_offset(
        self, log: EventLog, open_again: Opener, make_event: EventFactory
    ) -> None:
        log.append([make_event("u1", "i1", event_id="a"), make_event("u2", "i2")])
        log.append([make_event("u1", "i3", context={"k": "v"}, value=2.0)])
        before = _events(log)
        head, count = log.last_offset(), log.count()
        log.close()
        reopened = open_again()
        assert _events(reopened) == before
        assert (reopened.last_offset(), reopened.count()) == (head, count)

    def test_reopening_keeps_deduplicating(
        self, log: EventLog, open_again: Opener, make_event: EventFactory
    ) -> None:
        log.append([make_event("u1", "i1", event_id="a")])
        log.close()
        reopened = open_again()
        assert reopened.append([make_event("u1", "i1", event_id="a")]).duplicates == 1
        assert reopened.count() == 1

    def test_reopening_rebuilds_the_window_from_the_newest_ids(
        self, open_windowed: Callable[[int], EventLog], make_event: EventFactory
    ) -> None:
        log = open_windowed(2)
        log.append([make_event("u1", "i1", event_id=name) for name in "abc"])
        log.close()
        reopened = open_windowed(2)
        assert reopened.append([make_event("u1", "i1", event_id="c"),
                                make_event("u1", "i1", event_id="b")]).duplicates == 2
        assert reopened.append([make_event("u1", "i1", event_id="a")]).accepted == 1

    def test_offsets_after_reopening_exceed_every_earlier_one(
        self, log: EventLog, open_again: Opener, make_event: EventFactory
    ) -> None:
        earlier = log.append([make_event("a", "i1"), make_event("gone", "i2")])
        log.delete_user("gone")  # the newest offset is gone: it must still never be reused
        log.close()
        reopened = open_again()
        later = reopened.append([make_event("a", "i3")])
        assert later.offsets[0] > max(earlier.offsets)
        assert reopened.count() == 2


class TestSQLiteEventLog(DurableEventLogContract):
    def open_log(self, directory: Path, query: str = "") -> EventLog:
        return open_log(f"sqlite:///{directory / 'events.db'}?{query}")


class TestMemoryEventLog(EventLogContract):
    def open_log(self, directory: Path, query: str = "") -> EventLog:
        return open_log(f"memory:?{query}")


class TestKafkaEventLog(DurableEventLogContract):
    """On a Kafka-protocol broker (noida-db in CI); each test its own topic."""

    @pytest.fixture(autouse=True)
    def _broker(self, kafka_broker: Any) -> None:
        self.bootstrap = kafka_broker.bootstrap

    def open_log(self, directory: Path, query: str = "") -> EventLog:
        topic = "t-" + hashlib.sha1(str(directory).encode()).hexdigest()[:16]
        return open_log(f"kafka://{self.bootstrap}/{topic}?{query}")


class TestEncryptedSQLiteEventLog(DurableEventLogContract):
    """The embedded log as the engine opens it: each user's entries sealed with their key."""

    def open_log(self, directory: Path, query: str = "") -> EventLog:
        return open_log(f"sqlite:///{directory / 'events.db'}?{query}",
                        cipher=open_cipher(f"sqlite:///{directory / 'user_keys.db'}", "s3cret"))
