"""The self-measuring blend: experts, their online quality, and the Hedge weights over them.

The hybrid ranker (``hybrid.py``) owns one. The experts are, in this order: every source
ranking by its own score, the popularity counters at the log's pace
(``paced_popularity.py``), and the learned ranker. At each of the ranker's tests (before an
event is learned, ``hybrid.py``) every expert and the blend itself are measured
(``online_quality.py``), and the blend's weights follow what the experts earned
(``hedge.py``). Everything here changes only at those tests and with learned events, in log
order: a replay of the log rebuilds it exactly.

The weights are kept apart by the asking user's **gap**: how many events of the whole log
came since their previous one (0, 1-3, 4-15, ... by powers of 4). On a slow shop a user in
the middle of a visit takes next what is like the item in front of them (content,
co-occurrence), and a user back after months what is popular or to their long-run taste;
one set of weights would serve the commoner of the two to both. The gap is counted in the
log's own events, so it means the same in a busy shop and a slow one, and over HTTP (where
``now`` is the wall clock) as in a replay.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from streamrec.ranking.hedge import Hedge, HedgeConfig
from streamrec.ranking.online_quality import OnlineQuality
from streamrec.ranking.paced_popularity import PacedPopularity
from streamrec.ranking.probation import Probation
from streamrec.types import EMPTY_INTS, EventBatch, FloatArray, IntArray

RANKER = "ranker"
BLEND = "blend"


@dataclass(frozen=True, slots=True)
class LeftOut:
    """A test's candidates as a list without the sources on probation has them
    (``HybridRanker``): the items the other sources brought, their raw scores with the
    probation columns silent, the scores of the ranker taught without those sources'
    features, and which of the test's candidates they are (``kept``; None: all)."""

    items: IntArray
    raw: FloatArray
    ranker: FloatArray
    kept: np.ndarray | None


class Blend:
    def __init__(self, sources: Sequence[str], config: HedgeConfig | None = None,
                 k: int = 10, mixes: bool = True, probation: Sequence[int] = ()) -> None:
        """``mixes``: False keeps the ranker alone on lists (measuring all the same), for a
        ranker fit offline to another question than the next item (stream lessons off).
        ``probation``: the source columns that serve only once each has earned its place
        (``probation.py``)."""
        self.config = config or HedgeConfig()
        self.mixes = self.config.enabled and mixes
        self.sources = tuple(sources)
        self.paced = PacedPopularity(self.config.paced_half_lives)
        self.experts = (*self.sources, *self.paced.names, RANKER)
        self.hedge = Hedge(self.experts, self.config, RANKER)
        # fading per test (``fade=1`` below): see ``HedgeConfig.half_life_tests``
        self.quality = OnlineQuality((*self.experts, BLEND), k, self.config.half_life_tests,
                                     self.config.gap_contexts, self.config.gap_kernel)
        # the blend as it would rank at each multiple of the learning rate, measured at the
        # same tests: lists use the multiple that has done best (``multiplier``)
        self.multipliers = tuple(self.config.rate_multipliers) or (1.0,)
        self.rates = OnlineQuality(tuple(f"rate_{m:g}" for m in self.multipliers), k,
                                   self.config.half_life_tests, state_key="rate_quality")
        self.probation = Probation(probation, k, self.config.probation_half_life)
        self.last_test = 0  # the eligible event of the last test
        # per user, 1 + the position in the log (events learned) of their latest event
        self.last_seen = np.zeros(0, dtype=np.int64)

    def learn(self, batch: EventBatch) -> None:
        if len(batch) and self.config.gap_contexts > 1:
            size = int(batch.users.max()) + 1
            if size > self.last_seen.size:
                grown = np.zeros(max(size, 2 * self.last_seen.size), dtype=np.int64)
                grown[: self.last_seen.size] = self.last_seen
                self.last_seen = grown
            positions = self.paced.learned + np.arange(1, len(batch) + 1, dtype=np.int64)
            np.maximum.at(self.last_seen, batch.users, positions)
        self.paced.learn(batch)

    def merge_users(self, source: int, target: int) -> None:
        """``target`` (a user a session turned out to be) was last seen at the later of the
        two."""
        if source < self.last_seen.size and target < self.last_seen.size:
            self.last_seen[target] = max(self.last_seen[target], self.last_seen[source])

    def forget_users(self, users: IntArray) -> None:
        """Never seen, as far as gap contexts go."""
        self.last_seen[users[users < self.last_seen.size]] = 0

    def context(self, user: int | None) -> int:
        """The user's gap context: events of the log since their latest one, by powers of 4
        (0: their event was the log's latest); the last context for users never seen."""
        last = self.config.gap_contexts - 1
        if user is None or user >= self.last_seen.size or self.last_seen[user] == 0:
            return last
        return self.context_of_gap(self.paced.learned - int(self.last_seen[user]))

    def context_of_gap(self, gap: int) -> int:
        """0 for no event since the user's, then 1-3, 4-15, 16-63, ... (powers of 4)."""
        power = 0 if gap < 1 else 1 + (int(gap).bit_length() - 1) // 2
        return min(self.config.gap_contexts - 1, power)

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

    def weights(self, context: int | None = None, hedge: Hedge | None = None,
                multiplier: float | None = None) -> FloatArray:
        """The experts' weights for users of a gap ``context`` (None: over all users), by
        ``hedge``'s rate (default this blend's) times ``multiplier`` (default the one that
        has done best on the stream) and its prior."""
        hedge = self.hedge if hedge is None else hedge
        multiplier = self.multiplier() if multiplier is None else multiplier
        return hedge.weights(self.quality.evidence(context)[: len(self.experts)],
                             hedge.config.learning_rate * multiplier)

    def multiplier(self) -> float:
        """The multiple of the learning rate whose blend has the best decayed mean NDCG on
        the stream's tests so far: 1 (or the first) before any test and on a tie, so the
        rate moves only on evidence."""
        if len(self.multipliers) == 1:
            return self.multipliers[0]
        means = self.rates.mean_gains()
        base = self.multipliers.index(1.0) if 1.0 in self.multipliers else 0
        best = int(np.argmax(means))
        return self.multipliers[base if means[base] >= means[best] else best]

    def rank(self, items: IntArray, raw: FloatArray, ranker: FloatArray,
             hedge: Hedge | None = None, mixes: bool | None = None,
             user: int | None = None) -> FloatArray:
        """The list's scores: the ranker's until anything was measured, then the Hedge mix
        with the weights of the user's gap context (by ``hedge``'s rate and prior: a serving
        plan's; default this blend's)."""
        hedge = self.hedge if hedge is None else hedge
        mixing = self.mixes if mixes is None else mixes
        if not mixing or not self.quality.sums[:, -1, 0].any():
            return ranker
        weights = self.weights(self.context(user), hedge)
        return hedge.mix(self.expert_scores(items, raw, ranker), weights)

    def measure(self, items: IntArray, raw: FloatArray, ranker: FloatArray,
                target: int, eligible: int, user: int | None = None,
                left_out: LeftOut | None = None) -> None:
        """One online test at the ``eligible``-th eligible event: ``user`` took ``target``;
        every expert and the blend are scored as they were just before (the blend with the
        weights it had then). It stands for the eligible events since the last test.

        ``left_out``: the test as a list without the sources on probation has it; then their
        trial goes on (``probation.py``). While they are out, the experts and the blend are
        measured as lists have them (``left_out``'s candidates, scores and ranker), so the
        weights learned are those of a blend that never had them (exactly, while they have
        never served)."""
        admitted = left_out is None or self.probation.admits()
        listed, served_raw, listed_ranker = items, raw, ranker
        if left_out is not None and not admitted:
            listed, served_raw, listed_ranker = left_out.items, left_out.raw, left_out.ranker
        experts = self.expert_scores(listed, served_raw, listed_ranker)
        blend = self.rank(listed, served_raw, listed_ranker, user=user)
        context, span = self.context(user), self._span(eligible)
        if left_out is not None and self.probation.on_trial(raw):
            if admitted:
                with_them = blend
                without_them = self.rank(left_out.items, left_out.raw, left_out.ranker,
                                         user=user)
            else:
                with_them, without_them = self.rank(items, raw, ranker, user=user), blend
            if left_out.kept is not None:  # the others are not in such a list: misses
                spread = np.full(items.size, -np.inf)
                spread[left_out.kept] = without_them
                without_them = spread
            self.probation.measure(raw, items, target, with_them, without_them, span)
        if len(self.multipliers) > 1:  # one multiple: nothing to choose, nothing to pay
            evidence = self.quality.evidence(context)[: len(self.experts)]
            rate = self.hedge.config.learning_rate
            weights = np.array([self.hedge.weights(evidence, rate * m)
                                for m in self.multipliers])
            self.rates.measure(self.hedge.mix_many(experts, weights), listed, target, span,
                               fade=1.0)
        self.quality.measure(np.column_stack((experts, blend)), listed, target, span, context,
                             fade=1.0)

    def missed(self, eligible: int, user: int | None = None) -> None:
        """A test no expert could pass (the item is new to the engine)."""
        empty = np.zeros((0, len(self.experts) + 1))
        context, span = self.context(user), self._span(eligible)
        if len(self.multipliers) > 1:
            self.rates.measure(np.zeros((0, len(self.multipliers))), EMPTY_INTS, -1, span,
                               fade=1.0)
        self.quality.measure(empty, EMPTY_INTS, -1, span, context, fade=1.0)

    def _span(self, eligible: int) -> float:
        span = max(1, eligible - self.last_test)
        self.last_test = eligible
        return float(span)

    def report(self) -> dict[str, dict[str, float]]:
        """Per expert and for the blend: online HR and NDCG (decayed and total), and each
        expert's weight in the blend (averaged over the gap contexts, ``mean_weights``)."""
        report = self.quality.report()
        for name, weight in zip(self.experts, self.mean_weights().tolist(), strict=True):
            report[name]["weight"] = round(weight, 6)
        report[BLEND]["rate"] = self.hedge.config.learning_rate * self.multiplier()
        for column in self.probation.columns:
            report[self.sources[column]].update(self.probation.report())
        return report

    def mean_weights(self) -> FloatArray:
        """Each expert's share of the blend, averaged over the gap contexts as the stream's
        (decayed) tests fall in them: what a list was made of, on average."""
        tests = self.quality.sums[:, 3, 0]
        if tests.sum() <= 0:
            return self.weights(self.config.gap_contexts - 1)
        per_context = np.array([self.weights(c) for c in range(self.config.gap_contexts)])
        return np.asarray(tests @ per_context / tests.sum(), dtype=np.float64)

    def state(self) -> dict[str, np.ndarray]:
        return {**self.paced.state(), **self.quality.state(), **self.rates.state(),
                **self.probation.state(),
                "last_test": np.array([self.last_test]),
                "last_seen": self.last_seen[: self._users()].copy()}

    def _users(self) -> int:
        """Users with a position kept (the array grows by doubling)."""
        nonzero = np.flatnonzero(self.last_seen)
        return int(nonzero[-1]) + 1 if nonzero.size else 0

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        self.paced.restore(state)
        self.quality.restore(state)
        self.rates.restore(state)
        self.probation.restore(state)
        self.last_test = int(state["last_test"][0]) if "last_test" in state else 0
        self.last_seen = np.array(state.get("last_seen", np.zeros(0)), dtype=np.int64)
