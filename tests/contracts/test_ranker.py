"""The ranker's contract: what the hybrid ranker promises whatever sources are registered.

Candidate lists are built from random source scores (``featurise``, as ``gather`` does), so the
checks hold for any columns the registry lays out: it starts from the prior, scores are finite
and one per candidate in any order (to the last bits), learning is deterministic and
``state``/``restore`` exact through the snapshots' ``np.savez``, a lesson about an item not in
the list teaches nothing, and the reasons' per-source contributions add up to the score.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamrec.ranking.features import CandidateSet, featurise, layout
from streamrec.ranking.hybrid import HybridConfig, HybridRanker


def candidate_list(seed: int, n: int = 30) -> CandidateSet:
    """``n`` candidates, each source scoring a random part of them."""
    rng = np.random.default_rng(seed)
    raw = rng.exponential(1.0, (n, len(layout().sources))) * (rng.random((n, 1)) < 0.8)
    raw *= rng.random(raw.shape) < 0.6
    items = rng.permutation(1000)[:n].astype(np.int64)
    return CandidateSet(items, raw, featurise(raw, int(rng.integers(0, 200))))


def lessons(ranker: HybridRanker, seeds: range) -> None:
    for seed in seeds:
        candidates = candidate_list(seed)
        taken = int(candidates.items[seed % candidates.items.size])
        ranker.learn_next_item(candidates, taken)
        ranker.learn_feedback(candidates, int(candidates.items[(seed * 7) % 30]))


def round_trip(state: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **state)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


@pytest.fixture
def taught() -> HybridRanker:
    ranker = HybridRanker()
    lessons(ranker, range(40))
    return ranker


def test_a_new_ranker_starts_from_the_prior_with_a_weight_per_feature() -> None:
    ranker = HybridRanker()
    np.testing.assert_array_equal(ranker.ftrl.weights(), layout().prior)
    prior = HybridConfig(prior={"bias": -1.0})
    assert HybridRanker(prior).ftrl.weights()[layout().features.index("bias")] == -1.0
    assert candidate_list(0).features.shape[1] == len(layout().features)


@given(seed=st.integers(0, 10_000), n=st.integers(0, 40))
def test_one_finite_score_per_candidate_whatever_their_order(seed: int, n: int) -> None:
    ranker = HybridRanker()
    lessons(ranker, range(5))
    candidates = candidate_list(seed, n)
    scores = ranker.rank(candidates)
    assert scores.shape == (n,) and np.isfinite(scores).all()
    order = np.random.default_rng(seed).permutation(n)
    shuffled = CandidateSet(candidates.items[order], candidates.raw[order],
                            candidates.features[order])
    # equal up to the last bit or so: BLAS sums a row differently at another position
    np.testing.assert_allclose(ranker.rank(shuffled), scores[order], rtol=1e-13, atol=0)


def test_the_same_lessons_give_the_same_weights(taught: HybridRanker) -> None:
    twin = HybridRanker()
    lessons(twin, range(40))
    np.testing.assert_array_equal(twin.ftrl.weights(), taught.ftrl.weights())
    assert not np.array_equal(taught.ftrl.weights(), layout().prior)  # it did learn


def test_state_and_restore_rank_and_learn_on_identically(taught: HybridRanker) -> None:
    restored = HybridRanker()
    restored.restore(round_trip(taught.state()))
    candidates = candidate_list(99)
    np.testing.assert_array_equal(restored.rank(candidates), taught.rank(candidates))
    lessons(restored, range(40, 60))
    lessons(taught, range(40, 60))
    state, other = restored.state(), taught.state()
    assert state.keys() == other.keys()
    for key in state:
        np.testing.assert_array_equal(state[key], other[key], err_msg=key)


def test_a_lesson_about_an_item_not_in_the_list_teaches_nothing(taught: HybridRanker) -> None:
    before = taught.ftrl.weights().copy()
    candidates = candidate_list(7)
    absent = int(candidates.items.max()) + 1
    taught.learn_next_item(candidates, absent)
    taught.learn_feedback(candidates, absent)
    np.testing.assert_array_equal(taught.ftrl.weights(), before)


def test_the_sources_contributions_and_the_rest_add_up_to_the_score(
        taught: HybridRanker) -> None:
    candidates = candidate_list(3)
    ranker, admitted = taught.serving()  # a source on probation adds nothing while out
    weights = ranker.weights()
    features = candidates.features.copy()
    if not admitted:
        features[:, list(layout().probation_features)] = 0.0
    logit = features @ weights
    own = np.zeros(len(layout().features), dtype=bool)
    own[[column for _, _, column in layout().source_features]] = True
    rest = features[:, ~own] @ weights[~own]
    contributions = taught.contributions(candidates)
    assert contributions.shape == (candidates.items.size, len(layout().sources))
    np.testing.assert_allclose(contributions.sum(axis=1) + rest, logit, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", [source.name for source in layout().sources])
def test_one_source_alone_ranks_by_its_own_score(name: str) -> None:
    ranker = HybridRanker(HybridConfig(only_source=name))
    candidates = candidate_list(5)
    np.testing.assert_array_equal(ranker.rank(candidates),
                                  candidates.raw[:, layout().names.index(name)])
    assert not ranker.wants_example()  # alone, it learns nothing
