"""Python's cyclic garbage collector, set for a process whose state is large and long-lived.

A full collection walks every container object the collector tracks, and the process waits
for it. With Python's defaults, learning 1M events at 100k items ran 22 full collections of
~150-300 ms each: ~5% of the learning time, and a read that met one waited all of it
(bench/RESULTS.md). Once the engine has opened, the server makes two changes, both usual for
long-lived services:

- **What exists is frozen** (``gc.freeze``): modules, the restored state and the catalogue
  move where collections never look again. They are still freed by reference counting when
  dropped; only a reference cycle among them would stay until the process ends.
- **The young generation is collected after ``serving.gc_young_objects`` (default 50,000)
  net allocations, not 700.** A batch's events and log entries then die young instead of
  being promoted, and promoted short-lived objects are what started the full collections
  (CPython runs one once the objects promoted since the last reach 25% of the old
  generation). Over the same 1M events, collections took 1.4 s instead of 4.0 s.

0 keeps Python's defaults and freezes nothing. Both are undone when the engine closes.

An engine's start sets the young generation's threshold alone, for its replay of the log's
tail (``young_generation``): with Python's 700, a crash's restart at 10M events ran 2,500
collections over its 161,000-event tail, 9 of them full, 0.9 s of its 5.4 s of learning
(0.24 s at 50,000). Nothing is frozen then (the engine may be a library's, not a server's),
and the threshold is put back once it has opened.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def settle(young_objects: int) -> Callable[[], None]:
    """Set the collector as above (nothing changes for ``young_objects`` 0); returns what
    puts Python's settings back."""
    if young_objects <= 0:
        return lambda: None
    before = gc.get_threshold()
    gc.collect()  # the garbage of opening is freed, not frozen
    gc.freeze()
    gc.set_threshold(young_objects, *before[1:])

    def undo() -> None:
        gc.set_threshold(*before)
        gc.unfreeze()

    return undo


@contextmanager
def young_generation(young_objects: int) -> Iterator[None]:
    """Collect the young generation after ``young_objects`` net allocations while inside
    (nothing changes for 0), then put Python's threshold back."""
    if young_objects <= 0:
        yield
        return
    before = gc.get_threshold()
    gc.set_threshold(young_objects, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
