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
    # lists were the blend without it all along (out from the start: no evidence yet)
    assert figures[BLEND]["ndcg"] == sequence["blend_ndcg_without"]
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
