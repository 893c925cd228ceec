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
chance tells the ranker nothing about the next item; one better than chance may.

Beating chance is not enough to earn a place against the blend (on MovieLens latest-small the
model beat chance 0.019 to 0.007 and the blend with it was 1.1% below the blend without it),
so every trial also ranks the test's candidates as each blend would: with those sources (the
ranker taught with their features) and without them (the ranker taught without, their columns
silent, over only the candidates the other sources brought: a list without them has no
others). The two blends' NDCG@K on a trial differ on few trials and by much on those, so
their mean difference is noisy: letting the sources in whenever it was above 0 let them in
and out on noise, and each stretch in changed what the blend learned (latest-small 0.995x).
They are let in only when the blend with them has done better by a clear margin: a paired
difference, decayed as the other figures, at least ``ADMIT_Z`` (2) standard errors above 0
(one-sided, about 97.7%), with their own ranking above chance; once in, they stay while the
blend with them does better at all (mean above 0) and their ranking beats chance. The bar is
a conventional confidence, not fitted to any log; the decision is the stream's evidence. On
small logs the evidence may never be clear: the sources then stay out, and the blend is the
blend without them. While they have never served, lists, lessons and the blend's weights
are exactly those of an engine without them (ranking/blend.py, ranking/hybrid.py).
Everything here changes only at the tests, in log order, so a replay rebuilds the same
decision.

>>> probation = Probation((1,), k=10, half_life=None)
>>> raw = np.array([[0.9, 0.0], [0.1, 0.8], [0.3, 0.0]])  # 3 candidates x 2 sources
>>> probation.admits(), probation.on_trial(raw)
(False, True)
>>> items = np.array([5, 6, 7])
>>> with_it, without_it = np.array([0.2, 0.9, 0.1]), np.array([0.9, 0.2, 0.1])
>>> probation.measure(raw, items, 6, with_it, without_it)  # source 1 puts item 6 first
>>> probation.admits()  # one trial: no margin can be told yet
False
>>> for taken in (6, 6, 7):  # the blend with it does better, then as well (item 7)
...     probation.measure(raw, items, taken, with_it, without_it)
>>> probation.admits(), probation.without(raw)[:, 1].tolist()
(True, [0.0, 0.0, 0.0])
>>> for _ in range(4):  # then the blend without it does better
...     probation.measure(raw, items, 6, without_it, with_it)
>>> probation.admits()
False
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from streamrec.ranking.online_quality import OnlineQuality
from streamrec.types import FloatArray, IntArray

ADMIT_Z = 2.0  # standard errors the blend with the sources must be ahead by to let them in


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
        # the paired difference d (NDCG@k with them - without them), decayed, each trial
        # weighted by the events it stands for (w): sums of w d, w d^2, w, w^2
        self.paired = np.zeros(4, dtype=np.float64)
        self.serving = False  # decided at each trial (``_decide``)

    def admits(self) -> bool:
        """Whether the sources on probation serve (see the module's doc)."""
        return self.serving

    def margin(self) -> float:
        """The paired difference's decayed mean over its standard error (0 until two
        trials' worth of weight; inf when every trial differed alike)."""
        wd, wd2, w, w2 = self.paired.tolist()
        if w <= 0.0 or w * w <= w2 * (1.0 + 1e-9):
            return 0.0
        mean = wd / w
        variance = max(wd2 / w - mean * mean, 0.0) * w * w / (w * w - w2)  # unbiased
        n = w * w / w2  # the trials' effective number
        if variance == 0.0:
            return float(np.sign(mean)) * np.inf if mean else 0.0
        return mean / float(np.sqrt(variance / n))

    def _decide(self) -> None:
        beats_chance = bool((self.earned[:-1] > self.earned[-1]).all())
        if self.serving:
            self.serving = beats_chance and bool(self.paired[0] > 0.0)
        else:
            self.serving = beats_chance and bool(self.margin() >= ADMIT_Z)

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
        blends = self.blends.measure(np.column_stack((with_them, without_them)), items, target,
                                     span)
        difference = float(blends[0] - blends[1])
        if self.half_life is not None:
            decay = float(np.exp2(-span / self.half_life))
            self.paired *= (decay, decay, decay, decay * decay)
        self.paired += (span * difference, span * difference ** 2, span, span * span)
        self._decide()

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
                "blend_ndcg_without": blends["without"]["ndcg"],
                "blend_margin": round(float(np.clip(self.margin(), -1e6, 1e6)), 3)}

    def state(self) -> dict[str, np.ndarray]:
        return {**self.blends.state(), "probation_earned": self.earned.copy(),
                "probation_paired": self.paired.copy(),
                "probation_serving": np.array([self.serving])}

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        self.blends.restore(state)
        earned = state.get("probation_earned")
        if earned is not None and earned.shape == self.earned.shape:
            self.earned = np.array(earned, dtype=np.float64)
        paired = state.get("probation_paired")
        self.paired = np.zeros(4) if paired is None else np.array(paired, dtype=np.float64)
        serving = state.get("probation_serving")
        self.serving = bool(serving[0]) if serving is not None else False
