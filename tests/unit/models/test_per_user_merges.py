"""Models with per-user state (``MergesUsers``): after a session is merged into its user the
user holds what the session had; and co-occurrence draws no neighbours from a dislike."""

from __future__ import annotations

import numpy as np

from streamrec.models.als import ALSConfig, ALSModel
from streamrec.models.base import MergesUsers
from streamrec.models.cooccurrence import CooccurrenceConfig, CooccurrenceModel
from streamrec.types import EventBatch, Query

NOTHING = np.zeros(0, dtype=np.int64)
ALL_ITEMS = np.arange(8)


def batch(users: list[int], items: list[int], weights: list[float] | None = None
          ) -> EventBatch:
    n = len(users)
    return EventBatch(np.array(users, np.int64), np.array(items, np.int64),
                      np.ones(n) if weights is None else np.array(weights, np.float64),
                      np.arange(n, dtype=np.float64))


def taste_groups() -> EventBatch:
    """Users 2-9 like items 0-3 (even users) or 4-7 (odd users)."""
    users, items = [], []
    for user in range(2, 10):
        for item in range(4) if user % 2 == 0 else range(4, 8):
            users.append(user)
            items.append(item)
    return batch(users, items)


def test_both_models_with_per_user_state_can_merge_users() -> None:
    assert isinstance(ALSModel(), MergesUsers)
    assert isinstance(CooccurrenceModel(), MergesUsers)


def test_als_the_user_is_folded_in_with_the_sessions_events_and_the_session_is_cleared() -> None:
    config = ALSConfig(factors=4, iterations=10, regularization=0.01)
    merged, expected = ALSModel(config), ALSModel(config)
    merged.learn(taste_groups())
    merged.refit()
    expected.restore(merged.state())
    session = batch([0, 0, 0], [4, 5, 6], [1.0, 2.0, -1.0])
    merged.learn(session)
    merged.learn(batch([1], [0]))
    merged.merge_users(0, 1)
    # what the user would hold had the session's events been theirs from the start
    expected.learn(batch([1, 1, 1, 1], [4, 5, 6, 0], [1.0, 2.0, -1.0, 1.0]))
    np.testing.assert_allclose(merged.score(Query(1, NOTHING, NOTHING, 0.0), ALL_ITEMS),
                               expected.score(Query(1, NOTHING, NOTHING, 0.0), ALL_ITEMS),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(merged.score(Query(0, NOTHING, NOTHING, 0.0), ALL_ITEMS),
                                  np.zeros(8))
    assert merged.matrix().getrow(0).count_nonzero() == 0  # exact zeros: a fit drops them


def test_cooccurrence_the_users_next_event_pairs_with_the_sessions_recent_items() -> None:
    model = CooccurrenceModel(CooccurrenceConfig(half_life_s=None))
    model.learn(batch([0, 1], [3, 4]))  # session 0 saw 3; user 1 saw 4
    model.merge_users(0, 1)
    model.learn(batch([1], [5]))
    assert set(model.similar(5, 5, NOTHING).items.tolist()) == {3, 4}
    model.learn(batch([0], [6]))  # the session itself has no recent items left
    assert model.similar(6, 5, NOTHING).items.size == 0


def test_cooccurrence_an_item_whose_newest_event_is_negative_brings_in_nothing() -> None:
    model = CooccurrenceModel(CooccurrenceConfig(half_life_s=None))
    model.learn(taste_groups())
    liked_and_disliked = Query(0, np.array([0, 4, 4]), NOTHING, 0.0,
                               history_weights=np.array([1.0, 1.0, -2.0]))
    found = model.recommend(liked_and_disliked, 8)
    assert set(found.items.tolist()) == {1, 2, 3}  # 0's group only
    assert found.because is not None and set(found.because.tolist()) == {0}
    taken_back = Query(0, np.array([0, 4, 4]), NOTHING, 0.0,
                       history_weights=np.array([1.0, -2.0, 1.0]))
    assert {5, 6, 7} <= set(model.recommend(taken_back, 8).items.tolist())
