"""What every batch-trained peer shares: the events so far, a refit schedule, a fallback.

Positive events are kept as (user, item, weight) columns and summed per user and item. After
every ``refit_every`` events learned the subclass refits on everything so far; before the
first fit, and for users the fitted model cannot place, the answer is running popularity
(the same fallback streamrec serves an unknown user).
"""

from __future__ import annotations

from array import array

import numpy as np
import scipy.sparse as sp

from streamrec.evaluation.dense_events import DenseEvents
from streamrec.evaluation.peers.popular import PopularPeer
from streamrec.types import IntArray


class RefittingPeer:
    name = "refitting"

    def __init__(self, refit_every: int) -> None:
        self.refit_every = max(1, refit_every)
        self.fits = 0
        self._users: array[int] = array("q")
        self._items: array[int] = array("q")
        self._weights: array[float] = array("d")
        self._history: dict[int, dict[int, float]] = {}
        self._since_fit = 0
        self._fallback = PopularPeer("fallback")

    def learn(self, events: DenseEvents) -> None:
        self._fallback.learn(events)
        positive = events.weights > 0
        users = events.users[positive].tolist()
        items = events.items[positive].tolist()
        weights = events.weights[positive].tolist()
        self._users.extend(users)
        self._items.extend(items)
        self._weights.extend(weights)
        for user, item, weight in zip(users, items, weights, strict=True):
            row = self._history.setdefault(user, {})
            row[item] = row.get(item, 0.0) + weight
        self._since_fit += len(events)
        if self._since_fit >= self.refit_every and len(self._users):
            self.fit(self.matrix())
            self.fits += 1
            self._since_fit = 0

    def matrix(self) -> sp.csr_matrix:
        """Users x items, summed positive weights of every event learned so far."""
        users = np.frombuffer(self._users, dtype=np.int64)
        items = np.frombuffer(self._items, dtype=np.int64)
        weights = np.frombuffer(self._weights, dtype=np.float64)
        shape = (int(users.max()) + 1, int(items.max()) + 1)
        matrix = sp.coo_matrix((weights, (users, items)), shape=shape).tocsr()
        matrix.sum_duplicates()
        return matrix

    def history(self, user: int) -> dict[int, float]:
        """The user's items so far with their summed positive weights."""
        return self._history.get(user, {})

    def popular(self, k: int, exclude: IntArray) -> IntArray:
        return self._fallback.recommend(-1, k, exclude, 0.0)

    def fit(self, matrix: sp.csr_matrix) -> None:
        """Refit on ``matrix`` (subclasses)."""
