"""Most popular and time-decayed popular: the baselines every recommender must beat.

Each event with a positive weight counts once for its item; with a half-life, a count fades
as 2^(-age / half_life_s) (kept exact without touching every count: new counts are inflated
instead, and everything is rescaled once in a while). Items nobody engaged with are never
recommended, so a list can be shorter than k early in the stream.

>>> from streamrec.types import Event
>>> from streamrec.evaluation.dense_events import DenseEvents
>>> peer = PopularPeer("pop")
>>> peer.learn(DenseEvents.from_events([Event("a", "x", "view", 0), Event("b", "y", "view", 1),
...                                     Event("c", "y", "view", 2)]))
>>> peer.recommend(0, 5, np.zeros(0, np.int64), now=3.0).tolist()
[1, 0]
"""

from __future__ import annotations

import numpy as np

from streamrec.evaluation.dense_events import DenseEvents
from streamrec.models.base import grow, top_k
from streamrec.types import FloatArray, IntArray

# keep inflation factors below 2^400: far from float64 overflow even summed a billion times
_MAX_EXPONENT = 400.0


class PopularPeer:
    def __init__(self, name: str, half_life_s: float | None = None) -> None:
        self.name = name
        self.half_life_s = half_life_s
        self._mass: FloatArray = np.zeros(0, dtype=np.float64)
        self._t_ref: float | None = None

    def learn(self, events: DenseEvents) -> None:
        positive = events.weights > 0
        items = events.items[positive]
        if items.size == 0:
            return
        self._mass = grow(self._mass, int(items.max()) + 1)
        amounts = self._inflation(events.timestamps[positive])
        if items.size == 1:
            self._mass[int(items[0])] += float(amounts[0])
        else:
            added = np.bincount(items, weights=amounts)
            self._mass[: added.shape[0]] += added

    def _inflation(self, times: FloatArray) -> FloatArray:
        if self.half_life_s is None:
            return np.ones(times.shape[0], dtype=np.float64)
        if self._t_ref is None:
            self._t_ref = float(times.min())
        exponent = (times - self._t_ref) / self.half_life_s
        top = float(exponent.max())
        if top > _MAX_EXPONENT:  # move the reference time forward and deflate what we have
            self._mass *= np.exp2(-top)
            self._t_ref += top * self.half_life_s
            exponent = exponent - top
        return np.exp2(exponent)

    def scores(self) -> FloatArray:
        """Current score of every item seen so far (-inf for items never engaged with)."""
        scores = self._mass.copy()
        scores[scores <= 0] = -np.inf
        return scores

    def recommend(self, user: int, k: int, exclude: IntArray, now: float) -> IntArray:
        return top_k(self.scores(), k, exclude).items
