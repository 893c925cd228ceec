"""The self-measuring blend: experts, their online quality, and the Hedge weights over them.

The hybrid ranker (``hybrid.py``) owns one. The experts are, in this order: every source
ranking by its own score, the popularity counters at the log's pace
(``paced_popularity.py``), and the learned ranker. At each of the ranker's tests (before an
event is learned, ``hybrid.py``) every expert and the blend itself are measured
(``online_quality.py``), and the blend's weights follow what the experts earned
(``hedge.py``). Everything here changes only at those tests and with learned events, in log
order: a replay of the log rebuilds it exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from streamrec.ranking.hedge import Hedge, HedgeConfig
from streamrec.ranking.online_quality import OnlineQuality
from streamrec.ranking.paced_popularity import PacedPopularity
from streamrec.types import EMPTY_INTS, EventBatch, FloatArray, IntArray

RANKER = "ranker"
BLEND = "blend"


class Blend:
    def __init__(self, sources: Sequence[str], config: HedgeConfig | None = None,
                 k: int = 10, mixes: bool = True) -> None:
        """``mixes``: False keeps the ranker alone on lists (measuring all the same), for a
        ranker fit offline to another question than the next item (stream lessons off)."""
        self.config = config or HedgeConfig()
        self.mixes = self.config.enabled and mixes
        self.sources = tuple(sources)
        self.paced = PacedPopularity(self.config.paced_half_lives)
        self.experts = (*self.sources, *self.paced.names, RANKER)
        self.hedge = Hedge(self.experts, self.config, RANKER)
        self.quality = OnlineQuality((*self.experts, BLEND), k, self.config.half_life)
        self.last_test = 0  # the eligible event of the last test

    def learn(self, batch: EventBatch) -> None:
        self.paced.learn(batch)

    def also(self, exclude: IntArray, n_items: int, count: int | None = None) -> IntArray:
        """Candidates the paced popularity experts bring (their best ``count``, default
        ``paced_candidates``)."""
        count = (self.config.paced_candidates if self.config.enabled else 0) \
            if count is None else count
        if count == 0:
            return EMPTY_INTS
        excluded = np.unique(exclude[exclude >= 0])  # sorted, as the counters' top wants
        found = self.paced.top(count, excluded, n_items)
        return found[found < n_items]

    def expert_scores(self, items: IntArray, raw: FloatArray,
                      ranker: FloatArray) -> FloatArray:
        """(candidates, experts): the sources' own scores, the paced counts, the ranker's."""
        return np.column_stack((raw, self.paced.scores(items), ranker))

    def weights(self) -> FloatArray:
        return self.hedge.weights(self.quality.evidence()[: len(self.experts)])

    def rank(self, items: IntArray, raw: FloatArray, ranker: FloatArray,
             hedge: Hedge | None = None, mixes: bool | None = None) -> FloatArray:
        """The list's scores: the ranker's until anything was measured, then the Hedge mix
        (by ``hedge``'s rate and prior: a serving plan's; default this blend's)."""
        hedge = self.hedge if hedge is None else hedge
        if not (self.mixes if mixes is None else mixes) or self.quality.sums[-1, 0] == 0:
            return ranker
        weights = hedge.weights(self.quality.evidence()[: len(self.experts)])
        return hedge.mix(self.expert_scores(items, raw, ranker), weights)

    def measure(self, items: IntArray, raw: FloatArray, ranker: FloatArray,
                target: int, eligible: int) -> None:
        """One online test at the ``eligible``-th eligible event: the user took ``target``;
        every expert and the blend are scored as they were just before (the blend with the
        weights it had then). It stands for the eligible events since the last test."""
        experts = self.expert_scores(items, raw, ranker)
        blend = self.rank(items, raw, ranker)
        self.quality.measure(np.column_stack((experts, blend)), items, target,
                             self._span(eligible))

    def missed(self, eligible: int) -> None:
        """A test no expert could pass (the item is new to the engine)."""
        empty = np.zeros((0, len(self.experts) + 1))
        self.quality.measure(empty, EMPTY_INTS, -1, self._span(eligible))

    def _span(self, eligible: int) -> float:
        span = max(1, eligible - self.last_test)
        self.last_test = eligible
        return float(span)

    def report(self) -> dict[str, dict[str, float]]:
        """Per expert and for the blend: online HR and NDCG (decayed and total), and each
        expert's current weight in the blend."""
        report = self.quality.report()
        for name, weight in zip(self.experts, self.weights().tolist(), strict=True):
            report[name]["weight"] = round(weight, 6)
        return report

    def state(self) -> dict[str, np.ndarray]:
        return {**self.paced.state(), **self.quality.state(),
                "last_test": np.array([self.last_test])}

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        self.paced.restore(state)
        self.quality.restore(state)
        self.last_test = int(state["last_test"][0]) if "last_test" in state else 0
