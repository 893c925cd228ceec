"""Content's candidates in a large catalogue without reading every posting of a common token.

An exact TF-IDF query reads, for each token of the user's profile, every item that has it. In a
catalogue of a million items a category's words are shared by tens of thousands of items, so
a profile of a few items reads millions of postings (~20 ms). Search engines answer such
queries from *impact-ordered* postings: each token's list sorted by weight and cut, so a query
reads only the entries that can matter most (Anh & Moffat, "Pruned query evaluation using
pre-computed impacts", SIGIR 2006; tiered indexes in Manning, Raghavan & Schütze,
"Introduction to Information Retrieval", 2008, ch. 7).

``ImpactPostings`` keeps each token's ``per_column`` highest-weighted items, for the base
matrix and for the tail of recently upserted rows (``text_vectors.py``), built off the serving
thread. A query sums the cut postings to pick its likely best items; their scores are then the
exact cosines, computed from their full rows. Only *which* items are candidates is
approximate, as with the vector sources' ANN indexes (``ranking/ann.py``), and only in serving:
the ranker's lessons take the exact path.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from streamrec.types import IntArray

log = logging.getLogger(__name__)


def cut_columns(by_column: sp.csc_array, per_column: int) -> sp.csc_array:
    """Each column's ``per_column`` largest entries (all of a shorter column), rows sorted.

    >>> m = sp.csc_array(np.array([[0.25, 0.0], [0.75, 0.5], [0.5, 0.0]], dtype=np.float32))
    >>> cut_columns(m, 2).toarray().tolist()
    [[0.0, 0.0], [0.75, 0.5], [0.5, 0.0]]
    """
    indptr, data = by_column.indptr, by_column.data
    lengths = np.diff(indptr)
    keep = np.ones(by_column.nnz, dtype=bool)
    for column in np.flatnonzero(lengths > per_column):  # few: the common tokens
        start, end = int(indptr[column]), int(indptr[column + 1])
        kept = np.zeros(end - start, dtype=bool)
        kept[np.argpartition(-data[start:end], per_column - 1)[:per_column]] = True
        keep[start:end] = kept
    columns = np.repeat(np.arange(by_column.shape[1]), lengths)[keep]
    cut_indptr = np.zeros(by_column.shape[1] + 1, dtype=np.int64)
    np.cumsum(np.bincount(columns, minlength=by_column.shape[1]), out=cut_indptr[1:])
    return sp.csc_array((data[keep], by_column.indices[keep], cut_indptr),
                        shape=by_column.shape)


@dataclass(frozen=True, slots=True)
class Cut:
    source: object  # the matrix it was cut from (identity: still current?)
    per_column: int
    postings: sp.csc_array
    rows_to_items: IntArray | None  # the tail's row -> item index; None: rows are items


class ImpactPostings:
    """The cut postings of one ``TextVectors``' base and tail, each rebuilt in a background
    thread when its matrix is replaced. ``likely_best`` answers None until both are current:
    the caller then takes the exact path (serving never waits for a build)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._base: Cut | None = None
        self._tail: Cut | None = None
        self._building = False
        self._thread: threading.Thread | None = None
        self.builds = 0

    @staticmethod
    def _current(cut: Cut | None, source: object, per_column: int) -> bool:
        return cut is not None and cut.source is source and cut.per_column == per_column

    def ready(self, base: sp.csc_array, tail: sp.csr_array, tail_items: IntArray,
              per_column: int) -> tuple[Cut, Cut] | None:
        """The cuts of exactly these matrices, or None after asking for them."""
        cut_base, cut_tail = self._base, self._tail
        if self._current(cut_base, base, per_column) and self._current(cut_tail, tail,
                                                                       per_column):
            assert cut_base is not None and cut_tail is not None
            return cut_base, cut_tail
        with self._lock:
            if not self._building:
                self._building = True
                self._thread = threading.Thread(
                    target=self._build, args=(base, tail, tail_items, per_column),
                    name="content-postings", daemon=True)
                self._thread.start()
        return None

    def _build(self, base: sp.csc_array, tail: sp.csr_array, tail_items: IntArray,
               per_column: int) -> None:
        try:
            if not self._current(self._base, base, per_column):
                self._base = Cut(base, per_column, cut_columns(base, per_column), None)
            if not self._current(self._tail, tail, per_column):
                self._tail = Cut(tail, per_column, cut_columns(tail.tocsc(), per_column),
                                  tail_items)
            self.builds += 1
        except Exception:  # serving stays exact
            log.exception("cutting content's postings failed; content stays exact")
        finally:
            with self._lock:
                self._building = False

    def wait(self, timeout_s: float = 60.0) -> None:
        """Until no build runs (tests)."""
        if self._thread is not None:
            self._thread.join(timeout_s)

    def likely_best(self, cuts: tuple[Cut, Cut], columns: IntArray, values: np.ndarray,
                    n: int) -> IntArray:
        """Up to ``n`` items with the largest sums of a sparse vector's products (its
        nonzeros: ``columns``, ``values``) with their cut postings, sorted by item."""
        found, sums = [], []
        for cut in cuts:
            part = cut.postings[:, columns]
            if part.nnz == 0:
                continue
            rows = part.indices.astype(np.int64)
            found.append(rows if cut.rows_to_items is None else cut.rows_to_items[rows])
            sums.append(part.data * np.repeat(values, np.diff(part.indptr)))
        if not found:
            return np.zeros(0, dtype=np.int64)
        items, where = np.unique(np.concatenate(found), return_inverse=True)
        totals = np.bincount(where, weights=np.concatenate(sums))
        if items.size > n:
            items = np.sort(items[np.argpartition(-totals, n - 1)[:n]])
        return items
