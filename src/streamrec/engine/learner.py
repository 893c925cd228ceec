"""The single writer: tails the event log and applies every new event to the engine state.

Writes wait on ``wait_learned`` so a client that got its acknowledgement reads its own events.
Snapshots are taken from this thread (a consistent cut at a known offset) and written to disk
by a helper thread so learning does not stall on I/O.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait

from streamrec.engine.erasures import erased_digests, erasure_digest, is_erasure
from streamrec.engine.item_changes import is_item_change
from streamrec.engine.refits import END_TYPE
from streamrec.engine.state import EngineState
from streamrec.storage.base import EventLog
from streamrec.types import Event, LoggedEvent

log = logging.getLogger(__name__)

# small batches keep the lock short, so queries never wait long behind learning
_BATCH = 256


class Learner:
    def __init__(self, state: EngineState, event_log: EventLog,
                 maybe_snapshot: Callable[[], None] | None = None,
                 on_items: Callable[[Sequence[Event]], None] | None = None,
                 before_erasure: Callable[[], None] | None = None) -> None:
        """``before_erasure``: called before the state drops an erased user, to drop what
        was derived from it elsewhere (snapshots, fitted models)."""
        self.state = state
        # told of every $items event learned: a replica's own catalogue follows the shared log
        self._on_items = on_items
        self.log = event_log
        self._maybe_snapshot = maybe_snapshot
        self._before_erasure = before_erasure
        self._learned = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.last_learned_at = time.time()
        # seconds spent learning the log as it comes (not the catch-up at a start): how long
        # a crash's restart would take to learn again what no snapshot holds (snapshotter.py)
        self.learning_s = 0.0
        self.batch = 10_000  # events per read when catching up, an erasure's rebuild included

    def catch_up(self, batch: int | None = None, progress: Callable[[int], None] | None = None,
                 before: int | None = None) -> int:
        """Apply everything in the log after the state's offset (and before ``before``),
        ``batch`` (default ``self.batch``) events at a time; returns how many events."""
        batch = batch or self.batch
        total = 0
        # every offset up to here is in the log or was erased (offsets are never reused)
        newest = self.log.last_offset() if before is None else before - 1
        with ReadAhead(self.log, batch) as reader:
            while True:
                logged = [entry for entry in reader.read(self.state.offset)
                          if entry.offset <= newest]
                if not logged:
                    # erased events at the end of the log leave nothing to learn, nor to
                    # wait for
                    with self.state.lock:
                        self.state.offset = max(self.state.offset, newest)
                    return total
                if logged[-1].offset < newest and not any(is_erasure(e.event) for e in logged):
                    # the next batch is read while this one is learned (an erasure changes
                    # the log it reads: the batch after one is read once it is applied)
                    reader.ask(logged[-1].offset)
                self._apply(logged)
                total += len(logged)
                if progress is not None:
                    progress(len(logged))

    def _apply(self, logged: Sequence[LoggedEvent]) -> None:
        """``state.apply``, with each erasure applied here, in its place (it reads the log),
        and each refit's end prepared off the state's lock (loading an artefact, or fitting
        again when it is lost, takes time that queries must not wait for)."""
        start = 0
        for position, entry in enumerate(logged):
            if is_erasure(entry.event):
                self.state.apply(logged[start:position])
                self._erase(entry)
                start = position + 1
            elif entry.event.type == END_TYPE:
                self.state.apply(logged[start:position])
                self.state.prepare_end(entry)
                self.state.apply([entry])
                start = position + 1
        self.state.apply(logged[start:])
        if self._on_items is not None:
            changes = [entry.event for entry in logged if is_item_change(entry.event)]
            if changes:
                self._on_items(changes)

    def _erase(self, entry: LoggedEvent) -> None:
        """Drop what the log can no longer read (engine/erasures.py): when the state holds an
        erased key, it becomes a replay of the log before the erasure, built aside (serving
        goes on from the old one) and restored into it. Nothing to drop when the entries
        were unreadable before they were learned (a replay)."""
        if entry.offset > self.state.offset and holds_erased(self.state, entry):
            if self._before_erasure is not None:
                self._before_erasure()
            fresh = self.state.empty_copy()
            Learner(fresh, self.log).catch_up(self.batch, before=entry.offset)
            self.state.restore_from(fresh)
        self.state.apply([entry])

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="learner", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                logged = self.log.read(self.state.offset, _BATCH)
                if not logged:
                    self.log.wait_for(self.state.offset, timeout_s=0.2)
                    if self._maybe_snapshot is not None:
                        self._maybe_snapshot()
                    continue
                started = time.perf_counter()
                self._apply(logged)
                self.learning_s += time.perf_counter() - started
                self.last_learned_at = time.time()
                with self._learned:
                    self._learned.notify_all()
                if self._maybe_snapshot is not None:
                    self._maybe_snapshot()
        except BaseException as error:  # the learner must never die silently
            log.exception("learner stopped")
            self.error = error
            with self._learned:
                self._learned.notify_all()

    def wait_learned(self, offset: int, timeout_s: float) -> bool:
        """Block until every event up to ``offset`` is learned; False on time-out or failure."""
        with self._learned:
            return self._learned.wait_for(
                lambda: self.state.offset >= offset or self.error is not None, timeout_s
            ) and self.error is None

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


class ReadAhead:
    """Reads the log's next batch in a thread while the caller learns the one before: a read
    (SQLite's steps, the entries' opening) overlaps learning, whose compiled kernels leave
    the interpreter's lock free. ``read(after)`` answers from the batch asked for when it
    was asked after that same offset (raising what that read raised), and reads now
    otherwise."""

    def __init__(self, event_log: EventLog, batch: int) -> None:
        self.log, self.batch = event_log, batch
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="log-read-ahead")
        self._ahead: tuple[int, Future[list[LoggedEvent]]] | None = None

    def ask(self, after: int) -> None:
        self._ahead = (after, self._pool.submit(self.log.read, after, self.batch))

    def read(self, after: int) -> list[LoggedEvent]:
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            asked, future = ahead
            if asked == after:
                return future.result()
            wait([future])  # not the batch wanted: no read beside the one below
        return self.log.read(after, self.batch)

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True)  # no read left running when the caller goes on


def holds_erased(state: EngineState, erasure: LoggedEvent) -> bool:
    """Whether ``state`` holds a user or session the erasure names (by digest: it digests
    each of its own stored keys, users and merged sessions)."""
    digests = erased_digests(erasure.event)
    if not digests:
        return False
    salt = str((erasure.event.context or {})["salt"])
    return any(erasure_digest(salt, key) in digests
               for key in (*state.users, *state.identities.sessions()) if key)  # "": free
