"""Time-decayed popularity: the fallback for unknown users and a feature for the ranker.

Each event adds its weight to its item, decayed with half-life ``half_life_s`` (inflation
trick, see ``decay.py``). Negative events (dislikes, returns) add nothing: they push the item
down for the user who sent them (``ranking/negatives.py``), not for everyone, so that one
account cannot bury an item. The order of events does not change the result, so replaying a
log always rebuilds the same state.

>>> from streamrec.types import EventBatch, Query
>>> model = PopularityModel(PopularityConfig(half_life_s=None))
>>> model.learn(EventBatch(np.array([0, 1, 2]), np.array([5, 5, 3]), np.ones(3), np.zeros(3)))
>>> nothing = np.zeros(0, np.int64)
>>> model.recommend(Query(None, nothing, nothing, 0.0), 2).items.tolist()
[5, 3]
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import numpy as np
from pydantic import BaseModel, Field

from streamrec.models.base import best, grow
from streamrec.models.decay import DecayClock
from streamrec.models.scores import DenseScores, is_excluded
from streamrec.types import EMPTY_INTS, Candidates, EventBatch, FloatArray, IntArray, Query

_RANKED = 1024  # most popular items kept in order between changes


class PopularityConfig(BaseModel):
    half_life_s: float | None = Field(
        default=7 * 86400.0, gt=0, description="How fast popularity fades; null: never."
    )


class PopularityModel:
    name = "popularity"

    def __init__(self, config: PopularityConfig | None = None) -> None:
        self.config = config or PopularityConfig()
        self._clock = DecayClock(self.config.half_life_s)
        self._mass: FloatArray = np.zeros(0, dtype=np.float64)
        self._n_items = 0
        # the best items by stored (inflated) mass, and the items whose mass grew since:
        # mass only grows between rescales, so the next ranking is among those two
        self._ranking: IntArray | None = None  # None: rank every item again
        self._grown: list[IntArray] = []
        self._grown_size = 0
        self._ranking_lock = threading.Lock()  # readers update the ranking side by side

    def learn(self, batch: EventBatch) -> None:
        if len(batch) == 0:
            return
        factor = self._clock.advance(batch.timestamps)
        size = int(batch.items.max()) + 1
        mass = grow(self._mass, size)
        if factor is not None:
            mass = mass * factor
        inflated = np.maximum(batch.weights, 0.0) * self._clock.inflate(batch.timestamps)
        np.add.at(mass, batch.items, inflated)
        self._mass = mass
        self._n_items = max(self._n_items, size)
        grown = batch.items[inflated > 0]
        if factor is not None or self._grown_size + grown.size > max(self._n_items, _RANKED):
            # a rescale can round two masses equal (ties go to the lower item); and past
            # this many, one pass over every item is cheaper than the pile
            self._ranking, self._grown, self._grown_size = None, [], 0
        elif grown.size:
            self._grown.append(grown)
            self._grown_size += grown.size

    def scores(self) -> FloatArray:
        """Decayed popularity of every item, indexed by item (a read-only view)."""
        view = self._mass[: self._n_items] * self._clock.deflation()
        view.flags.writeable = False
        return view

    def dense_scores(self, query: Query, n_items: int) -> FloatArray:
        out = np.zeros(n_items, dtype=np.float64)
        scores = self.scores()[:n_items]
        out[: scores.shape[0]] = np.maximum(scores, 0.0)
        return out

    def recommend(self, query: Query, k: int) -> Candidates:
        exclude = np.unique(query.exclude[query.exclude >= 0])
        items = PopularScores(self, self._n_items).top(k, exclude)
        return Candidates(items, self.score(query, items))

    def query_scores(self, query: Query, n_items: int) -> PopularScores:
        return PopularScores(self, n_items)

    def ranking(self) -> IntArray:
        """The ``_RANKED`` most popular items (or all with a positive score), best first, ties
        to the lower index; computed once per change, not once per query. Ranked by the
        stored mass (the decayed score times one factor for all items): between rescales
        mass only grows, so an item outside the last ranking that did not grow cannot pass
        any item in it, and the new ranking is the best of the old one and the grown items,
        the same as ranking every item (a test compares the two)."""
        with self._ranking_lock:
            mass = self._mass[: self._n_items]
            if self._ranking is None:
                positive = np.flatnonzero(mass > 0)
                self._ranking = best(positive, mass[positive], _RANKED)
            elif self._grown:
                grown = np.concatenate(self._grown)
                if self._ranking.size >= _RANKED:
                    # a grown item below every ranked one has _RANKED items above it
                    grown = grown[mass[grown] >= mass[self._ranking].min()]
                # the grown items not ranked yet (most grown items are: a hashed union of
                # the two took half of this): sorted with the ranked, ties to the lower
                ranked = np.zeros(mass.shape[0], dtype=bool)
                ranked[self._ranking] = True
                candidates = np.sort(np.concatenate((self._ranking,
                                                     np.unique(grown[~ranked[grown]]))))
                order = np.argsort(-mass[candidates], kind="stable")[:_RANKED]
                self._ranking = candidates[order].astype(np.int64)
            self._grown, self._grown_size = [], 0
            return self._ranking

    def score(self, query: Query, items: IntArray) -> FloatArray:
        known = items < self._n_items
        out = np.zeros(items.shape[0], dtype=np.float64)
        out[known] = self._mass[items[known]] * self._clock.deflation()  # as ``scores()``
        return out

    def state(self) -> dict[str, np.ndarray]:
        return {"mass": self._mass[: self._n_items].copy(), **self._clock.state()}

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        self._mass = np.array(state["mass"], dtype=np.float64)
        self._n_items = int(self._mass.shape[0])
        self._ranking, self._grown, self._grown_size = None, [], 0
        self._clock.restore(state["clock"])
        # ranked now, where a restart is made, not by its first read (~6 ms at 1M items
        # for each of the blend's popularity models); later batches only update it
        self.ranking()


class PopularScores:
    """One query's popularity scores: candidates from the cached ranking (a pass over every
    item only for a query that excludes most of it)."""

    __slots__ = ("model", "n_items")

    def __init__(self, model: PopularityModel, n_items: int) -> None:
        self.model, self.n_items = model, n_items

    def top(self, k: int, exclude: IntArray) -> IntArray:
        ranking = self.model.ranking()
        allowed = ranking[(ranking < self.n_items) & ~is_excluded(ranking, exclude)]
        if allowed.size >= k or ranking.size < _RANKED:  # the ranking holds every candidate
            return np.asarray(allowed[:k], dtype=np.int64)
        return DenseScores(self.model.dense_scores(Query(None, EMPTY_INTS, exclude, 0.0),
                                                   self.n_items)).top(k, exclude)

    def at(self, items: IntArray) -> FloatArray:
        inside = items < self.n_items
        out = np.zeros(items.shape[0], dtype=np.float64)
        out[inside] = np.maximum(self.model.score(Query(None, EMPTY_INTS, EMPTY_INTS, 0.0),
                                                    items[inside]), 0.0)
        return out
