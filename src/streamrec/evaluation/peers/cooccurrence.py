"""Online item-to-item co-occurrence over each user's last ``window`` distinct items.

When a user engages with item j (positive weight), j co-occurs once with every other item in
the user's window, both ways. A user is scored from their window: score(j) = sum over h in the
window of C[h, j] / sqrt(n_h * n_j), cosine as in item-based CF (Sarwar et al., WWW 2001;
Linden et al., IEEE Internet Computing 2003). Pure co-occurrence: a user without history, or
whose items co-occur with few others, gets a short or empty list (no popularity fill).

>>> from streamrec.types import Event
>>> from streamrec.evaluation.dense_events import DenseEvents
>>> peer = CooccurrencePeer(window=50)
>>> peer.learn(DenseEvents.from_events([Event("a", "x", "view", 0), Event("a", "y", "view", 1),
...                                     Event("b", "x", "view", 2)]))
>>> peer.recommend(1, 5, np.array([0]), now=3.0).tolist()
[1]
"""

from __future__ import annotations

import numpy as np

from streamrec.evaluation.dense_events import DenseEvents
from streamrec.models.base import grow, top_k
from streamrec.types import EMPTY_INTS, FloatArray, IntArray

_MIN_PENDING = 64


class _CountRows:
    """Rows of a growing sparse count matrix: compact (cols, counts) plus pending columns
    (each counting 1). A read returns both parts (columns may repeat: callers sum); a row is
    compacted on read once its pending part outgrows a quarter of it, so both adding and
    reading stay amortised O(row length)."""

    def __init__(self) -> None:
        self.cols: list[IntArray] = []
        self.counts: list[FloatArray] = []
        self.pending: list[list[int]] = []

    def ensure(self, n: int) -> None:
        while len(self.cols) < n:
            self.cols.append(EMPTY_INTS)
            self.counts.append(np.zeros(0, dtype=np.float64))
            self.pending.append([])

    def row(self, row: int) -> tuple[IntArray, FloatArray]:
        added = self.pending[row]
        if not added:
            return self.cols[row], self.counts[row]
        cols = np.concatenate([self.cols[row], np.array(added, dtype=np.int64)])
        counts = np.concatenate([self.counts[row], np.ones(len(added))])
        if len(added) > max(_MIN_PENDING, self.cols[row].shape[0] // 4):
            unique, inverse = np.unique(cols, return_inverse=True)
            self.cols[row] = cols = unique.astype(np.int64)
            self.counts[row] = counts = np.bincount(
                inverse.reshape(-1), weights=counts).astype(np.float64)
            self.pending[row] = []
        return cols, counts


class CooccurrencePeer:
    name = "cooc"

    def __init__(self, window: int = 50) -> None:
        self.window = window
        self._rows = _CountRows()
        self._seen: FloatArray = np.zeros(0, dtype=np.float64)  # n_i: events with item i
        self._recent: dict[int, list[int]] = {}

    def learn(self, events: DenseEvents) -> None:
        positive = events.weights > 0
        if not positive.any():
            return
        size = int(events.items[positive].max()) + 1
        self._rows.ensure(size)
        self._seen = grow(self._seen, size)
        pending = self._rows.pending
        for user, item in zip(events.users[positive].tolist(), events.items[positive].tolist(),
                              strict=True):
            recent = self._recent.setdefault(user, [])
            if item in recent:
                recent.remove(item)
            pending[item].extend(recent)
            for other in recent:
                pending[other].append(item)
            recent.append(item)
            if len(recent) > self.window:
                del recent[0]
            self._seen[item] += 1.0

    def recommend(self, user: int, k: int, exclude: IntArray, now: float) -> IntArray:
        recent = self._recent.get(user)
        if not recent:
            return EMPTY_INTS
        parts_cols, parts_vals = [], []
        for source in recent:
            cols, counts = self._rows.row(source)
            if cols.size:
                parts_cols.append(cols)
                parts_vals.append(counts / np.sqrt(self._seen[source]))
        if not parts_cols:
            return EMPTY_INTS
        n = len(self._rows.cols)
        scores: FloatArray = np.bincount(np.concatenate(parts_cols),
                                         weights=np.concatenate(parts_vals),
                                         minlength=n).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            scores = scores / np.sqrt(self._seen[:n])
        scores[~(scores > 0)] = -np.inf
        return top_k(scores, k, exclude).items
