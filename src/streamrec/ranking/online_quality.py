"""The engine measures itself on its own stream: online HR@K and NDCG@K of every expert.

Every event whose user has history and whose item is new to that user is a free test: before
it is learned, where would each source, and the blend, have ranked the item the user took?
The engine asks this at the events the ranker learns from (every eligible one while the
ranker is new, then a sample; ``hybrid.py``), in log order, so the figures are a function of
the log and a replay reproduces them exactly.

An expert ranks the candidates by its score; items it scores the same share their places (an
item tied with 2 others, behind 4, is at place 4 + 2/2 = 5: never an order by item index,
which a replay that met the catalogue first would number differently); a source that does
not score the taken item (score 0) has missed it, and so has every expert when the item is
not among the candidates at all (a brand-new item). Figures are kept twice: decayed (what
the engine is like now) and in total (for comparison with an offline count).

>>> quality = OnlineQuality(("a", "b"), k=2, half_life=None)
>>> scores = np.array([[0.9, 0.1], [0.5, 0.7], [0.0, 0.3]])  # 3 candidates x 2 experts
>>> quality.measure(scores, np.array([10, 11, 12]), target=11).tolist()
[0.6309297535714575, 1.0]
>>> quality.report()["a"]["hr"], quality.report()["b"]["ndcg"]
(1.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from streamrec.types import FloatArray, IntArray

# decayed: hits, gains, weight (eligible events represented), tests, and the advantage over
# the blend while awake; then the same figures in total
_COLUMNS = ("hits", "gains", "weight", "tests", "total_hits", "total_gains", "represented",
            "measured", "started")
_DECAYED = 4


class OnlineQuality:
    """Decayed and total HR@``k`` and NDCG@``k`` per expert (names in a fixed order).

    Tests thin out as the log grows, so each stands for the eligible events since the one
    before (its ``span``) and counts that many times: the figures are the stream's, not
    its beginning's. They fade by half every ``half_life`` eligible events.

    Each test falls in one of ``contexts`` (the blend's: how long since the user's previous
    event, ``blend.py``); the figures are kept per context, and the report sums them. Decay
    runs on the whole stream's eligible events, so every context fades alike and the sums
    over contexts are exactly the figures one context would have kept."""

    def __init__(self, names: Sequence[str], k: int = 10,
                 half_life: float | None = 50_000.0, contexts: int = 1,
                 kernel: float = 0.0) -> None:
        """``kernel``: how much a context's evidence borrows from its neighbours, per step
        (``evidence``)."""
        self.names = tuple(names)
        self.k = k
        self.half_life = half_life
        self.contexts = contexts
        steps = np.abs(np.subtract.outer(np.arange(contexts), np.arange(contexts)))
        self.borrow = np.where(steps == 0, 1.0, kernel ** np.maximum(steps, 1))
        # per context, one row per column of _COLUMNS, one column per expert
        self.sums = np.zeros((contexts, len(_COLUMNS), len(self.names)), dtype=np.float64)

    def measure(self, scores: FloatArray, items: IntArray, target: int,
                span: float = 1.0, context: int = 0) -> FloatArray:
        """Record one test: ``scores`` (candidates x experts) over ``items``, the user took
        ``target``; it stands for ``span`` eligible events. Returns each expert's NDCG@k gain
        for it (0 for a miss)."""
        gains = self.gains(scores, items, target)
        hits = (gains > 0).astype(np.float64)
        # an expert that has never scored a candidate (content without a catalogue, a
        # model not fit yet) has no record: no weight in the blend until it has one
        awake = (scores > 0).any(axis=0) if scores.shape[0] else np.zeros(gains.size, bool)
        started = awake | (self.sums[:, -1].sum(axis=0) > 0)
        if self.half_life is not None:
            self.sums[:, :_DECAYED] *= np.exp2(-span / self.half_life)
        sums = self.sums[context]
        for row, value in enumerate((hits * span, gains * span, span, 1.0,
                                     hits * span, gains * span, span, 1.0, started)):
            sums[row] += value
        return gains

    def evidence(self, context: int | None = None) -> FloatArray:
        """Per expert, its decayed mean NDCG times the decayed number of tests: what Hedge
        pays it (a mean over the stream's time, on the scale of the tests behind it); -inf
        (no weight) for an expert that never scored a candidate. For one ``context``: its
        own tests plus its neighbours' at ``kernel`` per step, so a context with few tests
        of its own leans on those next to it until it has its own."""
        if context is None:
            sums = self.sums.sum(axis=0)
        else:
            sums = np.tensordot(self.borrow[context], self.sums, axes=1)
        gains, weight, tests = sums[1], sums[2], sums[3]
        earned = gains / np.maximum(weight, 1e-300) * tests
        started = self.sums[:, -1].sum(axis=0) > 0
        return np.asarray(np.where(started, earned, -np.inf), dtype=np.float64)

    def gains(self, scores: FloatArray, items: IntArray, target: int) -> FloatArray:
        """NDCG@k of each expert's ranking for one taken item (1/log2(2 + rank) in the top k)."""
        where = np.flatnonzero(items == target)
        if where.size == 0:
            return np.zeros(len(self.names))
        mine = scores[int(where[0])]
        above = (scores > mine).sum(axis=0) + 0.5 * ((scores == mine).sum(axis=0) - 1)
        ranked = (mine > 0) & (above < self.k)
        return np.where(ranked, 1.0 / np.log2(2.0 + above), 0.0)

    def report(self) -> dict[str, dict[str, float]]:
        """Per expert: decayed ``hr`` and ``ndcg``, and ``total_hr``, ``total_ndcg`` and
        ``measured`` over every measurement."""
        sums = self.sums.sum(axis=0)
        hits, gains, weight, _, total_hits, total_gains, represented, measured, _ = sums
        out = {}
        for n, name in enumerate(self.names):
            now, ever = max(weight[n], 1e-300), max(represented[n], 1e-300)
            out[name] = {"hr": round(float(hits[n] / now), 6),
                         "ndcg": round(float(gains[n] / now), 6),
                         "total_hr": round(float(total_hits[n] / ever), 6),
                         "total_ndcg": round(float(total_gains[n] / ever), 6),
                         "measured": int(measured[n])}
        return out

    def state(self) -> dict[str, np.ndarray]:
        return {"quality": self.sums.copy()}

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        if "quality" in state and state["quality"].shape == self.sums.shape:
            self.sums = np.array(state["quality"], dtype=np.float64)
