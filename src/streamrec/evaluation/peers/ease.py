"""EASE (Steck, WWW 2019): a closed-form item-item model, refit on a schedule.

B = -P / diag(P) with P = (X'X + l2 I)^-1 and diag(B) = 0, X the binary users x items matrix
of everything learned so far, restricted to the ``max_items`` most engaged-with items (the
inverse costs O(n^3) time and O(n^2) memory). B is only refit on schedule; a user is scored
from their history as of the query (sum of B's rows of their items), so new users and events
count at once, new items not until the next refit. A user with no fitted item gets running
popularity.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from streamrec.evaluation.peers.refitting import RefittingPeer
from streamrec.models.base import top_k
from streamrec.types import FloatArray, IntArray


class EASEPeer(RefittingPeer):
    name = "ease"

    def __init__(self, refit_every: int, l2: float = 200.0, max_items: int = 4_000) -> None:
        super().__init__(refit_every)
        self.l2 = l2
        self.max_items = max_items
        self._similarity: FloatArray = np.zeros((0, 0), dtype=np.float32)
        self._column = np.zeros(0, dtype=np.int64)  # item -> column of B, -1 when not kept
        self._kept = np.zeros(0, dtype=np.int64)

    def fit(self, matrix: sp.csr_matrix) -> None:
        binary = (matrix > 0).astype(np.float64).tocsc()
        engaged = np.diff(binary.indptr)
        kept = np.sort(np.argsort(-engaged, kind="stable")[: self.max_items])
        kept = kept[engaged[kept] > 0]
        x = binary[:, kept]
        gram = (x.T @ x).toarray() + self.l2 * np.eye(kept.size)
        inverse = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
        weights = -inverse / np.diag(inverse)
        np.fill_diagonal(weights, 0.0)
        self._similarity = weights.astype(np.float32)
        self._kept = kept.astype(np.int64)
        self._column = np.full(matrix.shape[1], -1, dtype=np.int64)
        self._column[kept] = np.arange(kept.size)

    def recommend(self, user: int, k: int, exclude: IntArray, now: float) -> IntArray:
        items = np.fromiter(self.history(user), dtype=np.int64)
        items = items[items < self._column.shape[0]]
        columns = self._column[items]
        columns = columns[columns >= 0]
        if columns.size == 0:
            return self.popular(k, exclude)
        scores = np.full(self._column.shape[0], -np.inf)
        scores[self._kept] = self._similarity[columns].sum(axis=0)
        return top_k(scores, k, exclude).items
