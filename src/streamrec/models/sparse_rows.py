"""A sparse square matrix that takes many small additions per second and reads rows fast.

Each row lies in one big pair of arrays (a slab: columns as int32, values as float64): at
the row's start, its sorted entries, then its pending additions in the order they came (a
column may repeat), within the room the row has there. An addition is appended to the
pending part; the pending part is merged into the sorted part when the row's room is full
(the row then moves with twice the room, if still over half full) and at the row's budget
cuts. A row that moves leaves its room to the next row that needs a room of that size (a
free list per size, linked through the rooms themselves): rows grow through the same sizes
one after another, so the slab's end moves on only for rooms no row left. When the slab is
full, the rows are packed into a new one. Each row's
bookkeeping (start, sorted, pending, room, additions since its cut) is one row of one array.
A pack copies every row: at 100k items, 0.1-0.8 s once the slab holds tens of millions of
entries. ``make_room`` packs ahead, reading only, before the slab is full, so that the
owner may do it outside its lock and put the new slab in place under it in an instant:
reads stopped behind such a pack for as long (bench/RESULTS.md, "reads behind a pack").
All of it runs compiled (numba, ``_kernels``), outside the interpreter's lock, a batch at a
time, each row's additions side by side (a counting sort), so a row is read into the cache
once. The pure-Python version of these rows (per-row arrays and pending buffers) spent most
of the learner's time at 8M events in a Python loop over the rows a batch touched
(bench/RESULTS.md).

A row may have a budget (``max_per_row``, N): each time a row has taken N more additions
since it was last cut, it is cut to its N largest entries by magnitude (ties: the lower
column). The cuts fall after fixed additions of the row, in the order they were given,
whatever batches they came in, so the rows are a function of the additions: a replay of
the same additions, batched otherwise, cuts at the same places. A row never holds more than
2N - 1 entries between additions (restored from a state saved without a budget, it may
until its next cut), so its room never grows past 2N.

Every value is a sum of its additions in the order they came, one at a time (the first added
to 0.0), so the rows are the same bit for bit however they were batched.

A snapshot takes the rows by their changes (``capture``): whole now and then (a base the
snapshot store keeps under a token), and in between that base named again and what the
rows were given since, in order (models/change_log.py), which a restore gives again on
top of it.
Rows change a little in very many places: at 1M items, 20,000 events changed nearly every
4 MiB chunk of co-occurrence's 1.26 GiB, all of which each snapshot hashed and wrote.

Reads merge a row's pending part into a copy: they never change the rows, and run side by
side; the owner's lock keeps the writer alone (engine/rwlock.py). ``frozen`` copies the
rows into CSR arrays at once, compiled and outside the interpreter's lock: readers go on
beside it, and later additions never reach the copy (a snapshot, a refit's data).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

from streamrec.models.base import doubled_rooms, grow
from streamrec.models.change_log import ByChanges, ChangeLog
from streamrec.models.compiled import Kernels
from streamrec.storage.snapshots import unchanging
from streamrec.types import EMPTY_INTS, FloatArray, IntArray

_ENTRY = 12  # bytes per entry: an int32 column and a float64 value
_MIN_ROOM = 4  # a row's first room; it doubles when full
_SLACK = 1.25  # a new slab holds this times the rows' room, plus the largest move's
_AHEAD = 0.05  # make_room packs when less than this share of the slab is free
_COLUMNS = np.int32
# a row's bookkeeping, side by side in one array (one cache line per row, not five): where
# its entries start in the slab, how many are sorted and how many pending after them (in
# the order they came: columns may repeat), its room there, and its additions since it
# was last cut (rows with a budget only)
_START, _SIZE, _PENDING, _ROOM, _ADDED = range(5)
_MAX_COLUMN = int(np.iinfo(_COLUMNS).max)
# free lists of rooms left by rows that moved, one per room size: 0 for the budget's limit,
# n for a room of 2^n entries (other sizes wait for the next pack); each head is the start
# of a free room (-1: none), whose first two columns hold the next one's start
_FREE_LISTS = 64
_LOW_BITS = 31
_INSERTION_MOST = 24  # additions a row merges by insertion; more: by radix


def _stable_order(keys: np.ndarray) -> IntArray:
    """The order that sorts ``keys`` (non-negative), equal keys in the order they came:
    insertion for a few, else a radix sort 8 bits at a time (as many passes as the largest
    key needs). Both are stable without a tie-breaker, and take no data-dependent branch in
    the radix passes: a comparison sort of the row's additions mispredicted its way to most
    of a budget cut's time (bench/RESULTS.md, 2026-12-06 evening)."""
    size = keys.shape[0]
    order = np.arange(size)
    if size <= _INSERTION_MOST:
        for i in range(1, size):
            moving, j = order[i], i - 1
            while j >= 0 and keys[order[j]] > keys[moving]:
                order[j + 1] = order[j]
                j -= 1
            order[j + 1] = moving
        return order
    spare = np.empty(size, dtype=np.int64)
    counts = np.empty(257, dtype=np.int64)
    top, shift = keys.max(), 0
    while shift == 0 or (top >> shift) > 0:
        counts[:] = 0
        for i in range(size):
            counts[((keys[order[i]] >> shift) & 255) + 1] += 1
        for b in range(256):
            counts[b + 1] += counts[b]
        for i in range(size):
            digit = (keys[order[i]] >> shift) & 255
            spare[counts[digit]] = order[i]
            counts[digit] += 1
        order, spare = spare, order
        shift += 8
    return order


def _merge_pending(s: int, n: int, pending: int, cols: np.ndarray, vals: FloatArray) -> int:
    """Merge the row's ``pending`` additions (after its ``n`` sorted entries at ``s``, in
    the order they came) into its sorted part, in place; the row's new size. A value takes
    its additions one at a time in that order, a new column's starting from 0.0: the same
    sums, bit for bit, as adding each when it came."""
    added_cols = cols[s + n:s + n + pending].copy()
    added_vals = vals[s + n:s + n + pending].copy()
    order = _stable_order(added_cols)  # by column, each column's in the order they came
    new_cols = np.empty(pending, dtype=np.int64)
    new_vals = np.empty(pending, dtype=np.float64)
    m, old = 0, 0
    for t in range(pending):
        j = order[t]
        c = added_cols[j]
        while old < n and cols[s + old] < c:
            old += 1
        if old < n and cols[s + old] == c:
            vals[s + old] += added_vals[j]
        elif m > 0 and new_cols[m - 1] == c:
            new_vals[m - 1] += added_vals[j]
        else:
            new_cols[m], new_vals[m] = c, 0.0 + added_vals[j]
            m += 1
    w, old = n + m - 1, n - 1  # from the back: each sorted entry moves once, at most
    for k in range(m - 1, -1, -1):
        while old >= 0 and cols[s + old] > new_cols[k]:
            cols[s + w], vals[s + w] = cols[s + old], vals[s + old]
            old -= 1
            w -= 1
        cols[s + w], vals[s + w] = new_cols[k], new_vals[k]
        w -= 1
    return n + m


def _kth_smallest(magnitudes: FloatArray, k: int) -> float:
    """The ``k``-th smallest (from 0) of non-negative floats: a radix select over their bits
    (in that order for non-negative floats), 8 at a time from the top, each pass counting only
    the values that share the digits found so far, until one value is left or all its bits
    are known. The same value as ``np.partition(magnitudes, k)[k]``, in ~2 us where that
    took ~6 at 400 entries (its comparisons mispredicted on real rows)."""
    bits = magnitudes.view(np.int64)
    counts = np.empty(257, dtype=np.int64)  # the last counts the values left behind
    prefix, mask = 0, 0
    for shift in range(56, -8, -8):
        counts[:] = 0
        for i in range(bits.shape[0]):
            b = bits[i]
            counts[((b >> shift) & 255) if (b & mask) == prefix else 256] += 1
        digit = 0
        while k >= counts[digit]:
            k -= counts[digit]
            digit += 1
        prefix |= digit << shift
        mask |= 255 << shift
        if counts[digit] == 1:  # one value has these digits: it is the one
            for i in range(bits.shape[0]):
                if (bits[i] & mask) == prefix:
                    return float(magnitudes[i])
    found = np.empty(1, dtype=np.int64)
    found[0] = prefix
    return float(found.view(np.float64)[0])


def _cut(s: int, n: int, budget: int, cols: np.ndarray, vals: FloatArray) -> int:
    """Keep the ``budget`` largest of the row's ``n`` sorted entries at ``s`` by magnitude
    (ties: the lower columns), in column order; the row's new size. O(n): a selection
    finds the smallest magnitude kept, and one pass keeps those above it and the first
    ties (every entry is copied down, and the write position moves only past kept ones: no
    branch on the data)."""
    if n <= budget:
        return n
    magnitudes = np.abs(vals[s:s + n])
    threshold = _kth_smallest(magnitudes, n - budget)
    ties = budget - np.count_nonzero(magnitudes > threshold)
    w = 0
    for j in range(n):  # kept entries only move down: in place is safe
        above, tie = magnitudes[j] > threshold, magnitudes[j] == threshold
        keep = above | (tie & (ties > 0))
        ties -= tie & keep
        cols[s + w], vals[s + w] = cols[s + j], vals[s + j]
        w += keep
    return budget


def _group_kernel(rows: IntArray, n_rows: int) -> IntArray:
    """The order that puts each row's additions side by side, each row's in the order they
    came (a counting sort: O(additions + rows)), so each row is read into the cache once."""
    counts = np.zeros(n_rows + 1, dtype=np.int64)
    for r in rows:
        counts[r + 1] += 1
    for r in range(n_rows):
        counts[r + 1] += counts[r]
    order = np.empty(rows.shape[0], dtype=np.int64)
    for i in range(rows.shape[0]):
        order[counts[rows[i]]] = i
        counts[rows[i]] += 1
    return order


def _free_list(room: int, limit: int) -> int:
    """The free list of rooms of ``room`` entries (``_FREE_LISTS``), or -1: none."""
    if limit > 0 and room == limit:
        return 0
    if room < _MIN_ROOM or room & (room - 1) != 0:
        return -1
    n = 0
    while (1 << n) < room:
        n += 1
    return n


def _pop_room(heads: IntArray, which: int, slab_cols: np.ndarray) -> int:
    """A free room's start off list ``which``, or -1 when it has none."""
    start = heads[which] if which >= 0 else -1
    if start >= 0:
        high, low = int(slab_cols[start]), int(slab_cols[start + 1])
        heads[which] = -1 if high < 0 else (high << _LOW_BITS) | low
    return start


def _push_room(heads: IntArray, which: int, start: int, slab_cols: np.ndarray) -> None:
    """The room at ``start`` onto free list ``which`` (-1: left for the next pack)."""
    if which < 0:
        return
    following = heads[which]
    slab_cols[start] = -1 if following < 0 else following >> _LOW_BITS
    slab_cols[start + 1] = 0 if following < 0 else following & ((1 << _LOW_BITS) - 1)
    heads[which] = start


def _add_kernel(rows: IntArray, cols: IntArray, vals: FloatArray, first: int,
                meta: IntArray, slab_cols: np.ndarray, slab_vals: FloatArray, end: int,
                budget: int, limit: int, heads: IntArray) -> tuple[int, int]:
    """Append additions ``first:`` to their rows' pending parts, in order; returns the
    index reached and the slab's new end. It stops early, before an addition (nothing of it
    done), when its row must move and neither a free room of its new size (``heads``) nor
    the slab's end has room for it.

    A row's pending part is merged into its sorted part when the row's room is full (and
    the row moves to twice the room if it is still over half full), and at its cuts."""
    for i in range(first, rows.shape[0]):
        r = rows[i]
        s, n, waiting, room = meta[r, _START], meta[r, _SIZE], meta[r, _PENDING], meta[r, _ROOM]
        if n + waiting == room:
            if waiting > 0:
                n = meta[r, _SIZE] = _merge_pending(s, n, waiting, slab_cols, slab_vals)
                waiting = meta[r, _PENDING] = 0
            grown = max(_MIN_ROOM, 2 * room)
            if limit > 0 and grown > limit:
                grown = max(limit, n + 1)
            if grown > room and 2 * n >= room:  # the row moves: to a free room, or the end
                to = _pop_room(heads, _free_list(grown, limit), slab_cols)
                if to < 0:
                    if end + grown > slab_cols.shape[0]:
                        return i, end
                    to = end
                    end += grown
                slab_cols[to:to + n] = slab_cols[s:s + n]
                slab_vals[to:to + n] = slab_vals[s:s + n]
                if room > 0:
                    _push_room(heads, _free_list(room, limit), s, slab_cols)
                s = meta[r, _START] = to
                meta[r, _ROOM] = grown
        slab_cols[s + n + waiting], slab_vals[s + n + waiting] = cols[i], vals[i]
        meta[r, _PENDING] = waiting + 1
        if budget > 0:
            meta[r, _ADDED] += 1
            if meta[r, _ADDED] == budget:  # the cut, after the row's budget-th addition
                meta[r, _ADDED] = 0  # since the last
                n = _merge_pending(s, n, waiting + 1, slab_cols, slab_vals)
                meta[r, _SIZE] = _cut(s, n, budget, slab_cols, slab_vals)
                meta[r, _PENDING] = 0
    return rows.shape[0], end


def _gather_kernel(rows: IntArray, meta: IntArray, slab_cols: np.ndarray,
                   slab_vals: FloatArray, out_cols: IntArray, out_vals: FloatArray,
                   out_sizes: IntArray) -> int:
    """``rows`` one after another (-1: a row with nothing), each with its pending part
    merged in (in the copy: the rows are left as they are), into ``out_cols``/``out_vals``;
    each row's size into ``out_sizes``; the entries written."""
    at = 0
    for k in range(rows.shape[0]):
        r = rows[k]
        if r < 0:
            continue
        s, n, waiting = meta[r, _START], meta[r, _SIZE], meta[r, _PENDING]
        out_cols[at:at + n + waiting] = slab_cols[s:s + n + waiting]
        out_vals[at:at + n + waiting] = slab_vals[s:s + n + waiting]
        if waiting > 0:
            n = _merge_pending(at, n, waiting, out_cols, out_vals)
        out_sizes[k] = n
        at += n
    return at


def _merge_all_kernel(n_rows: int, meta: IntArray, slab_cols: np.ndarray,
                      slab_vals: FloatArray) -> None:
    """Merge every row's pending part into its sorted part."""
    for r in range(n_rows):
        if meta[r, _PENDING] > 0:
            meta[r, _SIZE] = _merge_pending(meta[r, _START], meta[r, _SIZE],
                                            meta[r, _PENDING], slab_cols, slab_vals)
            meta[r, _PENDING] = 0


def _pack_kernel(n_rows: int, meta: IntArray, old_cols: np.ndarray, old_vals: FloatArray,
                 slab_cols: np.ndarray, slab_vals: FloatArray) -> int:
    """Every row, with its room, moved side by side into the new slab (starts updated);
    the new slab's end."""
    at = 0
    for r in range(n_rows):
        s, held = meta[r, _START], meta[r, _SIZE] + meta[r, _PENDING]
        slab_cols[at:at + held] = old_cols[s:s + held]
        slab_vals[at:at + held] = old_vals[s:s + held]
        meta[r, _START] = at
        at += meta[r, _ROOM]
    return at


class _Kernels(NamedTuple):
    group: Callable[..., IntArray]
    add: Callable[..., tuple[int, int]]
    gather: Callable[..., int]
    merge_all: Callable[..., None]
    pack: Callable[..., int]


_HELPERS = ("_stable_order", "_kth_smallest", "_merge_pending", "_cut", "_free_list",
            "_pop_room", "_push_room")  # called by the kernels


def _make(jit: Callable[[Callable[..., Any]], Any]) -> _Kernels:
    return _Kernels(jit(_group_kernel), jit(_add_kernel), jit(_gather_kernel),
                    jit(_merge_all_kernel), jit(_pack_kernel))


def _kernels() -> _Kernels:
    return _KERNELS.get()


def compile_kernels() -> None:
    """Compile the kernels now (or load them from numba's cache): a server calls it as it
    starts, so that the first batch does not wait on it."""
    _kernels()


def warm_up() -> None:
    """Run each kernel once on tiny rows, so that its compilation (or loading from numba's
    cache) happens now (a server's start), not in the middle of the first batch or query:
    compiling takes ~10 s on a machine that has never run them."""
    rows = SparseRows(2)
    rows.add(np.array([0, 0, 0, 1]), np.array([3, 1, 3, 2]), np.array([1.0, 2.0, 3.0, 4.0]))
    rows.state("")
    rows.scale(0.5)
    rows.rows([0, 1])
    unbounded = SparseRows()
    unbounded.add(np.array([0, 0]), np.array([1, 2]), np.array([1.0, 2.0]))
    unbounded.state("")


_KERNELS = Kernels("sparse-row", globals(), _make, _HELPERS, warm_up)


def _no_free_rooms() -> IntArray:
    return np.full(_FREE_LISTS, -1, dtype=np.int64)


_SCALE, _CLEAR = 1.0, 2.0  # the changes besides additions a capture's log holds


def _no_changes() -> ChangeLog:
    """What rows were given since their base: additions (row, column, value, as given), and
    between them scalings (the factor) and clearings (the rows cleared)."""
    return ChangeLog((("rows", _COLUMNS), ("cols", _COLUMNS), ("vals", np.float64)),
                     "cleared", frozenset({_CLEAR}))


class SparseRows:
    def __init__(self, max_per_row: int | None = None) -> None:
        """``max_per_row``: the budget N of each row (see the module's doc); None: none."""
        if max_per_row is not None and max_per_row < 1:
            raise ValueError(f"max_per_row must be at least 1, not {max_per_row}")
        self.max_per_row = max_per_row
        self._n_rows = 0
        # each row's bookkeeping (_START, ...), with room for more rows: the first n_rows
        self._meta = np.zeros((0, 5), dtype=np.int64)
        self._slab_cols = np.zeros(0, dtype=_COLUMNS)
        self._slab_vals = np.zeros(0, dtype=np.float64)
        self._end = 0  # the slab's first unused entry
        self._free = _no_free_rooms()  # rooms rows left when they moved (``_FREE_LISTS``)
        self._changes = 0  # changes in place so far: a copy packed ahead is of one of them
        # the last base a capture gave, and what the rows were given since (models/
        # change_log.py; none before a capture: no change is kept for a snapshot none takes)
        self._by_changes = ByChanges(_no_changes())

    @property
    def n_rows(self) -> int:
        return self._n_rows

    def _ensure_rows(self, n: int) -> None:
        if n > self._n_rows:
            self._meta = grow(self._meta, n)  # room for twice as many: amortised O(1)
            self._n_rows = n

    def _column(self, which: int) -> IntArray:
        return self._meta[: self._n_rows, which]

    @property
    def row_limit(self) -> int | None:
        """The most entries a row holds between additions, or None: no budget."""
        return None if self.max_per_row is None else 2 * self.max_per_row - 1

    def row_size(self, row: int) -> int:
        """Entries row ``row`` holds, sorted and pending (a pending one may repeat)."""
        if row >= self._n_rows:
            return 0
        return int(self._meta[row, _SIZE] + self._meta[row, _PENDING])

    def row_sizes(self) -> IntArray:
        """``row_size`` of each row."""
        return self._column(_SIZE) + self._column(_PENDING)

    def add(self, rows: IntArray, cols: IntArray, vals: FloatArray) -> None:
        """Add ``vals`` at ``(rows, cols)``, in the order given; repeated coordinates
        accumulate."""
        if rows.size == 0:
            return
        self._changes += 1
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        cols = np.ascontiguousarray(cols, dtype=np.int64)
        vals = np.ascontiguousarray(vals, dtype=np.float64)
        last = int(rows.max())
        if int(rows.min()) < 0 or int(cols.min()) < 0 or int(cols.max()) > _MAX_COLUMN or \
                last > _MAX_COLUMN:
            raise ValueError(f"rows and columns must be in [0, {_MAX_COLUMN}]")
        if (log := self._by_changes.log) is not None:
            log.add(rows, cols, vals)
            self._by_changes.keep_in_bounds()
        self._ensure_rows(last + 1)
        kernels = _kernels()
        order = kernels.group(rows, self._n_rows)
        rows, cols, vals = rows[order], cols[order], vals[order]
        budget = self.max_per_row or 0
        done = 0
        while True:
            done, self._end = kernels.add(rows, cols, vals, done, self._meta, self._slab_cols,
                                          self._slab_vals, self._end, budget, 2 * budget,
                                          self._free)
            if done == rows.size:
                return
            self._pack()  # the slab is full: a new one, with room for the row that moves

    def _pack(self) -> None:
        """Every row moved side by side into a new slab, with their room, plus slack (and
        room for the largest move a row can make)."""
        self._put_packed(self._packed())

    def _put_packed(self, packed: tuple[IntArray, np.ndarray, FloatArray, int]) -> None:
        """A packed slab (``_packed``) in place: it has no free rooms."""
        self._meta, self._slab_cols, self._slab_vals, self._end = packed
        self._free = _no_free_rooms()

    def _packed(self) -> tuple[IntArray, np.ndarray, FloatArray, int]:
        """What ``_pack`` makes (bookkeeping, slab and its end), the rows left as they are."""
        rooms = self._column(_ROOM)
        largest = 2 * int(rooms.max(initial=0)) + _MIN_ROOM
        length = int(int(rooms.sum()) * _SLACK) + max(largest, 1024)
        meta = self._meta.copy()
        cols, vals = np.zeros(length, dtype=_COLUMNS), np.zeros(length, dtype=np.float64)
        end = _kernels().pack(self._n_rows, meta, self._slab_cols, self._slab_vals, cols, vals)
        return meta, cols, vals, end

    def make_room(self, ahead: float = _AHEAD) -> Callable[[], None] | None:
        """None while at least ``ahead`` of the slab is free; else the rows packed into a new
        slab now, reading only (readers may go on beside it), and the step that puts them in
        place, for the owner to take where it may change the rows (under its lock). That
        step does nothing if the rows changed in between: learning packs when it must,
        whatever."""
        free = self._slab_cols.shape[0] - self._end
        if free >= ahead * self._slab_cols.shape[0]:
            return None
        packed, changes, slab = self._packed(), self._changes, self._slab_cols

        def put_in_place() -> None:
            if self._changes == changes and self._slab_cols is slab:
                self._put_packed(packed)

        return put_in_place

    def row(self, row: int) -> tuple[IntArray, FloatArray]:
        """Columns (sorted, unique) and values of one row: copies, the caller's to keep."""
        cols, vals, _ = self.gather(np.array([row], dtype=np.int64))
        return cols, vals

    def gather(self, rows: IntArray,
               columns: type[np.integer[Any]] = np.int64) -> tuple[np.ndarray, FloatArray,
                                                                   IntArray]:
        """The entries of ``rows`` (rows past the last hold none), one row after another,
        pending parts merged in, and each row's number of entries: one compiled pass that
        leaves the rows as they are (readers run side by side). Columns as ``columns``."""
        rows = np.asarray(rows, dtype=np.int64)
        rows = np.where(rows < self._n_rows, rows, -1)
        known = rows[rows >= 0]
        held = int(self._meta[known, _SIZE].sum() + self._meta[known, _PENDING].sum())
        cols, vals = np.empty(held, dtype=columns), np.empty(held, dtype=np.float64)
        sizes = np.zeros(rows.size, dtype=np.int64)
        if held:
            used = _kernels().gather(rows, self._meta, self._slab_cols, self._slab_vals,
                                     cols, vals, sizes)
            cols, vals = cols[:used], vals[:used]
        return cols, vals, sizes

    def rows(self, rows: list[int]) -> list[tuple[IntArray, FloatArray]]:
        """``row`` for several rows, gathered in one pass."""
        cols, vals, sizes = self.gather(np.asarray(rows, dtype=np.int64))
        edges = np.cumsum(sizes)[:-1] if sizes.size else EMPTY_INTS
        return list(zip(np.split(cols, edges), np.split(vals, edges), strict=True))

    def clear(self, rows: IntArray) -> None:
        """Empty these rows (rows past the last hold none already), their room given up:
        the slab's next pack leaves it out, and a row's next entries start a small room (at
        the slab's end, or one a row that moved left). (Kept, a room would only grow: a
        row forgotten and taken by a light user would hold the largest room any earlier
        user of it needed.)"""
        self._changes += 1
        rows = np.asarray(rows, dtype=np.int64)
        rows = rows[rows < self._n_rows]
        if (log := self._by_changes.log) is not None:
            log.op_with_ids(_CLEAR, rows)
            self._by_changes.keep_in_bounds()
        for column in (_SIZE, _PENDING, _ADDED, _ROOM):
            self._meta[rows, column] = 0

    def scale(self, factor: float) -> None:
        """Multiply every stored value by ``factor`` (pending parts merged first: a value
        is its additions' sum, scaled)."""
        self._changes += 1
        if (log := self._by_changes.log) is not None:
            log.op(_SCALE, factor)
        if self._column(_PENDING).any():
            _kernels().merge_all(self._n_rows, self._meta, self._slab_cols, self._slab_vals)
        self._slab_vals[: self._end] *= factor

    def budget(self, setting: str, per: str) -> dict[str, Any]:
        """The rows against their budget, for ``/v1/admin/sizes``: how many rows, the
        largest now and the most one holds between additions (entries, sorted and
        pending), and bytes (12 per entry: an int32 column and a float64 value) now and at
        most for this many rows."""
        n = self._n_rows
        sizes = self.row_sizes()
        limit = self.row_limit
        return {"setting": setting, "budget": self.max_per_row, "per": per,
                "count": n, "largest": int(sizes.max()) if n else 0, "most": limit,
                "bytes": _ENTRY * int(sizes.sum()),
                "most_bytes": None if limit is None else _ENTRY * limit * n}

    def nnz(self) -> int:
        """Entries held, sorted and pending (a pending one may repeat)."""
        return int(self.row_sizes().sum())

    def frozen(self) -> FrozenRows:
        """The rows as they are now, as CSR arrays: later additions never reach them.
        Callers hold the owner's lock, as for a change (readers may go on beside it: the
        copy is compiled and runs outside the interpreter's lock)."""
        return FrozenRows(self.state(""))

    def state(self, prefix: str) -> dict[str, np.ndarray]:
        """CSR arrays (``indptr``, ``indices``, ``data``, and ``added`` with a budget: where
        the next cuts fall) under ``prefix``, pending parts merged in. The indices are int32,
        as the rows keep them: a snapshot's copy of co-occurrence is ~25% smaller, in
        memory while it is written and on disk."""
        n = self._n_rows
        indices, data, sizes = self.gather(np.arange(n, dtype=np.int64), _COLUMNS)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(sizes, out=indptr[1:])
        arrays = {f"{prefix}indptr": indptr, f"{prefix}indices": indices,
                  f"{prefix}data": data}
        if self.max_per_row is not None:
            arrays[f"{prefix}added"] = self._column(_ADDED).copy()
        return arrays

    def capture(self, prefix: str, holds: Callable[[str], bool]) -> dict[str, Any]:
        """``state`` for a snapshot, by its changes (models/change_log.py): the last base,
        while the snapshot store ``holds`` it, and the changes since (views, no copies);
        else ``state`` as a new base. ``restore`` reads either. Callers keep changes out
        meanwhile (the engine's cut); readers may go on beside."""
        return self._by_changes.capture(prefix, holds, lambda: self.state(prefix),
                                        lambda arrays: int(arrays[f"{prefix}indices"].size))

    def _give_again(self, changes: ChangeLog) -> None:
        """The changes a capture saved after its base, given again in their order: the
        additions between two other changes in one call (the rows are a function of the
        additions in order, whatever the batches: the module's doc)."""
        for step in changes.steps():
            if step.kind is None:
                rows, cols, vals = step.columns
                self.add(np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64),
                         vals)
            elif step.kind == _SCALE:
                self.scale(step.argument)
            elif step.kind == _CLEAR:
                self.clear(step.ids)
            else:
                raise ValueError(f"unknown change {step.kind} in a snapshot's changes")

    def restore(self, state: Mapping[str, np.ndarray], prefix: str) -> None:
        """The rows a ``state`` or a ``capture`` gave (its base, then its changes)."""
        indptr = np.asarray(state[f"{prefix}indptr"], dtype=np.int64)
        indices = np.asarray(state[f"{prefix}indices"])
        data = np.asarray(state[f"{prefix}data"], dtype=np.float64)
        if indices.size and int(indices.max()) > _MAX_COLUMN:
            raise ValueError(f"columns above {_MAX_COLUMN} cannot be restored")
        self.__init__(self.max_per_row)  # type: ignore[misc]
        n = indptr.shape[0] - 1
        # the additions a capture saved after the base, given again below: each row's room
        # holds them too, so that none moves while they are given and the slab is not
        # packed again and again (the rows they reach past the saved ones are made now)
        changes = self._by_changes.saved(state, prefix)  # none: a base, or a ``state``
        coming = np.bincount(changes.columns[0][: changes.added], minlength=n)
        total = coming.shape[0]
        self._ensure_rows(total)
        # the saved arrays packed into a slab, each row with the room learning would have
        # given it (``doubled_rooms``; none for an empty row): with just its entries as
        # room, every row the log's tail touched moved to the slab's end at its first
        # addition, and the slab was packed again and again (a crash's replay at 3M events
        # spent 10% of its time there)
        sizes = np.zeros(total, dtype=np.int64)
        sizes[:n] = np.diff(indptr)
        self._meta[:n, _START] = indptr[:-1]
        self._meta[:total, _SIZE] = sizes
        budget = self.max_per_row or 0
        limit = 2 * budget
        wanted = sizes + coming  # entries each row will have held, before any cut
        rooms = doubled_rooms(wanted, _MIN_ROOM, limit)
        if limit:  # a row at its budget or past it is cut before it leaves the limit's room,
            # and grows into it: given now, it does not move again (the largest rooms are
            # the ones no row leaves, so each move to one was the slab's end)
            rooms = np.where(wanted >= budget, np.maximum(rooms, limit), rooms)
        self._meta[:total, _ROOM] = np.where(wanted > 0, rooms, 0)
        self._slab_cols = np.asarray(indices, dtype=_COLUMNS)
        self._slab_vals = data
        self._pack()  # copies: the saved arrays are left as they are
        added = state.get(f"{prefix}added")
        as_saved = True  # the rows are the saved ones: no budget cut them
        if self.max_per_row is not None:
            as_saved = added is not None and added.shape[0] == n and \
                bool((added < self.max_per_row).all())
            if added is not None and added.shape[0] == n:
                self._meta[:n, _ADDED] = np.minimum(added, self.max_per_row - 1)
            limit = self.row_limit or 0
            for row in np.flatnonzero(self._column(_SIZE) > limit).tolist():  # saved
                self._cut(row)  # without this budget: cut to it
                as_saved = False
        self._give_again(changes)
        if as_saved:  # a capture's: carry on from its base and changes
            self._by_changes.carry_on(
                state, prefix, [f"{prefix}{key}" for key in ("indptr", "indices", "data",
                                                              "added")],
                int(indices.size), changes)

    def _cut(self, row: int) -> None:
        """Keep the row's ``max_per_row`` largest entries by magnitude (ties: the lower
        columns), as the compiled cut does; its count of additions starts again. The row has
        no pending part (it was just restored)."""
        assert self.max_per_row is not None
        self._meta[row, _ADDED] = 0
        start, size = int(self._meta[row, _START]), int(self._meta[row, _SIZE])
        if size <= self.max_per_row:
            return
        vals = self._slab_vals[start:start + size]
        keep = np.sort(np.argsort(-np.abs(vals), kind="stable")[: self.max_per_row])
        self._slab_cols[start:start + keep.size] = self._slab_cols[start:start + size][keep]
        self._slab_vals[start:start + keep.size] = vals[keep]
        self._meta[row, _SIZE] = keep.size


class FrozenRows:
    """The CSR arrays of ``SparseRows`` at one moment (``SparseRows.frozen``)."""

    def __init__(self, arrays: Mapping[str, np.ndarray]) -> None:
        # nothing writes them: a snapshot holding a pending fit's data hashes them once
        self._arrays = {key: unchanging(value) for key, value in arrays.items()}
        self.n_rows = int(self._arrays["indptr"].shape[0]) - 1

    def csr(self, prefix: str = "") -> dict[str, np.ndarray]:
        return {f"{prefix}{key}": value for key, value in self._arrays.items()}

    @classmethod
    def from_csr(cls, arrays: Mapping[str, np.ndarray], prefix: str = "") -> FrozenRows:
        """The frozen rows whose ``csr(prefix)`` gave ``arrays`` (a begun fit's data, read
        back from a snapshot)."""
        names = ("indptr", "indices", "data", "added")
        return cls({key: np.asarray(arrays[f"{prefix}{key}"]) for key in names
                    if f"{prefix}{key}" in arrays})


class RefitsOnRows:
    """``data_arrays`` and ``data_from`` (models/base.py's ``Refittable``) of a model whose
    fit's data is a frozen copy of its ``SparseRows`` (ALS, EASE): the CSR arrays, under
    ``rows_``."""

    def data_arrays(self, data: FrozenRows) -> dict[str, Any]:
        return data.csr("rows_")

    def data_from(self, arrays: Mapping[str, np.ndarray]) -> FrozenRows:
        return FrozenRows.from_csr(arrays, "rows_")
