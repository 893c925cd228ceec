"""Sources on probation: a source serves only once the stream shows it knows something.

A source fitted late or weak on a log (the sequence model: first fit at 5,000 events, little
to learn from a small or sparse log) still moves lists through the ranker's features, and
the ranker's lessons give those features weight whether or not they carry anything: on
DIGINETICA's sample, where the model alone never put the taken item in its top 10 online,
the blend with it was 4 hits of 7,197 below the blend without it. So the sources declared
``on_probation`` (``streamrec.sources``) are kept out of lists (their features out of the
ranker, their own ranking out of the mix; a second ranker, taught the same lessons without
their features, ranks meanwhile) until each has earned its place: from the first test at
which it scored a candidate (its first fit: what it did before it existed is no evidence),
its own ranking of the test's candidates must have done better than chance, a random order
of the same candidates, in decayed NDCG@K over the same tests. A ranking no better than
chance tells the ranker nothing about the next item; one better than chance may. The bar is
the stream's own (it depends on how many candidates each test had), with no threshold to
tune; on a tie (nothing measured yet) they stay out.

Every trial also measures the blend as it would rank with those sources and without them
(same weights), for operators to see what a source adds (``report``): measured on five logs,
that paired comparison was too noisy to decide by (it shut the sequence model out of the
synthetic shop, where it adds 2.5%). Everything here changes only at the tests, in log
order, so a replay rebuilds the same decision.

>>> probation = Probation((1,), k=10, half_life=None)
>>> raw = np.array([[0.9, 0.0], [0.1, 0.8], [0.3, 0.0]])  # 3 candidates x 2 sources
>>> probation.admits(), probation.on_trial(raw)
(False, True)
>>> items, blend = np.array([5, 6, 7]), np.array([0.2, 0.9, 0.1])
>>> probation.measure(raw, items, 6, blend, blend)  # source 1 puts item 6 first
>>> probation.admits(), probation.without(raw)[:, 1].tolist()
(True, [0.0, 0.0, 0.0])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from streamrec.ranking.online_quality import OnlineQuality
from streamrec.types import FloatArray, IntArray


class Probation:
    """The decision for the source columns ``columns`` (of the blend's raw scores)."""

    def __init__(self, columns: Sequence[int], k: int = 10,
                 half_life: float | None = 50_000.0) -> None:
        self.columns = tuple(columns)
        self.k = k
        self.half_life = half_life
        # decayed NDCG@k earned since the first trial, times the events each trial stands
        # for: each source on probation's own ranking, then chance's
        self.earned = np.zeros(len(self.columns) + 1, dtype=np.float64)
        self.blends = OnlineQuality(("with", "without"), k, half_life,
                                    state_key="probation_blends")

    def admits(self) -> bool:
        """Whether the sources on probation serve: each one's ranking has earned more than
        chance on the trials since they first scored (False on a tie)."""
        return bool((self.earned[:-1] > self.earned[-1]).all())

    def on_trial(self, raw: FloatArray) -> bool:
        """Whether a test with these candidates' ``raw`` scores counts: from the first at
        which a source on probation scored any candidate."""
        if not self.columns:
            return False
        return bool(self.blends.sums[0, 3, 0] > 0 or (raw[:, list(self.columns)] > 0).any())

    def without(self, raw: FloatArray) -> FloatArray:
        """``raw`` with the sources on probation silent."""
        silent = raw.copy()
        silent[:, list(self.columns)] = 0.0
        return silent

    def measure(self, raw: FloatArray, items: IntArray, target: int, with_them: FloatArray,
                without_them: FloatArray, span: float = 1.0) -> None:
        """One trial: the sources scored the candidates ``items`` ``raw``, the user took
        ``target``; ``with_them`` and ``without_them``: the blend's scores with and without
        the sources on probation. It stands for ``span`` eligible events."""
        gains = np.zeros(len(self.columns))
        if (items == target).any():  # else every ranking missed it, chance too
            gains = self.blends.gains(raw[:, list(self.columns)], items, target)
        if self.half_life is not None:
            self.earned *= np.exp2(-span / self.half_life)
        self.earned += np.append(gains, self._chance(items, target)) * span
        self.blends.measure(np.column_stack((with_them, without_them)), items, target, span)

    def _chance(self, items: IntArray, target: int) -> float:
        """NDCG@k of a random order of ``items`` (0 if ``target`` is not among them)."""
        n = items.size
        if not (items == target).any():
            return 0.0
        return float((1.0 / np.log2(2.0 + np.arange(min(self.k, n)))).sum() / n)

    def report(self) -> dict[str, float]:
        """Whether they serve; the first source's NDCG@k and chance's on the trials (decayed
        sums over the events they stand for, as means); the blend's with and without them."""
        blends = self.blends.report()
        weight = max(float(self.blends.sums[:, 2, 0].sum()), 1e-300)
        return {"admitted": float(self.admits()), "trials": float(blends["with"]["measured"]),
                "ndcg_on_trial": round(float(self.earned[0]) / weight, 6),
                "ndcg_chance": round(float(self.earned[-1]) / weight, 6),
                "blend_ndcg_with": blends["with"]["ndcg"],
                "blend_ndcg_without": blends["without"]["ndcg"]}

    def state(self) -> dict[str, np.ndarray]:
        return {**self.blends.state(), "probation_earned": self.earned.copy()}

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        self.blends.restore(state)
        earned = state.get("probation_earned")
        if earned is not None and earned.shape == self.earned.shape:
            self.earned = np.array(earned, dtype=np.float64)
