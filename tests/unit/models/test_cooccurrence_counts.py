"""The co-occurrence counts a scoring formula can weigh evidence by (issue 16), read through
the accessors that stay when the storage changes (issue 18's budget)."""

from __future__ import annotations

import numpy as np

from streamrec.models.cooccurrence import CooccurrenceConfig, CooccurrenceModel
from streamrec.types import EventBatch


def test_pair_counts_and_support_are_the_faded_sums() -> None:
    model = CooccurrenceModel(CooccurrenceConfig(half_life_s=10.0, pair_decay=1.0,
                                                 max_neighbours=0))
    # user 0: items 1 then 2 (one pair), user 1: 1 then 2 ten seconds later
    model.learn(EventBatch(np.array([0, 0, 1, 1]), np.array([1, 2, 1, 2]), np.ones(4),
                           np.array([0.0, 0.0, 10.0, 10.0])))
    # at t=10 the first pair counts half
    assert model.pair_count(1, 2) == model.pair_count(2, 1) == 1.5
    assert model.pair_count(1, 3) == model.pair_count(7, 1) == 0.0
    np.testing.assert_allclose(model.support(np.array([1, 2, 3, -1])), [1.5, 1.5, 0.0, 0.0])


def test_a_pair_cut_by_the_budget_counts_zero() -> None:
    model = CooccurrenceModel(CooccurrenceConfig(half_life_s=None, pair_decay=1.0,
                                                 max_neighbours=2, window=1))
    # item 0 pairs with 1, 1, 2, 3, then 4: cut to 2 after its 2nd and 4th pairs
    users = np.repeat(np.arange(5), 2)
    items = np.array([1, 0, 1, 0, 2, 0, 3, 0, 4, 0])
    model.learn(EventBatch(users, items, np.ones(10), np.arange(10.0)))
    assert model.pair_count(0, 1) == 2.0
    assert model.pair_count(0, 2) == 1.0  # kept at the cut: ties go to the lower item
    assert model.pair_count(0, 3) == 0.0  # cut
    assert model.pair_count(0, 4) == 1.0  # taken since the last cut
    assert model.neighbour_counts()[0] == 3
