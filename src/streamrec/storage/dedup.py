"""The deduplication window both event logs apply: the ids of the newest accepted events.

An event re-sent with an ``event_id`` among the last ``size`` ids the log accepted is a
duplicate and is not stored again; one re-sent later than that is stored as a new event.
The window is a function of the log alone (the ids it accepted, in order, less those of
erased users), so the Kafka log's replicas drop the same records, and the embedded log
rebuilds the same window when it opens.

Why a window and not an index over every id ever stored: keyed tags (storage/codec.py) are
uniformly random, and a UNIQUE index over random keys dirties a different B-tree page for
nearly every insert, which made each sealed event cost the embedded log more than the rest
of its write. The window costs no I/O, and about 130 bytes of memory per id it holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from streamrec.errors import InvalidSetting

DEFAULT_DEDUP_WINDOW = 1_000_000
_BYTES_PER_ID = 130  # a 34-character tag (83), its dict entry and ring slot (46); owners shared


def pop_dedup_window(query: dict[str, str], url: str) -> int:
    """Take ``dedup_window`` out of a log URL's parsed ``query`` (the default when absent);
    a value that is not a whole number >= 1 stops the start with its name."""
    try:
        window = int(query.pop("dedup_window", str(DEFAULT_DEDUP_WINDOW)))
    except ValueError:
        window = 0
    if window < 1:
        raise InvalidSetting(f"storage.log_url: {url!r}: dedup_window is a whole number >= 1")
    return window


class DedupWindow:
    """Accepted ids, oldest first, each with the user it was stored under (an erasure
    forgets the user's ids: an erased event is gone, and its id may come again).

    Held so that Python's cyclic garbage collector never walks it: a plain ``dict`` of
    strings, which CPython stops tracking, and the order in a numpy ring of object
    references, which the collector does not traverse. An ``OrderedDict`` of the default
    million ids made every full collection visit two million references, 40% of a full
    collection's work at 1M events (~150 ms a pause, bench/RESULTS.md).
    """

    def __init__(self, size: int = DEFAULT_DEDUP_WINDOW) -> None:
        if size < 1:
            raise ValueError(f"a dedup window holds at least one id, not {size}")
        self.size = size
        self._owners: dict[str, str] = {}
        # the ring, oldest at _head; it grows to ``size`` as ids come (a million references
        # are 8 MB), and _head stays 0 until it is full
        self._order: np.ndarray = np.empty(min(size, 1024), dtype=object)
        self._head = 0

    def __contains__(self, key: object) -> bool:
        return key in self._owners

    def __len__(self) -> int:
        return len(self._owners)

    def add(self, key: str, owner: str) -> None:
        """``key`` (not in the window) was accepted now; the oldest id leaves once the window
        is full."""
        owners = self._owners
        if key in owners:  # not expected; an ordered dict would keep its place
            owners[key] = owner
            return
        held = len(owners)
        if held < self.size:
            if held == len(self._order):
                self._order = _grown(self._order, min(2 * held, self.size))
            self._order[held] = key
        else:
            head = self._head
            del owners[self._order[head]]
            self._order[head] = key
            self._head = (head + 1) % self.size
        owners[key] = owner

    def add_many(self, pairs: list[tuple[str, str]], looked_up: bool = False) -> None:
        """``add`` for each ``(key, owner)`` of a commit, in order: the ring's slots taken and
        the leaving ids read as slices (the log's writer added ids one at a time, ~2.5 us
        each, mostly numpy's element access). ``looked_up``: the caller found none of the
        keys held and none twice (the log's writer, which looks each id up before storing
        it), so they are not looked up again (a random probe of a million-id dict each)."""
        keys = [key for key, _ in pairs]
        owners = self._owners
        if len(keys) > self.size or not looked_up and (
                not owners.keys().isdisjoint(keys) or len(set(keys)) < len(keys)):
            for key, owner in pairs:
                self.add(key, owner)
            return
        held = len(owners)
        filled = keys[:max(0, self.size - held)]  # into free slots, while the ring grows
        if filled:
            needed = held + len(filled)
            if needed > len(self._order):
                self._order = _grown(self._order, min(max(needed, 2 * len(self._order)),
                                                      self.size))
            self._order[held:needed] = filled
        wrapped = keys[len(filled):]  # each takes the oldest id's slot
        if wrapped:
            head, end = self._head, self._head + len(wrapped)
            first = wrapped[:self.size - head]
            for key in self._order[head:head + len(first)].tolist():
                del owners[key]
            self._order[head:head + len(first)] = first
            rest = wrapped[len(first):]  # past the ring's end: from its start
            for key in self._order[:len(rest)].tolist():
                del owners[key]
            self._order[:len(rest)] = rest
            self._head = end % self.size
        owners.update(pairs)

    def extend(self, accepted: Iterable[tuple[str, str]]) -> None:
        """``add`` for each ``(key, owner)`` in order, at once (a rebuild at open: a million
        ``add`` calls took a second)."""
        pairs = list(accepted)
        fresh = dict(pairs)
        if self._owners or len(fresh) != len(pairs):  # ids repeated: one at a time
            for key, owner in pairs:
                self.add(key, owner)
            return
        keys = list(fresh)
        for key in keys[:-self.size]:
            del fresh[key]
        self._owners = fresh
        self._unwrapped(keys[-self.size:])

    def forget_owner(self, owner: str) -> int:
        """Forget every id stored under ``owner``; returns how many."""
        owners = self._owners
        held = len(owners)
        kept = []
        for key in np.roll(self._order, -self._head)[:held].tolist():
            if owners[key] == owner:
                del owners[key]
            else:
                kept.append(key)
        self._unwrapped(kept)
        return held - len(kept)

    def _unwrapped(self, keys: list[str]) -> None:
        """The ring made again from ``keys``, the held ids oldest first."""
        self._order = _grown(np.empty(0, dtype=object), max(len(keys), min(self.size, 1024)))
        self._order[:len(keys)] = keys
        self._head = 0

    def budget(self) -> dict[str, Any]:
        """The window against its bound, for ``/v1/admin/sizes`` (bytes: about 130 an id,
        measured with tracemalloc; not walked, as the log's writer changes it meanwhile)."""
        held = len(self._owners)
        return {"setting": "storage.log_url ?dedup_window=", "budget": self.size,
                "per": "log", "count": held, "largest": held, "most": self.size,
                "bytes": _BYTES_PER_ID * held, "most_bytes": _BYTES_PER_ID * self.size}


def _grown(ring: np.ndarray, capacity: int) -> np.ndarray:
    """``ring`` (unwrapped: oldest first from 0) copied into an array of ``capacity``."""
    grown = np.empty(capacity, dtype=object)
    grown[:len(ring)] = ring
    return grown
