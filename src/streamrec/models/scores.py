"""One query's scores from one source, without an array over the catalogue per query.

The hybrid ranker asks each source two things: its best ``k`` items that the query does
not exclude (the candidates), and its score for every candidate any source brought (the
features). ``DenseScorer`` answers both with one vector over every item; a source that can
answer them more cheaply (only the items it has an opinion on, a ranking cached between
events, an approximate nearest-neighbour index) returns a ``QueryScores`` instead.

Shared rules: only a score above 0 makes an item a candidate; ties go to the lower item
index, so results are deterministic; ``exclude`` is sorted and unique.

>>> scores = SparseScores(np.array([2, 5, 7]), np.array([0.5, 0.9, 0.5]))
>>> scores.top(2, np.array([5])).tolist()
[2, 7]
>>> scores.at(np.array([7, 3, 5])).tolist()
[0.5, 0.0, 0.9]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from streamrec.models.base import best, row_norms
from streamrec.types import EMPTY_INTS, FloatArray, IntArray, Query

Float32Array = npt.NDArray[np.float32]


class QueryScores(Protocol):
    def top(self, k: int, exclude: IntArray) -> IntArray:
        """The best ``k`` items scored above 0 and not in ``exclude``, best first."""
        ...

    def at(self, items: IntArray) -> FloatArray:
        """The score of each of ``items`` (0: no opinion, or an item the source does not
        know); what ``dense_scores`` holds for them, exactly, but for products over their
        rows alone (``IndexedScores``, ``BoundedScores``), which float32 may round apart in
        the last place."""
        ...


@runtime_checkable
class ScoresQueries(Protocol):
    """Sources that answer a query with a ``QueryScores`` rather than a dense vector."""

    def query_scores(self, query: Query, n_items: int) -> QueryScores: ...


@runtime_checkable
class ApproximateQueries(Protocol):
    """Sources with an approximate answer of their own for serving in a large catalogue
    (content's cut postings, ``impact_postings.py``): which items are candidates may differ
    from the exact answer, their scores may not."""

    def approximate_scores(self, query: Query, n_items: int,
                           per_column: int) -> QueryScores: ...

    def start_approximation(self, per_column: int) -> None:
        """Begin building what ``approximate_scores`` reads, in the background."""


@runtime_checkable
class ItemVectors(Protocol):
    """Sources whose score is an inner product: item vectors times a query vector. Their
    candidates can come from an approximate nearest-neighbour index (``ranking/ann.py``).

    ``item_vectors`` is replaced by a new array when it changes (a refit), never changed in
    place, so an index built from one array stays right for as long as that array serves."""

    def item_vectors(self) -> Float32Array: ...

    def query_vector(self, query: Query) -> Float32Array | None: ...


@runtime_checkable
class BoundedQueries(Protocol):
    """``ItemVectors`` sources whose exact top reads only some of the rows
    (``BoundedScores``): where it reads few, serving takes it over an ANN index, exact and
    with no index to build (``ranking/features.py``)."""

    def exact_reads(self) -> int:
        """Rows an exact top 100 reads: the median over a sample of users, measured when
        the vectors were made."""
        ...


def is_excluded(items: IntArray, exclude: IntArray) -> np.ndarray:
    """Whether each of ``items`` is in ``exclude`` (sorted, unique)."""
    if exclude.size == 0 or items.size == 0:
        return np.zeros(items.shape[0], dtype=bool)
    at = np.minimum(np.searchsorted(exclude, items), exclude.size - 1)
    return np.asarray(exclude[at] == items)


def allowed_best(items: IntArray | None, scores: npt.NDArray[np.floating[Any]], k: int,
                 exclude: IntArray) -> IntArray:
    """The best ``k`` of ``items`` (None: every index of ``scores``) scored above 0 and not
    in ``exclude``. Only the best ``k + |exclude|`` are checked against ``exclude``: the best
    ``k`` allowed are among them, so no membership test runs over every scored item."""
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    wanted = k + exclude.size
    if scores.shape[0] > wanted:
        threshold = scores[np.argpartition(-scores, wanted - 1)[:wanted]].min()
        found = np.flatnonzero((scores >= threshold) & (scores > 0))
    else:
        found = np.flatnonzero(scores > 0)
    chosen = found if items is None else items[found]
    allowed = ~is_excluded(chosen, exclude)
    return best(chosen[allowed], scores[found[allowed]], k)


@dataclass(frozen=True, slots=True)
class DenseScores:
    """A score for every item (what ``dense_scores`` returns): the exact answer."""

    scores: npt.NDArray[np.floating[Any]]  # float32 too: the order and values are the same

    def top(self, k: int, exclude: IntArray) -> IntArray:
        return allowed_best(None, self.scores, k, exclude)

    def at(self, items: IntArray) -> FloatArray:
        out = np.zeros(items.shape[0], dtype=np.float64)
        known = (items >= 0) & (items < self.scores.shape[0])
        out[known] = self.scores[items[known]]
        return out


# the first visit of a bounded pass (below, ``BoundedScores``): at 1M items (ALS on the
# synthetic shop, 2M events) an exact top 100 needed the 0.4% of rows with the largest norms
_FIRST_VISIT = 1024
# float32 products round: a row's product may exceed |q| |v| by a few units in the last
# place; the bound is widened by far more than that
_BOUND_SLACK = 1e-4


@dataclass(frozen=True, slots=True)
class NormOrder:
    """The rows of ``matrix`` by falling norm (ties: the lower row first), for a
    ``BoundedScores`` over it, with a contiguous copy of its rows above 0 in that order (a
    pass reads them in sequence, not gathered one by one: at 1M ALS items, 18% of them, 45
    MB). Built once per matrix (a fit's), off the serving path."""

    matrix: Float32Array
    rows: IntArray  # the rows above 0, largest norm first
    norms: FloatArray  # their norms, falling
    sorted_rows: Float32Array  # matrix[rows], contiguous

    @staticmethod
    def of(matrix: Float32Array, norms: FloatArray) -> NormOrder:
        """``norms``: each row's (``row_norms``), 0 for a row of zeros."""
        rows = np.argsort(-norms, kind="stable")
        rows = rows[: int(np.count_nonzero(norms > 0))]
        return NormOrder(matrix, rows, norms[rows], np.ascontiguousarray(matrix[rows]))


@dataclass(frozen=True, slots=True)
class BoundedScores:
    """The inner products of ``vector`` with the rows of an ``order``'s matrix, its best
    found without a pass over every row (Cauchy-Schwarz: q.v <= |q| |v|): the rows are
    visited by falling norm, in segments that double, until the k-th best allowed score
    beats what any row left could score. The same items as the dense product's best, on a
    fraction of its reads when a few rows have most of the norm (a factor model's popular
    items; a catalogue's unseen items have none), the whole pass at worst. Rows from
    ``n_items`` on are no candidates."""

    order: NormOrder
    vector: Float32Array
    n_items: int
    first_visit: int = _FIRST_VISIT  # rows, at least (tests visit fewer, to go on further)

    def top(self, k: int, exclude: IntArray) -> IntArray:
        return self.top_and_reads(k, exclude)[0]

    def top_and_reads(self, k: int, exclude: IntArray) -> tuple[IntArray, int]:
        """``top``, and how many rows it read."""
        if k <= 0:
            return np.zeros(0, dtype=np.int64), 0
        order, vector, total = self.order, self.vector, self.order.rows.size
        reach = float(np.linalg.norm(vector.astype(np.float64))) * (1.0 + _BOUND_SLACK)
        visited, step = 0, max(self.first_visit, 4 * (k + exclude.size))
        rows, scores = order.rows[:0], np.zeros(0, dtype=np.float32)
        while True:
            end = min(total, visited + step)
            segment = order.rows[visited:end]
            inside = segment < self.n_items
            rows = np.concatenate((rows, segment[inside]))
            scores = np.concatenate((scores, (order.sorted_rows[visited:end] @ vector)[inside]))
            visited, step = end, 2 * step
            found = allowed_best(rows, scores, k, exclude)
            if visited >= total:  # the rows left, if any, are zeros: none scores above 0
                return found, visited
            if found.size == k:  # beaten by none of the rows left?
                kth = float(scores[np.flatnonzero(rows == found[-1])[0]])
                if kth > reach * float(order.norms[visited]):
                    return found, visited

    def at(self, items: IntArray) -> FloatArray:
        out = np.zeros(items.shape[0], dtype=np.float64)
        known = (items >= 0) & (items < min(self.order.matrix.shape[0], self.n_items))
        out[known] = self.order.matrix[items[known]] @ self.vector
        return out


def bounded_reads(order: NormOrder, queries: Float32Array, k: int = 100,
                  sample: int = 32) -> int:
    """How many rows a ``BoundedScores`` over ``order`` reads for an exact top ``k``: the
    median over up to ``sample`` of ``queries`` (rows above 0, evenly spaced: the same for the
    same arrays); the whole order's rows without such a query. What serving weighs against
    an ANN index's cost (``ranking/features.py``)."""
    norms = row_norms(queries) if queries.shape[0] else np.zeros(0)
    above = np.flatnonzero(norms > 0)
    if above.size == 0:
        return int(order.rows.size)
    picked = above[np.unique(np.linspace(0, above.size - 1, min(sample, above.size))
                             .astype(np.int64))]
    reads = [BoundedScores(order, np.ascontiguousarray(queries[row], dtype=np.float32),
                           order.matrix.shape[0]).top_and_reads(k, EMPTY_INTS)[1]
             for row in picked]
    return int(np.median(reads))


@dataclass(frozen=True, slots=True)
class SparseScores:
    """Scores of the few items a source has an opinion on (``items`` sorted, unique); every
    other item scores 0."""

    items: IntArray
    scores: FloatArray

    def top(self, k: int, exclude: IntArray) -> IntArray:
        return allowed_best(self.items, self.scores, k, exclude)

    def at(self, items: IntArray) -> FloatArray:
        out = np.zeros(items.shape[0], dtype=np.float64)
        if self.items.size == 0:
            return out
        at = np.minimum(np.searchsorted(self.items, items), self.items.size - 1)
        found = self.items[at] == items
        out[found] = self.scores[at[found]]
        return out
