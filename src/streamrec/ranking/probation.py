"""Sources on probation: a source serves only once the stream shows the blend better with it.

A source fitted late or weak on a log (the sequence model: first fit at 5,000 events, little
to learn from a small or sparse log) still moves lists through the ranker's features, and
the ranker's lessons give those features weight whether or not they help: on three logs the
blend with the sequence model was a few hits below the blend without it. So the sources
declared ``on_probation`` (``streamrec.sources``) are kept out of lists (their features out
of the ranker, their own ranking out of the mix) until the blend's online tests say
otherwise. At every test from the first one at which a source on probation scored a
candidate (its first fit: what it did before it existed is no evidence), the blend is
measured twice, as it would rank with those sources and without them (the ranker without
them is a second one, taught the same lessons with their features left out). They serve
while the blend with them has the higher decayed NDCG@K on those paired tests: no
threshold to tune, and on a tie (nothing measured yet) they stay out. Everything here
changes only at the tests, in log order, so a replay rebuilds the same decision.

>>> probation = Probation((1,), k=10, half_life=None)
>>> raw = np.array([[0.9, 0.0], [0.1, 0.8]])  # 2 candidates x 2 sources, source 1 on trial
>>> probation.admits(), probation.on_trial(raw)
(False, True)
>>> probation.measure(np.array([0.2, 0.9]), np.array([0.9, 0.2]), np.array([5, 6]), 6)
>>> probation.admits(), probation.without(raw).tolist()
(True, [[0.9, 0.0], [0.1, 0.0]])
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
        self.quality = OnlineQuality(("with", "without"), k, half_life,
                                     state_key="probation_quality")

    def admits(self) -> bool:
        """Whether the sources on probation serve: the blend with them has done better on
        the paired tests since they first scored (decayed mean NDCG@K; False on a tie)."""
        if not self.columns:
            return True
        gains = self.quality.mean_gains()
        return bool(gains[0] > gains[1])

    def on_trial(self, raw: FloatArray) -> bool:
        """Whether a test with these candidates' ``raw`` scores counts: from the first at
        which a source on probation scored any candidate."""
        if not self.columns:
            return False
        return bool(self.quality.sums[0, 3, 0] > 0 or (raw[:, list(self.columns)] > 0).any())

    def without(self, raw: FloatArray) -> FloatArray:
        """``raw`` with the sources on probation silent."""
        silent = raw.copy()
        silent[:, list(self.columns)] = 0.0
        return silent

    def measure(self, with_them: FloatArray, without_them: FloatArray, items: IntArray,
                target: int, span: float = 1.0) -> None:
        """One paired test: the blend's scores of ``items`` with and without the sources on
        probation; the user took ``target``; it stands for ``span`` eligible events."""
        self.quality.measure(np.column_stack((with_them, without_them)), items, target, span)

    def report(self) -> dict[str, float]:
        """Whether they serve, and the two blends' decayed NDCG@K on the paired tests."""
        figures = self.quality.report()
        return {"admitted": float(self.admits()), "ndcg_with": figures["with"]["ndcg"],
                "ndcg_without": figures["without"]["ndcg"],
                "trials": float(figures["with"]["measured"])}

    def state(self) -> dict[str, np.ndarray]:
        return self.quality.state()

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        self.quality.restore(state)
