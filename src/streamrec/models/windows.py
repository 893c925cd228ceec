"""Each user's most recent distinct items, oldest first, at most ``window`` of them: what
co-occurrence pairs a user's next event with.

The windows lie in one slab of int32 items. A user's window has its room there (4 items at
first, doubling up to ``window``); a full room that may still grow moves to the slab's end,
and when the slab has no room left every window is packed into a new one. A user's
bookkeeping (start, length, room) is one row of one array. A batch's pairing runs compiled
(numba, ``compiled.py``) and outside the interpreter's lock, as does the copy a snapshot
takes: the windows were a dict of Python arrays, and walking 200,000 of them held the lock
~80 ms per snapshot (read p99 10-18 ms while one was taken, 4-5 ms otherwise; bench/RESULTS.md)
and ~6% of the learner's time in the pairing loop. ``make_room`` packs ahead, as the sparse
rows' does (``sparse_rows.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from streamrec.models.base import doubled_rooms, grow, ranges
from streamrec.models.compiled import Kernels
from streamrec.types import IntArray

_START, _LENGTH, _ROOM = range(3)
_MIN_ROOM = 4
_SLACK = 1.25  # a new slab holds this times the windows' room, plus a batch's worst case
_AHEAD = 0.05  # make_room packs when less than this share of the slab is free
_ITEMS = np.int32
_MAX_ITEM = int(np.iinfo(_ITEMS).max)
_BYTES = np.dtype(_ITEMS).itemsize


def _pair_kernel(users: IntArray, items: IntArray, positive: np.ndarray, meta: IntArray,
                 slab: np.ndarray, end: int, window: int, partners: IntArray,
                 counts: IntArray) -> tuple[int, int]:
    """For each positive event in order: its user's window (oldest first) into ``partners``
    and its length into ``counts``; then the item moves to the window's end (taken out where
    it was; the oldest dropped when the window is full). Other events pair with nothing and
    leave the window as it is. Returns the partners written and the slab's new end (the
    caller leaves room for every event to move once)."""
    at = 0
    for e in range(users.shape[0]):
        if not positive[e]:
            counts[e] = 0
            continue
        u, item = users[e], items[e]
        s, n, room = meta[u, _START], meta[u, _LENGTH], meta[u, _ROOM]
        for j in range(n):
            if slab[s + j] == item:  # the item again: it pairs with the others, moves last
                for k in range(j, n - 1):
                    slab[s + k] = slab[s + k + 1]
                n -= 1
                break
        for j in range(n):
            partners[at + j] = slab[s + j]
        at += n
        counts[e] = n
        if n == room:
            if room < window:  # the window grows: to the slab's end, with twice the room
                grown = min(window, max(_MIN_ROOM, 2 * room))
                for j in range(n):
                    slab[end + j] = slab[s + j]
                s = meta[u, _START] = end
                meta[u, _ROOM] = grown
                end += grown
            else:  # a full window: the oldest goes
                for k in range(n - 1):
                    slab[s + k] = slab[s + k + 1]
                n -= 1
        slab[s + n] = item
        meta[u, _LENGTH] = n + 1
    return at, end


def _pack_kernel(n_users: int, meta: IntArray, old: np.ndarray, slab: np.ndarray) -> int:
    """Every window, with its room, moved side by side into ``slab`` (starts updated); the
    new slab's end."""
    at = 0
    for u in range(n_users):
        s, n = meta[u, _START], meta[u, _LENGTH]
        slab[at:at + n] = old[s:s + n]
        meta[u, _START] = at
        at += meta[u, _ROOM]
    return at


def _flatten_kernel(users: IntArray, meta: IntArray, slab: np.ndarray, out: IntArray) -> None:
    """``users``' windows one after another into ``out``."""
    at = 0
    for u in users:
        s, n = meta[u, _START], meta[u, _LENGTH]
        out[at:at + n] = slab[s:s + n]
        at += n


class _Kernels(NamedTuple):
    pair: Callable[..., tuple[int, int]]
    pack: Callable[..., int]
    flatten: Callable[..., None]


def _make(jit: Callable[[Callable[..., Any]], Any]) -> _Kernels:
    return _Kernels(jit(_pair_kernel), jit(_pack_kernel), jit(_flatten_kernel))


def warm_up() -> None:
    windows = RecentWindows(2)
    windows.pair(np.array([0, 0, 0, 1]), np.array([3, 1, 3, 2]), np.ones(4, dtype=bool))
    windows.state()


_KERNELS = Kernels("recent-window", globals(), _make, warm_up=warm_up)


def compile_kernels() -> None:
    _KERNELS.get()


class RecentWindows:
    def __init__(self, window: int) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1, not {window}")
        self.window = window
        self._n_users = 0
        self._meta = np.zeros((0, 3), dtype=np.int64)  # the first n_users rows: the users'
        self._slab = np.zeros(0, dtype=_ITEMS)
        self._end = 0  # the slab's first unused item
        self._changes = 0  # changes in place so far: a copy packed ahead is of one of them

    def _ensure_users(self, n: int) -> None:
        if n > self._n_users:
            self._meta = grow(self._meta, n)  # room for twice as many: amortised O(1)
            self._n_users = n

    def _ensure_room(self, more: int) -> None:
        """Room for ``more`` items at the slab's end: if short, every window packed into a
        new slab."""
        if self._end + more <= self._slab.shape[0]:
            return
        self._meta, self._slab, self._end = self._packed(more)

    def _packed(self, more: int) -> tuple[IntArray, np.ndarray, int]:
        """Every window packed into a new slab with room for ``more`` (bookkeeping, slab,
        its end), the windows left as they are."""
        rooms = int(self._meta[: self._n_users, _ROOM].sum())
        meta = self._meta.copy()
        slab = np.zeros(int(rooms * _SLACK) + more + 1024, dtype=_ITEMS)
        return meta, slab, _KERNELS.get().pack(self._n_users, meta, self._slab, slab)

    def make_room(self, ahead: float = _AHEAD) -> Callable[[], None] | None:
        """As ``SparseRows.make_room``: None while ``ahead`` of the slab is free, else the
        windows packed now, reading only, and the step that puts them in place (nothing if
        they changed)."""
        if self._slab.shape[0] - self._end >= ahead * self._slab.shape[0]:
            return None
        packed, changes, slab = self._packed(0), self._changes, self._slab

        def put_in_place() -> None:
            if self._changes == changes and self._slab is slab:
                self._meta, self._slab, self._end = packed

        return put_in_place

    def pair(self, users: IntArray, items: IntArray,
             positive: np.ndarray) -> tuple[IntArray, IntArray]:
        """Each event, in order, paired with its user's window as it was just before (oldest
        first), the windows updated: the partners one event after another, and each event's
        count of them (0 for an event not ``positive``)."""
        users = np.ascontiguousarray(users, dtype=np.int64)
        items = np.ascontiguousarray(items, dtype=np.int64)
        counts = np.zeros(users.size, dtype=np.int64)
        if users.size == 0:
            return np.zeros(0, dtype=np.int64), counts
        self._changes += 1
        if int(users.min()) < 0 or int(items.min()) < 0 or int(items.max()) > _MAX_ITEM:
            raise ValueError(f"users and items must be in [0, {_MAX_ITEM}]")
        self._ensure_users(int(users.max()) + 1)
        self._ensure_room(users.size * self.window)
        partners = np.empty(users.size * self.window, dtype=np.int64)  # the most it takes
        written, self._end = _KERNELS.get().pair(
            users, items, np.ascontiguousarray(positive, dtype=np.bool_), self._meta,
            self._slab, self._end, self.window, partners, counts)
        return partners[:written], counts

    def lengths(self) -> IntArray:
        """Each user's window length (users never seen: none)."""
        return self._meta[: self._n_users, _LENGTH]

    def of(self, user: int) -> IntArray:
        """``user``'s window, oldest first (a copy)."""
        if user >= self._n_users:
            return np.zeros(0, dtype=np.int64)
        s, n = self._meta[user, _START], self._meta[user, _LENGTH]
        return self._slab[s:s + n].astype(np.int64)

    def put(self, user: int, items: IntArray) -> None:
        """Make ``user``'s window ``items`` (oldest first; the last ``window`` of them)."""
        self._changes += 1
        items = np.asarray(items, dtype=np.int64)[-self.window:]
        self._ensure_users(user + 1)
        if items.size > self._meta[user, _ROOM]:
            self._ensure_room(self.window)
            self._meta[user, _START], self._meta[user, _ROOM] = self._end, self.window
            self._end += self.window
        s = self._meta[user, _START]
        self._slab[s:s + items.size] = items
        self._meta[user, _LENGTH] = items.size

    def clear(self, users: IntArray) -> None:
        """Empty these users' windows, their room given up (the next pack leaves it out; a
        user's next item starts a small room at the slab's end)."""
        self._changes += 1
        users = np.asarray(users, dtype=np.int64)
        users = users[users < self._n_users]
        self._meta[users, _LENGTH] = 0
        self._meta[users, _ROOM] = 0

    def state(self) -> dict[str, np.ndarray]:
        """The users with a window (by index), CSR bounds, and the windows one after another
        (compiled, outside the interpreter's lock)."""
        lengths = self.lengths()
        users = np.flatnonzero(lengths)
        indptr = np.zeros(users.size + 1, dtype=np.int64)
        np.cumsum(lengths[users], out=indptr[1:])
        flat = np.empty(int(indptr[-1]), dtype=np.int64)
        _KERNELS.get().flatten(users, self._meta, self._slab, flat)
        return {"recent_users": users, "recent_indptr": indptr,
                "recent_items": flat}

    def restore(self, users: IntArray, indptr: IntArray, flat: IntArray) -> None:
        users = np.asarray(users, dtype=np.int64)
        sizes = np.diff(np.asarray(indptr, dtype=np.int64))
        keep = np.minimum(sizes, self.window)  # a window saved with a larger setting: newest
        flat = np.asarray(flat, dtype=np.int64)[ranges(np.asarray(indptr[1:]) - keep, keep)]
        self._n_users = 0
        self._meta = np.zeros((0, 3), dtype=np.int64)
        self._ensure_users(int(users.max()) + 1 if users.size else 0)
        # the room learning gives a window (a restored window with just its items as room
        # moved at its user's next event)
        rooms = doubled_rooms(keep, _MIN_ROOM, self.window)
        starts = np.cumsum(rooms) - rooms
        self._meta[users, _START], self._meta[users, _LENGTH] = starts, keep
        self._meta[users, _ROOM] = rooms
        self._end = int(rooms.sum())
        self._slab = np.zeros(int(self._end * _SLACK) + 1024, dtype=_ITEMS)
        self._slab[ranges(starts, keep)] = flat

    def budget(self, setting: str) -> dict[str, Any]:
        lengths = self.lengths()
        count = int(np.count_nonzero(lengths))
        return {"setting": setting, "budget": self.window, "per": "user", "count": count,
                "largest": int(lengths.max(initial=0)), "most": self.window,
                "bytes": _BYTES * int(lengths.sum()), "most_bytes": _BYTES * self.window * count}
