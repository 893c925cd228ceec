"""implicit's ALS and BPR, refit on a schedule, as peers.

ALS (Hu, Koren, Volinsky, ICDM 2008; confidence = alpha x summed event weight) folds the
asking user in at every query from their whole history so far (implicit's
``recalculate_user``: one least-squares solve against the fitted item factors), so it sees
users and events that arrived after the last refit, though not new items. BPR (Rendle et al.,
UAI 2009) has no fold-in: users unknown at the last refit get running popularity.
Both use implicit's CPU code with one thread and a fixed seed.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from implicit.cpu.bpr import BayesianPersonalizedRanking

from streamrec.evaluation.peers.refitting import RefittingPeer
from streamrec.models.base import top_k
from streamrec.types import FloatArray, IntArray


class ALSPeer(RefittingPeer):
    name = "als"

    def __init__(self, refit_every: int, factors: int = 64, regularization: float = 0.05,
                 alpha: float = 1.0, iterations: int = 15, seed: int = 0) -> None:
        super().__init__(refit_every)
        self._settings = dict(factors=factors, regularization=regularization, alpha=alpha,
                              iterations=iterations, random_state=seed)
        self._model: AlternatingLeastSquares | None = None
        self._item_factors: FloatArray = np.zeros((0, factors), dtype=np.float32)

    def fit(self, matrix: sp.csr_matrix) -> None:
        model = AlternatingLeastSquares(num_threads=1, **self._settings)
        model.fit(matrix.astype(np.float32), show_progress=False)
        self._model = model
        self._item_factors = np.asarray(model.item_factors)

    def recommend(self, user: int, k: int, exclude: IntArray, now: float) -> IntArray:
        known = self._item_factors.shape[0]
        row = {i: w for i, w in self.history(user).items() if i < known}
        if self._model is None or not row:
            return self.popular(k, exclude)
        items = np.fromiter(sorted(row), dtype=np.int32, count=len(row))
        weights = np.array([row[i] for i in items.tolist()], dtype=np.float32)
        user_items = sp.csr_matrix((weights, items, np.array([0, len(row)])), shape=(1, known))
        factor = self._model.recalculate_user(0, user_items)
        scores = self._item_factors @ factor
        return top_k(scores.astype(np.float64), k, exclude).items


class BPRPeer(RefittingPeer):
    name = "bpr"

    def __init__(self, refit_every: int, factors: int = 64, learning_rate: float = 0.05,
                 regularization: float = 0.01, iterations: int = 100, seed: int = 0) -> None:
        super().__init__(refit_every)
        self._settings = dict(factors=factors, learning_rate=learning_rate,
                              regularization=regularization, iterations=iterations,
                              random_state=seed)
        self._user_factors: FloatArray = np.zeros((0, factors + 1), dtype=np.float32)
        self._item_factors: FloatArray = np.zeros((0, factors + 1), dtype=np.float32)
        self._fitted_users = np.zeros(0, dtype=bool)

    def fit(self, matrix: sp.csr_matrix) -> None:
        model = BayesianPersonalizedRanking(num_threads=1, **self._settings)
        model.fit(matrix.astype(np.float32), show_progress=False)
        self._user_factors = np.asarray(model.user_factors)
        self._item_factors = np.asarray(model.item_factors)
        self._fitted_users = np.diff(matrix.indptr) > 0

    def recommend(self, user: int, k: int, exclude: IntArray, now: float) -> IntArray:
        if user >= self._fitted_users.shape[0] or not self._fitted_users[user]:
            return self.popular(k, exclude)
        scores = self._item_factors @ self._user_factors[user]
        return top_k(scores.astype(np.float64), k, exclude).items
