"""SparseRows (models/sparse_rows.py): sums like a dense matrix, and pending additions hold
only their own entries, never the batch they came in."""

from __future__ import annotations

import threading

import numpy as np

from streamrec.engine.sizes import _Walker
from streamrec.models.sparse_rows import _CSR_BLOCK, FrozenRows, SparseRows

N = 50


def dense_of(rows: SparseRows, compact: bool) -> np.ndarray:
    dense = np.zeros((N, N))
    for row in range(rows.n_rows):
        cols, vals = rows.row(row) if compact else rows.row_parts(row)
        np.add.at(dense[row], cols, vals)
    return dense


def fill(rows: SparseRows, rng: np.random.Generator, batches: int, size: int) -> np.ndarray:
    """``batches`` random additions of ``size`` entries to ``rows``; their dense sum."""
    expected = np.zeros((N, N))
    for _ in range(batches):
        r, c, v = rng.integers(0, N, size), rng.integers(0, N, size), rng.normal(size=size)
        rows.add(r, c, v)
        np.add.at(expected, (r, c), v)
    return expected


def test_additions_sum_like_a_dense_matrix_through_compactions_and_state() -> None:
    rng = np.random.default_rng(3)
    rows, expected = SparseRows(), np.zeros((N, N))
    for _ in range(300):
        size = int(rng.integers(1, 200))
        r, c = rng.integers(0, N, size), rng.integers(0, N, size)
        v = rng.normal(size=size)
        rows.add(r, c, v)
        np.add.at(expected, (r, c), v)
    np.testing.assert_allclose(dense_of(rows, compact=False), expected, atol=1e-9)
    np.testing.assert_allclose(dense_of(rows, compact=True), expected, atol=1e-9)
    rows.scale(0.5)
    restored = SparseRows()
    restored.restore(rows.state("x_"), "x_")
    np.testing.assert_allclose(dense_of(restored, compact=True), expected / 2, atol=1e-9)
    assert restored.nnz() == rows.nnz() == np.count_nonzero(expected)
    for row in range(N):
        cols, _ = restored.row(row)
        assert np.all(np.diff(cols) > 0)  # sorted, unique


def test_pending_additions_do_not_keep_their_batches_alive() -> None:
    # one big row that compacts rarely gets one entry from each of many big batches
    rows = SparseRows()
    rows.add(np.zeros(5_000, np.int64), np.arange(5_000), np.ones(5_000))
    for _ in range(500):
        size = 10_000
        r = np.ones(size, dtype=np.int64)  # row 1 gets most of the batch...
        r[0] = 0  # ...and row 0 (5,000 columns: compacts after 5,000 pending) one entry
        rows.add(r, np.arange(size) % 1_000, np.ones(size))
    # a view per batch would have kept 500 x 160 KB alive; buffers hold 500 entries
    assert _Walker().size(rows) < 1_000_000
    cols, vals = rows.row(0)
    assert cols.size == 5_000 and vals[0] == 501.0


def test_a_frozen_copy_keeps_the_moment_it_was_taken_and_leaves_the_rows_alone() -> None:
    """What a snapshot or a refit takes under the lock: later additions, compactions and
    scaling of the live rows never reach it, and taking it compacts nothing live."""
    rng = np.random.default_rng(5)
    rows = SparseRows()
    expected = fill(rows, rng, 100, 50)
    pending_before = rows._pending_rows()
    assert pending_before  # the copy must carry pending additions too
    frozen = rows.frozen()
    deferred = frozen.deferred("p_")
    assert rows._pending_rows() == pending_before
    for _ in range(100):  # the live rows go on: more additions, compactions, a scaling
        r, c, v = rng.integers(0, N, 50), rng.integers(0, N, 50), rng.normal(size=50)
        rows.add(r, c, v)
        rows.row(int(r[0]))
    rows.scale(0.25)
    at_the_time = SparseRows()
    at_the_time.restore({k: np.asarray(v) for k, v in deferred.items()}, "p_")
    np.testing.assert_allclose(dense_of(at_the_time, compact=True), expected, atol=1e-9)
    assert frozen.csr()["data"] is np.asarray(deferred["p_data"])  # built once


def test_frozen_copies_share_pending_buffers_until_the_live_rows_add_to_them() -> None:
    """Copy-on-write: a copy takes O(rows), sharing the pending buffers; the live row's next
    addition copies its buffer first, so each of several copies keeps its own moment (the
    rows as the same additions up to then, never frozen, have them), cuts included."""
    rng = np.random.default_rng(9)
    rows = SparseRows(max_per_row=30)
    copies = []
    for _ in range(3):
        fill(rows, rng, 40, 20)
        copies.append(rows.frozen())
        row = rows._pending_rows()[0]
        assert copies[-1]._rows._pending[row] is rows._pending[row]  # shared, not copied
    fill(rows, rng, 40, 20)
    for n, copy in enumerate(copies, start=1):
        at_the_time = SparseRows(max_per_row=30)
        at_the_time.restore(copy.csr("p_"), "p_")
        never_frozen = SparseRows(max_per_row=30)
        fill(never_frozen, np.random.default_rng(9), 40 * n, 20)
        np.testing.assert_allclose(dense_of(at_the_time, compact=True),
                                   dense_of(never_frozen, compact=True), atol=1e-9)
    never_frozen = SparseRows(max_per_row=30)
    fill(never_frozen, np.random.default_rng(9), 160, 20)
    np.testing.assert_allclose(dense_of(rows, compact=True),
                               dense_of(never_frozen, compact=True), atol=1e-9)


def test_readers_compacting_the_same_rows_side_by_side_add_each_addition_once() -> None:
    # reads compact (models/sparse_rows.py) and run side by side (engine/rwlock.py): many
    # rows with small pending parts, read by several threads released at the same moment
    for seed in range(20):
        rows = SparseRows()
        expected = fill(rows, np.random.default_rng(seed), 40, 30)
        start = threading.Barrier(4)
        seen: list[np.ndarray] = []

        def read(rows: SparseRows, start: threading.Barrier, seen: list[np.ndarray]) -> None:
            start.wait()
            dense = np.zeros((N, N))
            wanted = list(range(N))
            for (cols, vals), row in zip(rows.rows(wanted), wanted, strict=True):
                np.add.at(dense[row], cols, vals)
            seen.append(dense)

        threads = [threading.Thread(target=read, args=(rows, start, seen)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for dense in [*seen, dense_of(rows, compact=True)]:
            np.testing.assert_allclose(dense, expected, atol=1e-9)


class _PausingRows(SparseRows):
    """Rows whose reader stops in the middle of a compaction: a row's new arrays are set, its
    pending buffer not yet cleared (until ``go``)."""

    def __init__(self) -> None:
        super().__init__()
        self.pause_in: threading.Thread | None = None
        self.midway, self.go = threading.Event(), threading.Event()

    def _clear_pending(self, row: int) -> None:
        if threading.current_thread() is self.pause_in and not self.midway.is_set():
            self.midway.set()
            self.go.wait(10)
        super()._clear_pending(row)


def test_a_frozen_copy_taken_beside_a_compacting_reader_waits_for_it() -> None:
    """A snapshot is taken under the read lock, so readers compact beside it: the copy
    must not see a row half compacted (its new arrays with its old pending part: counted
    twice). It once did, and a snapshot writer then failed building its arrays."""
    rows = _PausingRows()
    expected = fill(rows, np.random.default_rng(11), 40, 30)
    assert len(rows._pending_rows()) > 1
    reader = threading.Thread(target=rows.rows, args=(list(range(N)),))
    rows.pause_in = reader
    reader.start()
    assert rows.midway.wait(10)
    copies: list[FrozenRows] = []
    taker = threading.Thread(target=lambda: copies.append(rows.frozen()))
    taker.start()
    taker.join(1.0)  # the broken copy was taken at once, mid-compaction
    rows.go.set()
    reader.join()
    taker.join()
    at_the_time = SparseRows()
    at_the_time.restore(copies[0].csr("p_"), "p_")
    np.testing.assert_allclose(dense_of(at_the_time, compact=True), expected, atol=1e-9)


def test_a_restore_views_each_saved_row_and_cuts_only_those_over_a_new_budget() -> None:
    """Rows saved without a budget, restored with one: each row reads back as saved, but
    those over the new budget's limit, which keep their ``max_per_row`` largest entries."""
    rows = SparseRows()
    sizes = [0, 3, 5, 6, 2, 9]  # limit 2 * 3 - 1 = 5: rows 3 and 5 are over it
    for row, size in enumerate(sizes):
        if size:
            cols = np.arange(size, dtype=np.int64) * 3
            rows.add(np.full(size, row, dtype=np.int64), cols, (cols + 1.0) * (-1.0) ** cols)
    saved = rows.state("r_")
    restored = SparseRows(3)
    restored.restore(saved, "r_")
    assert restored.n_rows == len(sizes)
    for row, size in enumerate(sizes):
        cols, vals = restored.row(row)
        want_cols, want_vals = rows.row(row)
        if size > 5:  # the three largest by magnitude: the last three columns
            want_cols, want_vals = want_cols[-3:], want_vals[-3:]
        assert cols.tolist() == want_cols.tolist() and vals.tolist() == want_vals.tolist()


def test_csr_arrays_built_block_by_block_equal_the_rows_compacted_one_by_one() -> None:
    """Across blocks of rows (``_CSR_BLOCK``), pending parts included, the CSR arrays are
    the compacted rows', bit for bit: the same additions, summed in the same order."""
    rng = np.random.default_rng(11)
    rows = SparseRows(max_per_row=40)
    n_rows = 2 * _CSR_BLOCK + 123
    for _ in range(30):
        size = 5_000
        rows.add(rng.integers(0, n_rows, size), rng.integers(0, 300, size), rng.normal(size=size))
    assert len(rows._pending_rows()) > _CSR_BLOCK  # pending rows in every block
    arrays = rows.frozen().csr()
    compacted = [rows.row(row) for row in range(rows.n_rows)]  # compacts every live row
    assert arrays["indptr"].tolist() == np.cumsum([0, *(c.size for c, _ in compacted)]).tolist()
    assert arrays["indices"].tobytes() == np.concatenate([c for c, _ in compacted]).tobytes()
    assert arrays["data"].tobytes() == np.concatenate([v for _, v in compacted]).tobytes()
