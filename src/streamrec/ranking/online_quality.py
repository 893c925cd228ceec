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

# decayed: hits, gains, weight (eligible events represented), tests; then hits, gains, events
# represented and tests in total; and whether the expert has ever scored a candidate
_COLUMNS = ("hits", "gains", "weight", "tests", "total_hits", "total_gains", "represented",
            "measured", "started")
_DECAYED = 4


class OnlineQuality:
    """Decayed and total HR@``k`` and NDCG@``k`` per expert (names in a fixed order).

    Tests thin out as the log grows, so each stands for the eligible events since the one
    before (its ``span``) and counts that many times: the figures are the stream's, not
    its beginning's. They fade by half every ``half_life`` of what each test's ``fade``
    counts: by default the eligible events it stands for; the blend counts tests
    (``HedgeConfig.half_life_tests``), so its figures always rest on about as many tests,
    whether a test stands for one event (a new shop) or two hundred (a large one).

    Each test falls in one of ``contexts`` (the blend's: how long since the user's previous
    event, ``blend.py``); the figures are kept per context, and the report sums them. Decay
    runs on the whole stream, so every context fades alike and the sums over contexts are
    exactly the figures one context would have kept."""

    def __init__(self, names: Sequence[str], k: int = 10,
                 half_life: float | None = 50_000.0, contexts: int = 1,
                 kernel: float = 0.0, state_key: str = "quality") -> None:
        """``kernel``: how much a context's evidence borrows from its neighbours, per step
        (``evidence``); ``state_key``: the figures' name in snapshots."""
        self.names = tuple(names)
        self.k = k
        self.half_life = half_life
        self.contexts = contexts
        steps = np.abs(np.subtract.outer(np.arange(contexts), np.arange(contexts)))
        self.borrow = np.where(steps == 0, 1.0, kernel ** np.maximum(steps, 1))
        # per context, one row per column of _COLUMNS, one column per expert
        self.sums = np.zeros((contexts, len(_COLUMNS), len(self.names)), dtype=np.float64)
        self.state_key = state_key
        self._evidence: dict[int, FloatArray] = {}  # by context (-1: pooled) until a test

    def measure(self, scores: FloatArray, items: IntArray, target: int,
                span: float = 1.0, context: int = 0, fade: float | None = None) -> FloatArray:
        """Record one test: ``scores`` (candidates x experts) over ``items``, the user took
        ``target``; it stands for ``span`` eligible events, and the figures fade by ``fade``
        of ``half_life`` first (default ``span``). Returns each expert's NDCG@k gain for it
        (0 for a miss)."""
        self._evidence.clear()
        gains = self.gains(scores, items, target)
        hits = (gains > 0).astype(np.float64)
        # an expert that has never scored a candidate (content without a catalogue, a
        # model not fit yet) has no record: no weight in the blend until it has one
        awake = (scores > 0).any(axis=0) if scores.shape[0] else np.zeros(gains.size, bool)
        started = awake | (self.sums[:, -1].sum(axis=0) > 0)
        if self.half_life is not None:
            self.sums[:, :_DECAYED] *= np.exp2(-(span if fade is None else fade)
                                               / self.half_life)
        sums = self.sums[context]
        for row, value in enumerate((hits * span, gains * span, span, 1.0,
                                     hits * span, gains * span, span, 1.0, started)):
            sums[row] += value
        return gains

    def evidence(self, context: int | None = None) -> FloatArray:
        """Per expert, its decayed mean NDCG times the decayed number of tests: what Hedge
        pays it (a mean over the stream's time, on the scale of the tests behind it); -inf
        (no weight) for an expert that never scored a candidate.

        For one ``context``: its own tests plus its neighbours' at ``kernel`` per step, and
        then the pooled figures of all contexts, worth ``pooled_worths()`` tests per expert
        (no more than the context's own tests: the pool may double a context's evidence,
        never outvote it; letting it outvote lost MovieLens-100K's temporal split, whose
        questions are the rare long-gap context's): each expert's mean is shrunk towards its
        pooled mean. How much the pool is worth is measured: little where the contexts'
        means differ by more than their tests' noise explains, as much as allowed where they
        do not (a sparse log, whose contexts each hold a few hundred tests)."""
        key = -1 if context is None else context
        cached = self._evidence.get(key)
        if cached is not None:
            return cached
        pooled = self.sums.sum(axis=0)
        started = self.sums[:, -1].sum(axis=0) > 0
        if context is None:
            earned = _mean(pooled) * pooled[3]
        else:
            own = np.tensordot(self.borrow[context], self.sums, axes=1)
            tests = own[3]
            room = min(max(float(pooled[3].max() - tests.max()), 0.0), float(tests.max()))
            # each expert's mean shrunk by its own spread across contexts (one that does
            # well in a visit and badly after months keeps its context's mean), on the
            # scale of the tests the context and what the pool is worth overall stand for
            noise, spread = self._noise_and_spread()
            worth = np.minimum(_worths(noise, spread), room)
            mean = (_mean(own) * tests + worth * _mean(pooled)) / np.maximum(
                tests + worth, 1e-300)
            earned = mean * (tests + min(_worth(noise, spread), room))
        found = np.asarray(np.where(started, earned, -np.inf), dtype=np.float64)
        self._evidence[key] = found
        return found

    def pooled_worth(self) -> float:
        """``pooled_worths`` over all experts at once: their noise summed over their spread
        summed (inf when no expert's contexts differ beyond noise)."""
        return _worth(*self._noise_and_spread())

    def pooled_worths(self) -> FloatArray:
        """Per expert, how many of a context's tests its pooled mean is worth (below)."""
        return _worths(*self._noise_and_spread())

    def _noise_and_spread(self) -> tuple[FloatArray, FloatArray]:
        """How many of a context's own tests the pooled mean is worth: the tests' noise over
        the spread of the contexts' true means (sigma^2 / tau^2 of a normal-normal model;
        DerSimonian and Laird's moment estimate of tau^2 per expert, summed over experts;
        sigma^2 = m(1 - m), the most a [0, 1] figure of mean m can vary). inf when the
        contexts differ by no more than noise."""
        tests = self.sums[:, 3, 0]
        held = np.flatnonzero(tests >= 1.0)
        if held.size < 2:
            zeros = np.zeros(len(self.names))
            return zeros + 1.0, zeros
        sums = self.sums[held]
        means = sums[:, 1] / np.maximum(sums[:, 2], 1e-300)  # contexts x experts
        pooled = _mean(sums.sum(axis=0))
        noise = np.maximum(pooled * (1.0 - pooled), 1e-9)
        weights = tests[held, None] / noise[None, :]  # contexts x experts
        total = weights.sum(axis=0)
        centre = (weights * means).sum(axis=0) / total
        q = (weights * (means - centre) ** 2).sum(axis=0)
        scale = total - (weights ** 2).sum(axis=0) / total
        spread = np.maximum(0.0, (q - (held.size - 1)) / np.maximum(scale, 1e-300))
        return noise, spread

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

    def mean_gains(self) -> FloatArray:
        """Per name, its decayed mean NDCG over every context (0 before any test)."""
        return _mean(self.sums.sum(axis=0))

    def state(self) -> dict[str, np.ndarray]:
        return {self.state_key: self.sums.copy()}

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        self._evidence.clear()
        if self.state_key in state and state[self.state_key].shape == self.sums.shape:
            self.sums = np.array(state[self.state_key], dtype=np.float64)


def _mean(sums: FloatArray) -> FloatArray:
    """Decayed mean NDCG per expert from one context's (or the pool's) rows."""
    return np.asarray(sums[1] / np.maximum(sums[2], 1e-300), dtype=np.float64)


def _worth(noise: FloatArray, spread: FloatArray) -> float:
    return np.inf if spread.sum() <= 0.0 else float(noise.sum() / spread.sum())


def _worths(noise: FloatArray, spread: FloatArray) -> FloatArray:
    return np.asarray(np.where(spread > 0.0, noise / np.maximum(spread, 1e-300), np.inf),
                      dtype=np.float64)
