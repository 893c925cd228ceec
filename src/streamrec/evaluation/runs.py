"""What one model did under one protocol: every query's outcome, before any summary.

Protocols append outcomes to a :class:`RunCollector`; summaries and plots are computed from
the finished :class:`ModelRun`, so every figure in a report can be recomputed from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from streamrec.evaluation.metrics import score_list
from streamrec.types import FloatArray, IntArray

SCORE_NAMES = ("hit", "recall", "ndcg", "reciprocal_rank")


@dataclass(frozen=True, slots=True)
class ModelRun:
    """Row q of every array is query q, in the order the protocol asked them.

    ``positions``: the queried event's position in the stream (prequential), or the position
    of the user's first held-out event (temporal split, leave-last-out). ``scores`` columns
    follow ``SCORE_NAMES``. ``recommended`` is (queries, k), padded with -1 where a model
    returned fewer than k items. ``learn_seconds`` includes refits done while learning.
    """

    model: str
    k: int
    positions: IntArray
    users: IntArray
    scores: FloatArray
    recommended: IntArray
    latencies_s: FloatArray
    learned_events: int
    learn_seconds: float

    @property
    def n_queries(self) -> int:
        return int(self.positions.shape[0])

    def score(self, name: str) -> FloatArray:
        """One column of ``scores`` by its name in ``SCORE_NAMES``."""
        return np.asarray(self.scores[:, SCORE_NAMES.index(name)], dtype=np.float64)


@dataclass(slots=True)
class RunCollector:
    """Accumulates outcomes one query at a time (lists, then arrays once at the end)."""

    model: str
    k: int
    _positions: list[int] = field(default_factory=list)
    _users: list[int] = field(default_factory=list)
    _scores: list[tuple[float, float, float, float]] = field(default_factory=list)
    _recommended: list[IntArray] = field(default_factory=list)
    _latencies: list[float] = field(default_factory=list)

    def add(self, position: int, user: int, recommended: IntArray, relevant: Iterable[int],
            latency_s: float) -> None:
        top = recommended[: self.k]
        judged = score_list(top.tolist(), relevant, self.k)
        self._positions.append(position)
        self._users.append(user)
        self._scores.append((judged.hit, judged.recall, judged.ndcg, judged.reciprocal_rank))
        padded = np.full(self.k, -1, dtype=np.int64)
        padded[: top.shape[0]] = top
        self._recommended.append(padded)
        self._latencies.append(latency_s)

    def finish(self, learned_events: int, learn_seconds: float) -> ModelRun:
        n = len(self._positions)
        return ModelRun(
            model=self.model,
            k=self.k,
            positions=np.array(self._positions, dtype=np.int64),
            users=np.array(self._users, dtype=np.int64),
            scores=np.array(self._scores, dtype=np.float64).reshape(n, len(SCORE_NAMES)),
            recommended=(np.stack(self._recommended) if n
                         else np.zeros((0, self.k), dtype=np.int64)),
            latencies_s=np.array(self._latencies, dtype=np.float64),
            learned_events=learned_events,
            learn_seconds=learn_seconds,
        )
