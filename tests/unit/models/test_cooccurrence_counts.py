"""The co-occurrence counts a scoring formula can weigh evidence by (issue 16), read through
the accessors that stay when the storage changes (issue 18's budget)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrec.models.cooccurrence import CooccurrenceConfig, CooccurrenceModel
from streamrec.types import EventBatch, Query


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


def _pairs_made_by(users_of: dict[int, int], shrinkage: float) -> CooccurrenceModel:
    """Item 0 paired with each item ``i`` of ``users_of`` by that many users, each user
    having only the two: every candidate's count equals its own support."""
    model = CooccurrenceModel(CooccurrenceConfig(half_life_s=None, pair_decay=1.0, alpha=0.0,
                                                 support_shrinkage=shrinkage))
    users, items, user = [], [], 0
    for item, count in sorted(users_of.items()):
        for _ in range(count):
            users += [user, user]
            items += [0, item]
            user += 1
    model.learn(EventBatch(np.array(users), np.array(items), np.ones(len(users)),
                           np.arange(float(len(users)))))
    return model


def _scores_after_item_0(model: CooccurrenceModel, items: list[int]) -> list[float]:
    query = Query(99, history=np.array([0]), exclude=np.array([0]), now=0.0)
    return [float(score) for score in model.score(query, np.array(items))]


def test_a_pair_one_user_made_weighs_less_than_one_many_made_at_the_same_ratio() -> None:
    # alpha 0: similarity = count / the candidate's support, 1 for both candidates
    once, many = _scores_after_item_0(_pairs_made_by({1: 1, 2: 9}, 1.0), [1, 2])
    assert once == pytest.approx(0.5) and many == pytest.approx(0.9)
    assert _scores_after_item_0(_pairs_made_by({1: 1, 2: 9}, 0.0), [1, 2]) == [1.0, 1.0]


@settings(max_examples=30, deadline=None)
@given(fewer=st.integers(1, 6), more=st.integers(1, 6), shrinkage=st.floats(0.01, 100.0))
def test_more_support_at_the_same_ratio_always_ranks_higher(fewer: int, more: int,
                                                              shrinkage: float) -> None:
    model = _pairs_made_by({1: fewer, 2: fewer + more}, shrinkage)
    low, high = _scores_after_item_0(model, [1, 2])
    assert 0.0 < low < high <= 1.0
    assert model.recommend(Query(99, np.array([0]), np.array([0]), 0.0), 1).items.tolist() == [2]


def test_similar_items_are_shrunk_as_a_users_scores_are() -> None:
    model = _pairs_made_by({1: 1, 2: 3}, 1.0)
    found = model.similar(0, 2, np.zeros(0, np.int64))
    assert found.items.tolist() == [2, 1]
    np.testing.assert_allclose(found.scores, [0.75, 0.5])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 30)), max_size=120))
def test_the_users_recent_items_in_a_snapshot_are_by_user_oldest_first(
        events: list[tuple[int, int]]) -> None:
    model = CooccurrenceModel(CooccurrenceConfig(window=4))
    for user, item in events:  # one at a time: the windows in the order users came
        model.learn(EventBatch(np.array([user]), np.array([item]), np.ones(1), np.zeros(1)))
    state = model.state()
    expected: dict[int, list[int]] = {}
    for user, item in events:
        window = [i for i in expected.setdefault(user, []) if i != item] + [item]
        expected[user] = window[-4:]
    users = sorted(expected)
    assert state["recent_users"].tolist() == users
    bounds = state["recent_indptr"].tolist()
    assert [state["recent_items"][bounds[n]:bounds[n + 1]].tolist()
            for n in range(len(users))] == [expected[u] for u in users]
    restored = CooccurrenceModel(CooccurrenceConfig(window=4))
    restored.restore(state)
    again = restored.state()
    assert all(np.array_equal(again[key], state[key], equal_nan=True) for key in state)
