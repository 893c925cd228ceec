"""rtrec (PyPI, myui/rtrec) as a peer: its SLIM model, updated with its own partial ``fit``.

rtrec's per-event update refits every touched item's column (measured ~8 ms an event on
MovieLens-100K), so it learns in mini-batches: a learn call fits what is buffered once at
least ``batch_events`` events wait. It sees the same events in the same order, up to one
mini-batch late; items still waiting in the buffer are filtered out of its answers here.
Optional: used only when ``rtrec`` is installed.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

import numpy as np

from streamrec.evaluation.dense_events import DenseEvents
from streamrec.types import IntArray


def is_installed() -> bool:
    return importlib.util.find_spec("rtrec") is not None


class RtrecPeer:
    name = "rtrec"

    def __init__(self, batch_events: int = 1_000) -> None:
        from rtrec.models import SLIM

        # rtrec logs a warning per event it cannot process; we feed it only valid ones
        logging.getLogger("rtrec").setLevel(logging.ERROR)
        self._model: Any = SLIM()
        self.batch_events = max(1, batch_events)
        self._buffer: list[tuple[int, int, float, float]] = []
        self._buffered_users: dict[int, int] = {}
        self._fitted = False

    def learn(self, events: DenseEvents) -> None:
        for user, item, time, weight in zip(
                events.users.tolist(), events.items.tolist(), events.timestamps.tolist(),
                events.weights.tolist(), strict=True):
            self._buffer.append((user, item, time, weight))
            self._buffered_users[user] = self._buffered_users.get(user, 0) + 1
        if len(self._buffer) >= self.batch_events:
            self.flush()

    def flush(self) -> None:
        if self._buffer:
            self._model.fit(self._buffer, progress_bar=False)
            self._fitted = True
        self._buffer = []
        self._buffered_users = {}

    def recommend(self, user: int, k: int, exclude: IntArray, now: float) -> IntArray:
        if not self._fitted:  # rtrec cannot answer before its first fit
            return np.zeros(0, dtype=np.int64)
        extra = self._buffered_users.get(user, 0)
        found = self._model.recommend(user, top_k=k + extra, filter_interacted=True)
        chosen = np.array([i for i in found if i is not None], dtype=np.int64)
        chosen = chosen[~np.isin(chosen, exclude)]
        return chosen[:k]
