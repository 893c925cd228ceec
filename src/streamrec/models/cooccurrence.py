"""Item-to-item co-occurrence, updated with every event.

When a user engages with item j, every item among their last ``window`` items co-occurs with j
(both directions). Counts fade with half-life ``half_life_s``. Similarity is an asymmetric
cosine, C[h, j] / (n_h^alpha * n_j^(1 - alpha)), as in Aiolli's asymmetric cosine
(RecSys Challenge 2013) and classic item-based CF (Sarwar et al., WWW 2001; Linden et al.,
IEEE Internet Computing 2003), times the pair's support ``c / (c + support_shrinkage)``
(the shrunk similarity of Koren, KDD 2008, and Bell and Koren, ICDM 2007): on a sparse log
most pairs were made by one user, and that says little. A user is scored from their recent
items, the newest weighing most: real-time intent.

>>> from streamrec.types import EventBatch, Query
>>> model = CooccurrenceModel(CooccurrenceConfig(half_life_s=None))
>>> users, items = np.array([0, 0, 1, 1, 2]), np.array([1, 2, 1, 2, 1])
>>> model.learn(EventBatch(users, items, np.ones(5), np.arange(5.0)))
>>> query = Query(3, history=np.array([1]), exclude=np.array([1]), now=5.0)
>>> model.recommend(query, 5).items.tolist()
[2]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from streamrec.models.base import grow, made_room, top_k
from streamrec.models.decay import DecayClock
from streamrec.models.scores import SparseScores
from streamrec.models.sparse_rows import SparseRows
from streamrec.models.windows import RecentWindows
from streamrec.types import Candidates, EventBatch, FloatArray, IntArray, Query

# a query with more co-occurring pairs than 1/32 of the catalogue sums them in one slot per
# item rather than sorting them
_SORT_OVER_COUNT = 32


class CooccurrenceConfig(BaseModel):
    window: int = Field(default=50, ge=1, le=1000, description="Recent items paired per event.")
    half_life_s: float | None = Field(default=180 * 86400.0, gt=0)
    alpha: float = Field(default=0.5, ge=0.0, le=1.0, description="Asymmetric cosine exponent.")
    query_window: int = Field(default=50, ge=1, le=1000, description="Recent items scored from.")
    pair_decay: float = Field(
        default=0.95, gt=0.0, le=1.0,
        description="Weight of a pair with the n-th previous item: decay^(n-1) (1: none).")
    recency_decay: float = Field(
        default=0.8, gt=0.0, le=1.0, description="Weight of the n-th newest item: decay^n."
    )
    max_neighbours: int = Field(
        default=200, ge=0,
        description="Neighbours kept per item: after every this many new pairs, an item keeps "
        "its this many strongest (decayed) co-occurrences, so it never holds more than twice "
        "as many; 0: every pair ever seen (memory grows with the stream).")
    support_shrinkage: float = Field(
        default=1.0, ge=0.0, description="A pair's similarity is multiplied by c / (c + this), "
        "c its (faded, pair-decayed) count: a pair one user made weighs half, one ten users "
        "made ~0.9; 0: no shrinkage. The unit is one user's pair, so it means the same on "
        "any log.")


@dataclass(frozen=True, slots=True)
class CooccurrenceScores(SparseScores):
    """One query's co-occurrence scores, keeping what they were summed from for ``because``."""

    parts: tuple[CooccurrenceModel, IntArray, FloatArray, IntArray] | None = None

    def because(self, items: IntArray) -> IntArray:
        """For each item, the recent item that brought it in most (-1: none)."""
        if self.parts is None:
            return np.full(items.shape[0], -1, dtype=np.int64)
        model, cols, vals, sources = self.parts
        return model._because_of(items, cols, vals, sources)


class CooccurrenceModel:
    name = "cooccurrence"

    def __init__(self, config: CooccurrenceConfig | None = None) -> None:
        self.config = config or CooccurrenceConfig()
        self._clock = DecayClock(self.config.half_life_s)
        # the co-occurrence budget: each item's strongest neighbours (models/sparse_rows.py)
        self._pairs = SparseRows(self.config.max_neighbours or None)
        self._counts: FloatArray = np.zeros(0, dtype=np.float64)
        self._n_items = 0
        # each user's recent items, oldest first, in one slab (models/windows.py)
        self._recent = RecentWindows(self.config.window)

    def learn(self, batch: EventBatch) -> None:
        if len(batch) == 0:
            return
        factor = self._clock.advance(batch.timestamps)
        if factor is not None:
            self._counts = self._counts * factor
            self._pairs.scale(factor)
        inflation = self._clock.inflate(batch.timestamps)
        positive = batch.weights > 0  # negative signals do not make items alike
        size = int(batch.items.max()) + 1
        self._counts = grow(self._counts, size)
        self._n_items = max(self._n_items, size)
        np.add.at(self._counts, batch.items[positive], inflation[positive])
        rows, cols, vals = self._pairs_of(batch, inflation, positive)
        if rows.size:
            # both directions of each pair side by side, so each item's row takes its pairs
            # in event order whatever the batches: its budget's cuts fall at the same pairs
            both_rows, both_cols = np.empty(2 * rows.size, np.int64), np.empty(2 * rows.size,
                                                                                np.int64)
            both_rows[0::2], both_rows[1::2] = rows, cols
            both_cols[0::2], both_cols[1::2] = cols, rows
            self._pairs.add(both_rows, both_cols, np.repeat(vals, 2))

    def _pairs_of(
        self, batch: EventBatch, inflation: FloatArray, positive: np.ndarray
    ) -> tuple[IntArray, IntArray, FloatArray]:
        """Each event paired with its user's recent items, updating those windows in order."""
        rows, per_event = self._recent.pair(batch.users, batch.items, positive)
        cols = np.repeat(batch.items, per_event)
        vals = np.repeat(inflation, per_event)
        if self.config.pair_decay < 1.0 and rows.size:
            # partners are oldest first: distance 1 for the newest, counted back from the end
            ends = np.repeat(np.cumsum(per_event), per_event)
            distance = ends - np.arange(rows.size)
            vals = vals * self.config.pair_decay ** (distance - 1)
        return rows, cols, vals

    def _history_weights(self, query: Query) -> tuple[IntArray, FloatArray]:
        """Distinct recent items, newest first, with their recency weights. An item whose
        newest event is negative (a dislike) brings in nothing: see ranking/negatives.py."""
        recent = query.history[::-1]
        _, first = np.unique(recent, return_index=True)
        newest = np.sort(first)
        if query.history_weights.size == query.history.size:
            newest = newest[query.history_weights[::-1][newest] >= 0]
        distinct = recent[newest][: self.config.query_window]
        distinct = distinct[distinct < self._pairs.n_rows]
        weights = self.config.recency_decay ** np.arange(distinct.size, dtype=np.float64)
        return distinct, weights

    def _accumulate(self, query: Query) -> tuple[IntArray, FloatArray, IntArray]:
        """Every (candidate, contribution, source item) drawn from the user's recent items."""
        history, recency = self._history_weights(query)
        cols, vals, sizes = self._pairs.gather(history)  # one compiled pass over the rows
        if cols.size == 0:
            return np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64)
        used = np.flatnonzero(sizes)
        factors = recency[used] / self._counts[history[used]] ** self.config.alpha
        return (cols, self._shrunk(vals) * np.repeat(factors, sizes[used]),
                np.repeat(history[used], sizes[used]))

    def _shrunk(self, vals: FloatArray) -> FloatArray:
        """Stored (inflated) pair counts times their support, c / (c + shrinkage) with c
        faded to now: on a sparse log most pairs were made by one user, and a cosine over
        counts of 1 ranks a pair of two rare items above one that many users made."""
        shrinkage = self.config.support_shrinkage
        if shrinkage <= 0.0:
            return vals
        counts = vals * self._clock.deflation()
        return np.asarray(vals * (counts / (counts + shrinkage)), dtype=np.float64)

    def _sparse_scores(self, cols: IntArray, vals: FloatArray) -> tuple[IntArray, FloatArray]:
        """Normalised scores of the items that co-occur at all: only those are touched, so
        the cost follows the user's neighbourhood, not the catalogue."""
        if cols.size * _SORT_OVER_COUNT > self._n_items:
            # a long history's neighbourhood: counting into one slot per item beats sorting
            # (the same sums, added in the same order; items summing to 0 score 0 either way)
            dense = np.bincount(cols, weights=vals, minlength=self._n_items)
            items = np.flatnonzero(dense != 0)  # on floats, nonzero() is 8x slower
            sums = dense[items]
        else:
            items, inverse = np.unique(cols, return_inverse=True)
            sums = np.bincount(inverse, weights=vals, minlength=items.size)
        normaliser = self._counts[items] ** (1.0 - self.config.alpha)
        scores = np.divide(sums, normaliser, out=np.zeros(items.size), where=normaliser > 0)
        return items.astype(np.int64), scores

    def _dense_scores(self, cols: IntArray, vals: FloatArray) -> FloatArray:
        scores = np.full(self._n_items, -np.inf)
        items, values = self._sparse_scores(cols, vals)
        scores[items] = np.where(values > 0, values, -np.inf)
        return scores

    def dense_scores(self, query: Query, n_items: int) -> FloatArray:
        out = np.zeros(n_items, dtype=np.float64)
        cols, vals, _ = self._accumulate(query)
        if cols.size:
            items, values = self._sparse_scores(cols, vals)
            inside = items < n_items
            out[items[inside]] = np.maximum(values[inside], 0.0)
        return out

    def query_scores(self, query: Query, n_items: int) -> CooccurrenceScores:
        """What ``dense_scores`` holds, for the items that co-occur only; and ``because``."""
        cols, vals, sources = self._accumulate(query)
        items, values = (self._sparse_scores(cols, vals) if cols.size else
                         (np.zeros(0, np.int64), np.zeros(0)))
        inside = items < n_items
        return CooccurrenceScores(items[inside], np.maximum(values[inside], 0.0),
                                  (self, cols, vals, sources))

    def because(self, query: Query, items: IntArray) -> IntArray:
        """For each item, the recent item of the query that brought it in most (-1: none)."""
        return self._because_of(items, *self._accumulate(query))

    def _because_of(self, items: IntArray, cols: IntArray, vals: FloatArray,
                    sources: IntArray) -> IntArray:
        known = items[items < self._n_items]
        found = self._because(known, cols, vals, sources) if cols.size else np.full(
            known.size, -1, dtype=np.int64)
        out = np.full(items.shape[0], -1, dtype=np.int64)
        out[items < self._n_items] = found
        return out

    def recommend(self, query: Query, k: int) -> Candidates:
        cols, vals, sources = self._accumulate(query)
        if cols.size == 0:
            return Candidates.empty()
        best = top_k(self._dense_scores(cols, vals), k, query.exclude)
        return Candidates(best.items, best.scores, self._because(best.items, cols, vals, sources))

    def _because(
        self, chosen: IntArray, cols: IntArray, vals: FloatArray, sources: IntArray
    ) -> IntArray:
        """For each chosen item, the recent item that contributed most to it (the first
        such contribution on a tie; -1: none)."""
        because = np.full(chosen.size, -1, dtype=np.int64)
        if chosen.size == 0 or cols.size == 0:
            return because
        distinct, slots = np.unique(chosen, return_inverse=True)
        at = np.minimum(np.searchsorted(distinct, cols), distinct.size - 1)
        hit = np.flatnonzero(distinct[at] == cols)
        if hit.size == 0:
            return because
        # per chosen item, its largest contribution, the earliest of equal ones first
        order = np.lexsort((hit, -vals[hit], at[hit]))
        grouped = at[hit][order]
        first = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
        found = np.full(distinct.size, -1, dtype=np.int64)
        found[grouped[first]] = sources[hit][order][first]
        return found[slots]

    def score(self, query: Query, items: IntArray) -> FloatArray:
        cols, vals, _ = self._accumulate(query)
        out = np.zeros(items.shape[0], dtype=np.float64)
        if cols.size == 0:
            return out
        dense = self._dense_scores(cols, vals)
        known = items < dense.shape[0]
        out[known] = np.maximum(dense[items[known]], 0.0)
        return out

    def similar(self, item: int, k: int, exclude: IntArray) -> Candidates:
        if item >= self._pairs.n_rows or self._counts[item] <= 0:
            return Candidates.empty()
        cols, vals = self._pairs.row(item)
        scores = self._dense_scores(cols,
                                    self._shrunk(vals) / self._counts[item] ** self.config.alpha)
        best = top_k(scores, k, np.r_[exclude, item])
        return Candidates(best.items, best.scores, np.full(len(best), item, dtype=np.int64))

    # -- counts, for scoring that weighs how much evidence a pair has ---------------------
    def pair_count(self, item: int, other: int) -> float:
        """How often ``item`` and ``other`` co-occurred (pair-decayed weights), faded to the
        newest event's time; 0 for a pair not kept (never seen, or cut by the budget)."""
        cols, vals = self._pairs.row(item)
        at = int(np.searchsorted(cols, other))
        found = at < cols.size and int(cols[at]) == other
        return float(vals[at]) * self._clock.deflation() if found else 0.0

    def support(self, items: IntArray) -> FloatArray:
        """Each item's (positive) event count, faded to the newest event's time; 0 for an
        item never seen."""
        out = np.zeros(items.shape[0], dtype=np.float64)
        known = (items >= 0) & (items < self._n_items)
        out[known] = self._counts[items[known]] * self._clock.deflation()
        return out

    def neighbour_counts(self) -> IntArray:
        """Per item, the co-occurrence entries its row holds (compacted and pending): at most
        ``2 * max_neighbours - 1`` each when there is a budget."""
        return self._pairs.row_sizes()

    def budgets(self) -> dict[str, dict[str, Any]]:
        """Each bounded part against its setting (``engine/sizes.py``)."""
        return {
            "models.cooccurrence.neighbours": self._pairs.budget(
                "models.cooccurrence.max_neighbours", "item"),
            "models.cooccurrence.recent": self._recent.budget("models.cooccurrence.window"),
        }

    def merge_users(self, source: int, target: int) -> None:
        """``target``'s next events pair with ``source``'s recent items too (taken as the
        newer ones: a session is usually merged when its user logs in)."""
        moved = self._recent.of(source)
        if moved.size:
            kept = self._recent.of(target)
            self._recent.put(target, np.concatenate((kept[~np.isin(kept, moved)], moved)))
            self._recent.put(source, moved[:0])

    def forget_users(self, users: IntArray) -> None:
        """Their next events pair with nothing before them (the pairs they made stay)."""
        self._recent.clear(users)

    def make_room(self) -> Callable[[], None] | None:
        return made_room(self._pairs.make_room(), self._recent.make_room())

    def state(self) -> dict[str, np.ndarray]:
        return self._state_with(self._pairs.state("pairs_"))

    def capture(self, holds: Callable[[str], bool]) -> dict[str, Any]:
        """``state`` for a snapshot: the pairs by their changes since a base the snapshot
        store ``holds`` (models/sparse_rows.py); ``restore`` reads either."""
        return self._state_with(self._pairs.capture("pairs_", holds))

    def _state_with(self, pairs: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **pairs,
            "counts": self._counts[: self._n_items].copy(),
            **self._recent.state(),
            **self._clock.state(),
        }

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        self._pairs.restore(state, "pairs_")
        self._counts = np.array(state["counts"], dtype=np.float64)
        self._n_items = int(self._counts.shape[0])
        self._recent.restore(state["recent_users"], state["recent_indptr"],
                             state["recent_items"])
        self._clock.restore(state["clock"])
