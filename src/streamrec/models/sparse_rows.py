"""A sparse square matrix that takes many small additions per second and reads rows fast.

Each row is a pair of sorted arrays (columns, values) plus a buffer of pending additions;
a row is compacted when its pending part grows past a fraction of its size, so the cost of an
addition is amortised O(1) and reading a row never scans other rows.

Pending additions are copied into growable per-row buffers (``array.array``), not kept as
views of the batch they came in: a view of a few entries keeps the whole batch's arrays
alive, and a row that compacts rarely kept hundreds of batches alive (in a soak, 5x the
memory of the rows themselves). One buffer per row holds (column, value) pairs interleaved
as float64 (columns are exact below 2**53): one copy per row and batch instead of two, in
the loop that was most of the learning time.

Reading a row compacts it first, and reads run side by side (engine/rwlock.py: many readers,
or the one writer), so compaction and the reads that may compact hold ``_compacting``: two
readers compacting the same row at once would add its pending part twice.

A row may have a budget (``max_per_row``, N): each time a row has taken N more additions since
it was last cut, it is compacted and cut to its N largest entries by magnitude (ties: the lower
column). The cuts fall after fixed additions of the row, in the order they were given, whatever
batches they came in and whenever reads compacted the row, so the rows stay a function of the
additions: a replay of the same additions, batched otherwise, cuts at the same places. A row
then never holds more than 2N - 1 entries (compacted or pending), however long the stream.

A row's arrays are never changed in place (compaction and scaling assign new ones), so
``frozen`` can share them: a consistent copy costs O(rows) under the owner's lock, and the
O(non-zeros) work of building CSR arrays from it runs later, off the lock (a snapshot writer,
a refit's thread). At 5M events, building them under the lock took 29% of the learner's time.
The pending buffers are shared too, copy-on-write: the one thing that changes a buffer in
place is an addition, and a row's first addition after a ``frozen`` gives the row a copy of
its own (``_owned``). Copying every pending buffer in ``frozen`` itself took 0.3-0.8 s at 1M
events (200k rows pending), under the read lock a snapshot takes and holding
``_compacting``: the readers that compact a row waited all that time (a recommendation p99
above 100 ms whenever a snapshot fell due).
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Mapping
from typing import Any

import numpy as np

from streamrec.types import EMPTY_FLOATS, EMPTY_INTS, FloatArray, IntArray

_MIN_PENDING = 64
_PAIR = 16  # bytes per pending (column, value) pair: two float64
_CSR_BLOCK = 4096  # rows merged at a time when CSR arrays are built (``_csr``)


def _pairs(buffer: bytes | array[float]) -> tuple[IntArray, FloatArray]:
    """Columns and values of interleaved pending pairs."""
    pairs = np.frombuffer(buffer, dtype=np.float64).reshape(-1, 2)
    return pairs[:, 0].astype(np.int64), pairs[:, 1]


def _merged(keys: IntArray, vals: FloatArray, added: IntArray,
            added_vals: FloatArray) -> tuple[IntArray, FloatArray]:
    """Sorted unique ``keys`` with ``vals`` (changed in place) and the additions summed in:
    to a key present, in the order given (as ``np.add.at`` adds); new keys inserted, each
    the sum of its additions in order."""
    slots = np.searchsorted(keys, added)
    present = slots < keys.size
    present[present] = keys[slots[present]] == added[present]
    np.add.at(vals, slots[present], added_vals[present])
    if not present.all():
        new_keys, inverse = np.unique(added[~present], return_inverse=True)
        new_vals = np.bincount(inverse, weights=added_vals[~present], minlength=new_keys.size)
        at = np.searchsorted(keys, new_keys)
        keys, vals = np.insert(keys, at, new_keys), np.insert(vals, at, new_vals)
    return keys, vals


class SparseRows:
    def __init__(self, max_per_row: int | None = None) -> None:
        """``max_per_row``: the budget N of each row (see the module's doc); None: none."""
        if max_per_row is not None and max_per_row < 1:
            raise ValueError(f"max_per_row must be at least 1, not {max_per_row}")
        self.max_per_row = max_per_row
        # per row (arrays with room to grow: their first n_rows count): additions since it
        # was last cut (rows with a budget only), entries compacted, and entries pending.
        # Arrays, so that a batch's bookkeeping is a few numpy calls, not a loop over rows
        self._added = np.zeros(0, dtype=np.int64)
        self._sizes = np.zeros(0, dtype=np.int64)
        self._pending_n = np.zeros(0, dtype=np.int64)
        self._cols: list[IntArray] = []
        self._vals: list[FloatArray] = []
        # None: nothing pending (most rows, most of the time: no buffer is kept for them)
        self._pending: list[array[float] | None] = []
        # per row: its pending buffer is its own, not shared with a ``frozen`` copy
        self._owned = np.zeros(0, dtype=bool)
        self._compacting = threading.RLock()  # readers compact too (see the module's doc)

    @property
    def n_rows(self) -> int:
        return len(self._cols)

    def _ensure_rows(self, n: int) -> None:
        more = n - len(self._cols)
        if more > 0:
            self._cols.extend([EMPTY_INTS] * more)
            self._vals.extend([EMPTY_FLOATS] * more)
            self._pending.extend([None] * more)
            if n > self._sizes.size:  # room for twice as many: growing is amortised O(1)
                room = max(n, 2 * self._sizes.size)
                self._added, self._sizes, self._pending_n = (
                    np.concatenate((a, np.zeros(room - a.size, dtype=np.int64)))
                    for a in (self._added, self._sizes, self._pending_n))
                self._owned = np.concatenate((self._owned,
                                              np.zeros(room - self._owned.size, dtype=bool)))

    def _set_row(self, row: int, cols: IntArray, vals: FloatArray) -> None:
        """A row's compacted entries, new arrays (never changed in place: see the module's
        doc)."""
        self._cols[row], self._vals[row] = cols, vals
        self._sizes[row] = cols.size

    @property
    def row_limit(self) -> int | None:
        """The most entries a row can hold (compacted and pending), or None: no budget."""
        return None if self.max_per_row is None else 2 * self.max_per_row - 1

    def row_size(self, row: int) -> int:
        """Entries row ``row`` holds, compacted and pending (a pending one may repeat)."""
        if row >= len(self._cols):
            return 0
        return int(self._sizes[row] + self._pending_n[row])

    def add(self, rows: IntArray, cols: IntArray, vals: FloatArray) -> None:
        """Add ``vals`` at ``(rows, cols)``; repeated coordinates accumulate."""
        if rows.size == 0:
            return
        self._ensure_rows(int(rows.max()) + 1)
        order = np.argsort(rows, kind="stable")
        rows = rows[order]
        pairs = np.empty((rows.size, 2), dtype=np.float64)
        pairs[:, 0] = cols[order]
        pairs[:, 1] = vals[order]
        # np.r_ is slow on this hot path; build the boundaries directly
        boundary = np.empty(rows.size, dtype=bool)
        boundary[0] = True
        np.not_equal(rows[1:], rows[:-1], out=boundary[1:])
        starts = np.flatnonzero(boundary)
        ends = np.append(starts[1:], rows.size)
        pair_bytes = pairs.data.cast("B")
        segment_rows = rows[starts]
        while segment_rows.size:
            segment_rows, starts, ends = self._append(segment_rows, starts, ends, pair_bytes)
            if segment_rows.size:  # rows that reached their budget: cut them, then add
                cut = segment_rows.tolist()  # what followed
                self._compact_many([row for row in cut if self._pending[row] is not None])
                for row in cut:
                    self._cut(row)
                more = ends > starts
                segment_rows, starts, ends = segment_rows[more], starts[more], ends[more]
        del pair_bytes

    def _append(self, rows: IntArray, starts: IntArray, ends: IntArray,
                pair_bytes: memoryview) -> tuple[IntArray, IntArray, IntArray]:
        """Buffer the pending pairs ``starts[n]:ends[n]`` of each of ``rows`` (distinct);
        compact the rows whose pending part outgrew them. A row with a budget takes pairs up
        to its next cut only: those that reached it are returned with the ranges after,
        for after the cut."""
        budget = self.max_per_row
        taken = ends - starts
        if budget is not None:
            added = self._added[rows]
            room = budget - added  # at least 1: a row is cut when it reaches its budget
            full = taken >= room
            taken = np.minimum(taken, room)
            self._added[rows] = added + taken
            rest = rows[full], starts[full] + room[full], ends[full]
        else:
            rest = EMPTY_INTS, EMPTY_INTS, EMPTY_INTS
        pending = self._pending
        for row in rows[~self._owned[rows]].tolist():  # shared with a frozen copy: copy it
            buffer = pending[row]
            if buffer is not None:
                pending[row] = buffer[:]
        self._owned[rows] = True
        for row, start, end in zip(rows.tolist(), (starts * _PAIR).tolist(),
                                   ((starts + taken) * _PAIR).tolist(), strict=True):
            buffer = pending[row]
            if buffer is None:
                buffer = pending[row] = array("d")
            buffer.frombytes(pair_bytes[start:end])
        waiting = self._pending_n[rows] + taken
        self._pending_n[rows] = waiting
        self._compact_many(rows[waiting > np.maximum(self._sizes[rows], _MIN_PENDING)].tolist())
        return rest

    def _cut(self, row: int) -> None:
        """Keep the row's ``max_per_row`` largest entries by magnitude (ties: the lower
        columns); the row is compacted. Its count of additions starts again."""
        assert self.max_per_row is not None
        self._added[row] = 0
        cols, vals = self._cols[row], self._vals[row]
        excess = cols.size - self.max_per_row
        if excess <= 0:
            return
        magnitude = np.abs(vals)
        threshold = np.partition(magnitude, excess)[excess]  # the smallest value kept
        keep = magnitude > threshold
        ties = np.flatnonzero(magnitude == threshold)  # by column: rows are sorted
        keep[ties[: self.max_per_row - int(np.count_nonzero(keep))]] = True
        self._set_row(row, cols[keep], vals[keep])

    def _pending_rows(self) -> list[int]:
        return np.flatnonzero(self._pending_n[: self.n_rows]).tolist()

    def _clear_pending(self, row: int) -> None:
        self._pending[row] = None
        self._pending_n[row] = 0

    def _compact_many(self, rows: list[int]) -> None:
        """Compact several rows (each with pending additions) in one vectorised pass."""
        if len(rows) < 2:
            for row in rows:
                self._compact(row)
            return
        self._compact_incrementally(sorted(rows))

    def _compact(self, row: int) -> None:
        pending = self._pending[row]
        if pending is None:
            return
        added_cols, added_vals = _pairs(pending)
        # most additions hit columns the row already has: added in place, the rest inserted
        cols, vals = _merged(self._cols[row], self._vals[row].copy(), added_cols, added_vals)
        # assign new arrays rather than mutate: a concurrent reader keeps a consistent row
        self._set_row(row, cols, vals)
        self._clear_pending(row)

    def row(self, row: int) -> tuple[IntArray, FloatArray]:
        """Columns (sorted, unique) and values of one row.

        Reading compacts the row first: many tiny pending parts are slow to concatenate on
        every read, and a row that is read once is usually read again. Readers may call it
        side by side (``_compacting``); writers are alone (the owner's lock)."""
        if row >= len(self._cols):
            return EMPTY_INTS, EMPTY_FLOATS
        with self._compacting:
            self._compact(row)
            return self._cols[row], self._vals[row]

    def rows(self, rows: list[int]) -> list[tuple[IntArray, FloatArray]]:
        """``row`` for several rows; those with pending additions are compacted together in
        one vectorised pass (a query reads ~50 rows: per row, ``_compact``'s dozen numpy
        calls cost ~40 us). The same sums, added in the same order, as ``_compact``."""
        with self._compacting:
            due = sorted({r for r in rows
                          if r < len(self._cols) and self._pending[r] is not None})
            if len(due) > 1:
                self._compact_incrementally(due)
            return [self.row(r) for r in rows]

    def _compact_incrementally(self, rows: list[int]) -> None:
        """``_compact`` for each of ``rows`` (sorted, each with pending additions) at once:
        rows are told apart by a key ``rank * n_columns + column``, sorted like the rows."""
        pending = [p for p in (self._pending[r] for r in rows) if p is not None]
        # one join of the buffers: a numpy view per row cost ~1 us each, 30x the join
        added_cols, added_vals = _pairs(b"".join(pending))
        old_cols = [self._cols[r] for r in rows]
        width = max(int(added_cols.max()), max(int(c[-1]) if c.size else 0
                                                for c in old_cols)) + 1
        base_sizes = np.fromiter((c.size for c in old_cols), dtype=np.int64, count=len(rows))
        added_sizes = np.fromiter((len(p) // 2 for p in pending), dtype=np.int64,
                                  count=len(rows))
        ranks = np.arange(len(rows), dtype=np.int64) * width
        keys = np.concatenate(old_cols) + np.repeat(ranks, base_sizes)
        vals = np.concatenate([self._vals[r] for r in rows])  # a copy: rows stay untouched
        keys, vals = _merged(keys, vals, added_cols + np.repeat(ranks, added_sizes), added_vals)
        edges = np.searchsorted(keys, ranks).tolist() + [keys.size]
        cols = keys - np.repeat(ranks, np.diff(edges))
        for n, row in enumerate(rows):
            # copies: a row never pins the others' arrays in memory
            self._set_row(row, cols[edges[n]:edges[n + 1]].copy(),
                          vals[edges[n]:edges[n + 1]].copy())
            self._clear_pending(row)

    def row_parts(self, row: int) -> tuple[IntArray, FloatArray]:
        """The row without compacting it: columns may repeat (callers sum them). Cheaper than
        ``row`` for a caller that aggregates anyway and reads each row once per write."""
        if row >= len(self._cols):
            return EMPTY_INTS, EMPTY_FLOATS
        with self._compacting:  # not beside a reader's compaction of this row
            pending = self._pending[row]
            if pending is None:
                return self._cols[row], self._vals[row]
            added_cols, added_vals = _pairs(pending)
            return (np.concatenate((self._cols[row], added_cols)),
                    np.concatenate((self._vals[row], added_vals)))

    def scale(self, factor: float) -> None:
        """Multiply every stored value by ``factor``."""
        self._compact_many(self._pending_rows())
        for row in range(len(self._cols)):
            self._vals[row] = self._vals[row] * factor

    def budget(self, setting: str, per: str) -> dict[str, Any]:
        """The rows against their budget, for ``/v1/admin/sizes``: how many rows, the
        largest now and the most one can hold (entries), and bytes (16 per entry: a column
        and a float64 value, compacted or pending) now and at most for this many rows."""
        n = self.n_rows
        sizes = self._sizes[:n] + self._pending_n[:n]
        limit = self.row_limit
        return {"setting": setting, "budget": self.max_per_row, "per": per,
                "count": n, "largest": int(sizes.max()) if n else 0, "most": limit,
                "bytes": _PAIR * int(sizes.sum()),
                "most_bytes": None if limit is None else _PAIR * limit * n}

    def nnz(self) -> int:
        return int(self._sizes.sum() + self._pending_n.sum())

    def frozen(self) -> FrozenRows:
        """The rows as they are now, for reading later from any thread: O(rows), sharing
        the rows' arrays and pending buffers (copy-on-write, see the module's doc). Callers
        hold the owner's lock while it is taken, as for a mutation; readers may go on beside
        it (a snapshot is taken under the read lock), so it holds ``_compacting`` too: a
        reader's compaction between the copies of the row arrays and of their sizes and
        buffers made a copy whose pending rows had no buffer, and whose sizes did not match
        its rows."""
        copy = SparseRows(self.max_per_row)
        with self._compacting:
            copy._cols, copy._vals = list(self._cols), list(self._vals)
            copy._added, copy._sizes = self._added.copy(), self._sizes.copy()
            copy._pending_n = self._pending_n.copy()
            copy._pending = list(self._pending)
            copy._owned = np.zeros(self._owned.size, dtype=bool)  # it never takes additions
            self._owned[:] = False
        return FrozenRows(copy)

    def state(self, prefix: str) -> dict[str, np.ndarray]:
        """Compacted CSR arrays (``indptr``, ``indices``, ``data``) under ``prefix``; the rows
        themselves are left as they are."""
        return self.frozen().csr(prefix)

    def _csr(self, prefix: str) -> dict[str, np.ndarray]:
        """The rows with their pending parts summed in, as compaction sums them (the same
        additions in the same order), a block of rows at a time: compacting each pending row
        first was a Python loop over every row (200k at 1M events) in the thread that builds
        a snapshot's or a refit's arrays, and one pass over all rows at once made numpy calls
        over tens of millions of entries, each holding the interpreter's lock from the
        readers beside it for up to ~100 ms. The rows themselves are left as they are."""
        n = self.n_rows
        due = np.asarray(self._pending_rows(), dtype=np.int64)
        parts = [self._csr_block(start, min(n, start + _CSR_BLOCK), due)
                 for start in range(0, n, _CSR_BLOCK)]
        sizes = np.concatenate([size for _, _, size in parts]) if parts else EMPTY_INTS
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(sizes, out=indptr[1:])
        indices = np.concatenate([cols for cols, _, _ in parts]) if parts else EMPTY_INTS
        data = np.concatenate([vals for _, vals, _ in parts]) if parts else EMPTY_FLOATS
        arrays = {f"{prefix}indptr": indptr, f"{prefix}indices": indices, f"{prefix}data": data}
        if self.max_per_row is not None:  # where the next cuts fall: part of the state
            arrays[f"{prefix}added"] = self._added[: self.n_rows].copy()
        return arrays

    def _csr_block(self, start: int, stop: int,
                   due: IntArray) -> tuple[IntArray, FloatArray, IntArray]:
        """Rows ``start:stop``'s columns, values and sizes, pending parts summed in
        (``due``: the rows with pending parts, sorted)."""
        indices = np.concatenate(self._cols[start:stop])
        data = np.concatenate(self._vals[start:stop])  # a new array: changed below
        sizes = self._sizes[start:stop]
        block_due = due[(due >= start) & (due < stop)].tolist()
        if not block_due:
            return indices, data, sizes.copy()
        added_cols, added_vals = _pairs(b"".join([self._pending[r] or b""
                                                  for r in block_due]))
        width = max(int(added_cols.max()), int(indices.max()) if indices.size else 0) + 1
        keys = np.repeat(np.arange(stop - start, dtype=np.int64) * width, sizes) + indices
        added = np.repeat((np.asarray(block_due, dtype=np.int64) - start) * width,
                          self._pending_n[block_due]) + added_cols
        keys, data = _merged(keys, data, added, added_vals)
        rows = keys // width
        return keys - rows * width, data, np.bincount(rows, minlength=stop - start)

    def restore(self, state: Mapping[str, np.ndarray], prefix: str) -> None:
        indptr = np.asarray(state[f"{prefix}indptr"], dtype=np.int64)
        indices = np.asarray(state[f"{prefix}indices"], dtype=np.int64)
        data = np.asarray(state[f"{prefix}data"], dtype=np.float64)
        self.__init__(self.max_per_row)  # type: ignore[misc]
        n = indptr.shape[0] - 1
        self._ensure_rows(n)
        # each row a view of the saved arrays, made in one pass over the bounds as Python
        # ints (indexing ``indptr`` per row: 0.1 s per 100k rows, for each of three such)
        bounds = indptr.tolist()
        spans = list(zip(bounds[:-1], bounds[1:], strict=True))
        self._cols = [indices[start:end] for start, end in spans]
        self._vals = [data[start:end] for start, end in spans]
        self._sizes[:n] = np.diff(indptr)
        added = state.get(f"{prefix}added")
        if self.max_per_row is not None:
            if added is not None and added.shape[0] == n:
                self._added[:n] = np.minimum(added, self.max_per_row - 1)
            limit = self.row_limit or 0
            for row in np.flatnonzero(self._sizes > limit).tolist():  # saved without this
                self._cut(row)  # budget: cut to it


class FrozenRows:
    """A consistent copy of ``SparseRows`` (see ``SparseRows.frozen``); its CSR arrays are
    built once, by whichever thread asks first."""

    def __init__(self, rows: SparseRows) -> None:
        self._rows: SparseRows | None = rows
        self._arrays: dict[str, np.ndarray] | None = None
        self._lock = threading.Lock()
        self.n_rows = rows.n_rows
        self._bounded = rows.max_per_row is not None

    def csr(self, prefix: str = "") -> dict[str, np.ndarray]:
        with self._lock:
            if self._arrays is None:
                assert self._rows is not None
                self._arrays = self._rows._csr("")
                self._rows = None  # the copy's row lists are no longer needed
        return {f"{prefix}{key}": value for key, value in self._arrays.items()}

    @classmethod
    def from_csr(cls, arrays: Mapping[str, np.ndarray], prefix: str = "") -> FrozenRows:
        """The frozen rows whose ``csr(prefix)`` gave ``arrays`` (a begun fit's data, read
        back from a snapshot): ``csr`` returns them as they are."""
        frozen = cls(SparseRows())
        names = ("indptr", "indices", "data", "added")
        frozen._arrays = {key: np.asarray(arrays[f"{prefix}{key}"]) for key in names
                          if f"{prefix}{key}" in arrays}
        frozen._rows = None
        frozen.n_rows = int(frozen._arrays["indptr"].shape[0]) - 1
        frozen._bounded = "added" in frozen._arrays
        return frozen

    def deferred(self, prefix: str) -> dict[str, DeferredArray]:
        """The CSR arrays as placeholders that numpy turns into arrays when it first reads
        them (``np.asarray``, ``np.savez``): a snapshot taken under the lock and written by
        another thread builds them there."""
        keys = ["indptr", "indices", "data"] + (["added"] if self._bounded else [])
        return {f"{prefix}{key}": DeferredArray(self, key) for key in keys}


class DeferredArray:
    """One of a ``FrozenRows``' CSR arrays, built on first use."""

    def __init__(self, rows: FrozenRows, key: str) -> None:
        self._rows, self._key = rows, key

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        array = self._rows.csr()[self._key]
        return array if dtype is None else array.astype(dtype)


class RefitsOnRows:
    """``data_arrays`` and ``data_from`` (models/base.py's ``Refittable``) of a model whose
    fit's data is a frozen copy of its ``SparseRows`` (ALS, EASE): the CSR arrays, under
    ``rows_``, deferred until a snapshot writes them."""

    def data_arrays(self, data: FrozenRows) -> dict[str, Any]:
        return dict(data.deferred("rows_"))

    def data_from(self, arrays: Mapping[str, np.ndarray]) -> FrozenRows:
        return FrozenRows.from_csr(arrays, "rows_")
