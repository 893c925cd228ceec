"""The engine state's lock: many readers at once, or the one writer.

Reads (a user's list, similar items) take ``reading()`` and never wait on each other, so one
slow read holds up no other; the learner (and the few other writers: catalogue changes,
refit swaps, snapshot cuts) take the lock itself, ``with lock:``, as they took the RLock it
replaces. A writer waits for the reads under way and then has the state to itself: a read sees
every model at one offset (no torn reads across models), and a write that returned is in
every read that starts after it (read-your-writes). A waiting writer holds new reads back, so
a stream of reads cannot starve learning; and the reads that waited through a write go in
before the next one (phase-fair), so the learner, which asks again as soon as it has let go,
cannot starve reads either. Without that turn a read waited for a run of writes: while the
learner learned at ~13,000 events/s, p99 of a recommendation in the same process was ~55
ms; with it, ~30 ms at ~11,000 events/s (bench/mixed.py).

Both sides are reentrant per thread: the learner applies control events within a write, and
a thread that writes may read (never the reverse: a reader that would write raises, instead
of waiting for itself). ``readerwriterlock`` on PyPI has the writer preference but not the
reentrancy the learner needs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType


class ReadWriteLock:
    def __init__(self) -> None:
        self._changed = threading.Condition(threading.Lock())
        self._readers = 0  # threads reading now (each once, however deeply)
        self._writer: int | None = None  # the thread writing now
        self._writes = 0  # its depth
        self._writers_waiting = 0
        # phase-fair turns: a read that began waiting before the last write ended (an older
        # ``_ended`` than now) goes in ahead of any writer; ``_owed``: how many such wait
        self._ended = 0  # writes ended so far
        self._waiting_reads = 0
        self._owed = 0
        self._mine = threading.local()  # this thread's read depth
        self._shared = False  # the writer lets reads in beside a step that only reads

    def _read_depth(self) -> int:
        return getattr(self._mine, "depth", 0)

    # -- the writer: ``with lock:`` ------------------------------------------------------
    def acquire(self) -> None:
        me = threading.get_ident()
        with self._changed:
            if self._writer == me:
                self._writes += 1
                return
            if self._read_depth():
                raise RuntimeError("a thread that reads the state cannot start writing it")
            self._writers_waiting += 1
            try:
                self._changed.wait_for(
                    lambda: self._writer is None and self._readers == 0 and self._owed == 0)
            finally:
                self._writers_waiting -= 1
            self._writer, self._writes = me, 1

    def release(self) -> None:
        with self._changed:
            if self._writer != threading.get_ident():
                raise RuntimeError("release of a write this thread does not hold")
            self._writes -= 1
            if self._writes == 0:
                self._writer = None
                self._ended += 1
                self._owed = self._waiting_reads  # each waited through this write
                self._changed.notify_all()

    def let_readers_in(self) -> None:
        """For the writer between two steps that each leave the state whole: if reads are
        waiting, they go in now (phase-fair: ahead of this writer's next turn) and the
        write goes on after them. Nothing when none waits; nor inside a nested write, whose
        release only lowers the depth (the outer write has the state half done)."""
        with self._changed:
            if self._writer != threading.get_ident():
                raise RuntimeError("only the writer may let readers in")
            if not self._waiting_reads:
                return
        self.release()
        self.acquire()

    @contextmanager
    def sharing(self) -> Iterator[None]:
        """For the writer, around a step that only reads the state (the learner's lessons:
        a candidate pass over every source, ~10 ms at 100k items and ~80 ms at 1M): reads
        go in beside it instead of waiting it out, and the write goes on once they are
        out. No other writer goes in meanwhile. Inside a nested write it stays a write, as
        with ``let_readers_in``."""
        with self._changed:
            if self._writer != threading.get_ident():
                raise RuntimeError("only the writer may share")
            nested = self._writes > 1
            if not nested:
                self._shared = True
                if self._waiting_reads:
                    self._changed.notify_all()
        if nested:
            yield
            return
        try:
            yield
        finally:
            with self._changed:
                self._shared = False
                self._changed.wait_for(lambda: self._readers == 0)

    def __enter__(self) -> ReadWriteLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.release()

    # -- readers ---------------------------------------------------------------------------
    @contextmanager
    def reading(self) -> Iterator[None]:
        """Read the state: alongside other readers, never beside a writer."""
        depth = self._read_depth()
        if depth or self._writer == threading.get_ident():
            self._mine.depth = depth + 1  # already inside: no wait (and no self-deadlock)
            try:
                yield
            finally:
                self._mine.depth = depth
            return
        with self._changed:
            arrived = self._ended
            self._waiting_reads += 1
            try:
                self._changed.wait_for(lambda: self._shared or self._writer is None and (
                    not self._writers_waiting or arrived < self._ended))
            finally:
                self._waiting_reads -= 1
                if arrived < self._ended:
                    self._owed -= 1
            self._readers += 1
        self._mine.depth = 1
        try:
            yield
        finally:
            self._mine.depth = 0
            with self._changed:
                self._readers -= 1
                if self._readers == 0:
                    self._changed.notify_all()
