"""Sources on probation (ranking/probation.py): a source that knows nothing of the next item
stays out of lists, one that does is let in, and the decision is made from the tests since
its first scores."""

from __future__ import annotations

import numpy as np

from streamrec.models.scores import SparseScores
from streamrec.ranking.blend import BLEND
from streamrec.ranking.features import CandidateSet, featurise, layout
from streamrec.ranking.hybrid import HybridConfig, HybridRanker
from streamrec.types import FloatArray, Query

SEQUENCE = layout().names.index("sequence")
COOCCURRENCE = layout().names.index("cooccurrence")


def stream(ranker: HybridRanker, n: int, sequence: str, fitted_at: int = 0,
           seed: int = 0) -> None:
    """``n`` next-item tests of 40 candidates: co-occurrence puts the taken item first half
    the time; the sequence source is silent before test ``fitted_at``, then scores at
    random (``noise``), puts the taken item first 9 times in 10 (``telling``) or a wrong one
    first and the taken one nowhere (``misleading``)."""
    rng = np.random.default_rng(seed)
    for test in range(n):
        raw = rng.exponential(1.0, (40, len(layout().sources))) * (rng.random((40, 1)) < 0.9)
        items = rng.permutation(5_000)[:40].astype(np.int64)
        taken = int(rng.integers(0, 40))
        if rng.random() < 0.5:
            raw[taken, COOCCURRENCE] = raw[:, COOCCURRENCE].max() + 1.0
        if test < fitted_at:
            raw[:, SEQUENCE] = 0.0
        elif sequence == "telling" and rng.random() < 0.9:
            raw[taken, SEQUENCE] = raw[:, SEQUENCE].max() + 1.0
        elif sequence == "misleading":  # sure of one wrong item, and never of the taken one
            raw[(taken + 1) % 40, SEQUENCE] = raw[:, SEQUENCE].max() + 1.0
            raw[taken, SEQUENCE] = 0.0
        ranker.wants_example()
        candidates = CandidateSet(items, raw, featurise(raw, int(rng.integers(1, 100))))
        ranker.learn_next_item(candidates, int(items[taken]))


def test_a_misleading_source_stays_out_and_costs_the_blend_nothing() -> None:
    # started with a strong weight on its ranks, as an unproven prior might
    ranker = HybridRanker(HybridConfig(prior={"sequence_rank": 2.0}))
    stream(ranker, 600, "misleading")
    figures = ranker.blend.report()
    sequence = figures["sequence"]
    assert sequence["admitted"] == 0.0 and sequence["trials"] == 600
    assert sequence["ndcg_on_trial"] < sequence["ndcg_chance"]
    assert sequence["blend_ndcg_with"] < sequence["blend_ndcg_without"] - 0.003  # its cost
    # lists were the blend without it all along (out from the start: no evidence yet); the
    # totals, as the blend's figures fade per test and the trials' per event
    without = ranker.blend.probation.blends.report()["without"]
    assert figures[BLEND]["total_ndcg"] == without["total_ndcg"]
    assert ranker.serving() == (ranker.ftrl_without, False)
    assert not ranker.contributions(candidates_of(ranker))[:, SEQUENCE].any()


def candidates_of(ranker: HybridRanker) -> CandidateSet:
    raw = np.random.default_rng(1).exponential(1.0, (20, len(layout().sources)))
    return CandidateSet(np.arange(20, dtype=np.int64), raw, featurise(raw, 10))


def test_a_source_that_tells_the_next_item_is_let_in_once_fitted() -> None:
    ranker = HybridRanker()
    stream(ranker, 600, "telling", fitted_at=300)
    figures = ranker.blend.report()["sequence"]
    # the 300 tests before its first fit are no evidence either way
    assert figures["trials"] == 300 and figures["admitted"] == 1.0
    assert figures["ndcg_on_trial"] > figures["ndcg_chance"]
    assert figures["blend_ndcg_with"] > figures["blend_ndcg_without"]
    assert ranker.serving() == (ranker.ftrl, True)


def test_before_its_first_fit_the_two_rankers_are_one() -> None:
    ranker = HybridRanker(HybridConfig(prior={"sequence_rank": 2.0}))
    stream(ranker, 200, "telling", fitted_at=10**6)
    np.testing.assert_array_equal(ranker.ftrl_without.weights(), ranker.ftrl.weights())
    assert ranker.blend.report()["sequence"]["trials"] == 0


class SparseScorer:
    """A source with an opinion on a few items only."""

    def __init__(self, scores: dict[int, float]) -> None:
        self.scores = scores

    def query_scores(self, query: Query, n_items: int) -> SparseScores:
        items = sorted(self.scores)
        return SparseScores(np.array(items, dtype=np.int64),
                            np.array([self.scores[i] for i in items]))

    def dense_scores(self, query: Query, n_items: int) -> FloatArray:
        out = np.zeros(n_items)
        out[list(self.scores)] = list(self.scores.values())
        return out


def test_a_source_out_of_lists_brings_them_no_candidates_either() -> None:
    """Out, a source on probation is asked nothing for a list (plan given: serving), as a
    disabled one; lessons and trials (no plan) still ask it, to measure it."""
    ranker = HybridRanker(HybridConfig(prior={"sequence_rank": 2.0}))
    stream(ranker, 300, "misleading")
    assert ranker.serving()[1] is False
    scorers = {"popularity": SparseScorer({3: 1.0}), "sequence": SparseScorer({7: 5.0})}
    query = Query(0, np.array([1], dtype=np.int64), np.array([1], dtype=np.int64), 1e9)
    served = ranker.candidates(query, scorers, 10, plan=ranker.plan())
    assert 7 not in served.items and 3 in served.items and "sequence" not in served.scored
    learning = ranker.candidates(query, scorers, 10)
    assert 7 in learning.items and "sequence" in learning.scored


def test_candidates_say_which_only_the_sources_on_probation_brought() -> None:
    scorers = {"popularity": SparseScorer({3: 1.0, 4: 0.5}),
               "sequence": SparseScorer({4: 2.0, 7: 5.0})}
    query = Query(0, np.array([1], dtype=np.int64), np.array([1], dtype=np.int64), 1e9)
    asked = HybridRanker().candidates(query, scorers, 10)
    assert asked.without_probation is not None
    assert dict(zip(asked.items.tolist(), asked.without_probation.tolist(), strict=True)) \
        == {3: True, 4: True, 7: False}
    alone = HybridRanker().candidates(query, {"popularity": scorers["popularity"]}, 10)
    assert alone.without_probation is None


def test_the_blend_without_a_source_has_none_of_the_items_only_it_brought() -> None:
    """The taken item is one only the sequence source brought (the others scored it, but
    below the best they brought): a list without the source would not have held it, so the
    blend without it misses every time, and the source is let in. Ranked over every
    candidate, the blend without it would have scored it as the others did, a hit at times."""
    ranker = HybridRanker()
    rng = np.random.default_rng(3)
    for _ in range(300):
        raw = rng.exponential(1.0, (40, len(layout().sources)))
        raw[:, SEQUENCE] = 0.0
        taken = int(rng.integers(0, 40))
        raw[taken, SEQUENCE] = 1.0  # the source's only opinion: the taken item
        kept = np.ones(40, dtype=bool)
        kept[taken] = False
        items = rng.permutation(5_000)[:40].astype(np.int64)
        ranker.wants_example()
        candidates = CandidateSet(items, raw, featurise(raw, 10), without_probation=kept)
        ranker.learn_next_item(candidates, int(items[taken]))
    figures = ranker.blend.report()["sequence"]
    assert figures["blend_ndcg_without"] == 0.0 < figures["blend_ndcg_with"]
    assert figures["admitted"] == 1.0


def test_while_a_source_has_never_served_the_blend_learns_as_if_it_did_not_exist() -> None:
    """Two rankers take the same tests: one with a misleading sequence source that brings
    candidates of its own, one that never had the source (only the candidates the others
    brought). The first never lets it in, and its lists, lessons and blend weights are the
    second's exactly."""
    with_it, never = HybridRanker(), HybridRanker()
    rng = np.random.default_rng(5)
    for _ in range(400):
        raw = rng.exponential(1.0, (40, len(layout().sources))) * (rng.random((40, 1)) < 0.9)
        kept = rng.random(40) < 0.8  # the rest only the sequence source brought
        raw[~kept] = 0.0
        raw[:, SEQUENCE] = rng.exponential(1.0, 40)
        items = rng.permutation(5_000)[:40].astype(np.int64)
        taken = int(rng.choice(np.flatnonzero(kept)))
        raw[taken, SEQUENCE] = 0.0  # misleading: never the taken item
        history = int(rng.integers(1, 100))
        with_it.wants_example()
        with_it.learn_next_item(CandidateSet(items, raw, featurise(raw, history),
                                             without_probation=kept, history_length=history),
                                int(items[taken]))
        alone = raw[kept].copy()
        alone[:, SEQUENCE] = 0.0
        never.wants_example()
        never.learn_next_item(CandidateSet(items[kept], alone, featurise(alone, history)),
                              int(items[taken]))
    assert with_it.blend.report()["sequence"]["trials"] == 400
    assert not with_it.serving()[1] and not never.serving()[1]
    np.testing.assert_array_equal(with_it.ftrl_without.weights(), never.ftrl_without.weights())
    np.testing.assert_array_equal(with_it.blend.quality.sums, never.blend.quality.sums)
    np.testing.assert_array_equal(with_it.blend.rates.sums, never.blend.rates.sums)
