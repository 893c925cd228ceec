"""Each model's known answers on tiny hand-made histories (what every model promises is the
contract's: tests/contracts/test_models.py)."""

from __future__ import annotations

import numpy as np
import pytest

from streamrec.models.base import SimilarItems
from streamrec.models.cooccurrence import CooccurrenceConfig, CooccurrenceModel
from streamrec.models.popularity import PopularityConfig, PopularityModel
from streamrec.types import EventBatch, Query

T0 = 1_700_000_000.0


def batch(users: list[int], items: list[int], weights: list[float] | None = None,
          times: list[float] | None = None) -> EventBatch:
    n = len(users)
    return EventBatch(np.array(users, np.int64), np.array(items, np.int64),
                      np.ones(n) if weights is None else np.array(weights, np.float64),
                      T0 + np.arange(n, dtype=np.float64) if times is None
                      else np.array(times, np.float64))


def anyone(exclude: list[int] | None = None) -> Query:
    return Query(None, np.zeros(0, np.int64), np.array(exclude or [], np.int64), T0)


def with_history(history: list[int], exclude: list[int] | None = None) -> Query:
    return Query(99, np.array(history, np.int64),
                 np.array(history if exclude is None else exclude, np.int64), T0)


class TestPopularityModel:
    def test_the_most_engaged_with_item_comes_first(self) -> None:
        model = PopularityModel(PopularityConfig(half_life_s=None))
        # item 3: three views (3); item 5: one purchase (8); item 7: one view (1)
        model.learn(batch([0, 1, 2, 3, 4], [3, 3, 3, 5, 7], [1, 1, 1, 8, 1]))
        found = model.recommend(anyone(), 10)
        assert found.items.tolist() == [5, 3, 7]
        np.testing.assert_allclose(found.scores, [8, 3, 1])

    def test_an_event_one_half_life_older_weighs_half(self) -> None:
        model = PopularityModel(PopularityConfig(half_life_s=3600.0))
        model.learn(batch([0, 1], [1, 2], times=[T0, T0 + 3600.0]))
        found = model.recommend(anyone(), 10)
        assert found.items.tolist() == [2, 1]
        np.testing.assert_allclose(found.scores, [1.0, 0.5])

    def test_negative_events_add_nothing_and_unengaged_items_are_never_recommended(self) -> None:
        # a dislike or a return is one user's say (ranking/negatives.py), not everyone's
        model = PopularityModel(PopularityConfig(half_life_s=None))
        model.learn(batch([0, 1, 2, 3, 4], [1, 1, 2, 4, 6], [1, -2, 2, 0, -4]))
        found = model.recommend(anyone(), 10)
        assert found.items.tolist() == [2, 1]
        np.testing.assert_allclose(found.scores, [2.0, 1.0])

    def test_ties_go_to_the_lower_index(self) -> None:
        model = PopularityModel(PopularityConfig(half_life_s=None))
        model.learn(batch([0, 1, 2], [6, 2, 4]))
        assert model.recommend(anyone(), 10).items.tolist() == [2, 4, 6]


def checkerboard() -> EventBatch:
    """8 users x 8 items: user u engages with item i when u + i is even."""
    pairs = [(u, i) for u in range(8) for i in range(8) if (u + i) % 2 == 0]
    return batch([u for u, _ in pairs], [i for _, i in pairs])


class TestCooccurrenceModel:
    @pytest.fixture
    def board(self) -> CooccurrenceModel:
        model = CooccurrenceModel(CooccurrenceConfig(half_life_s=None))
        model.learn(checkerboard())
        return model

    def test_in_a_checkerboard_the_withheld_item_of_the_users_half_comes_first(
        self, board: CooccurrenceModel
    ) -> None:
        found = board.recommend(with_history([0, 2, 4]), 10)
        assert found.items.tolist() == [6]  # nothing odd ever co-occurred with an even item
        assert found.because is not None and found.because.tolist() == [4]  # newest weighs most

    def test_the_newest_items_of_the_history_decide_first(
        self, board: CooccurrenceModel
    ) -> None:
        found = board.recommend(with_history([0, 2, 1, 3]), 10)
        # 1 and 3 are the newest: the odd items they bring beat the even ones; ties by index
        assert found.items.tolist() == [5, 7, 4, 6]

    def test_two_clusters_the_withheld_item_comes_first(self) -> None:
        model = CooccurrenceModel(CooccurrenceConfig(half_life_s=None))
        a_users = [u for u in range(6) for _ in range(4)]
        b_users = [u for u in range(6, 12) for _ in range(4)]
        model.learn(batch(a_users + b_users, [0, 1, 2, 3] * 6 + [4, 5, 6, 7] * 6))
        found = model.recommend(with_history([0, 1, 2]), 10)
        assert found.items.tolist() == [3]

    def test_similar_items_are_those_engaged_with_together(
        self, board: CooccurrenceModel
    ) -> None:
        assert isinstance(board, SimilarItems)
        found = board.similar(2, 10, np.array([6], np.int64))
        assert sorted(found.items.tolist()) == [0, 4]  # not 2 itself, not excluded 6, no odds
        assert (np.diff(found.scores) <= 0).all()
        assert len(board.similar(100, 10, np.zeros(0, np.int64))) == 0
