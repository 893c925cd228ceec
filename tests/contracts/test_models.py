"""The Model contract, run on every model, then each model's known answers, then ``top_k``.

``ModelContract`` trains a model on one fixed, seeded history and checks what every model
promises: ``k`` and ``exclude`` honoured, scores finite and best first, items unique, ``score``
agreeing with ``recommend``, ``state``/``restore`` exact (through the same ``np.savez`` the
snapshots use), and the same input giving the same output.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from streamrec.models.base import Model, SimilarItems, top_k
from streamrec.models.cooccurrence import CooccurrenceConfig, CooccurrenceModel
from streamrec.models.popularity import PopularityConfig, PopularityModel
from streamrec.types import Candidates, EventBatch, IntArray, Query

T0 = 1_700_000_000.0
N_USERS, N_ITEMS, N_EVENTS = 40, 30, 600


def seeded_history() -> EventBatch:
    """Users with a taste for one of three item groups, a few dislikes, times increasing."""
    rng = np.random.default_rng(20240601)
    users = rng.integers(0, N_USERS, N_EVENTS)
    group = users % 3
    items = group * 10 + np.minimum(rng.geometric(0.25, N_EVENTS) - 1, 9)
    weights = rng.choice([1.0, 2.0, 4.0, 8.0, -2.0], N_EVENTS, p=[0.5, 0.2, 0.1, 0.1, 0.1])
    times = T0 + np.cumsum(rng.integers(0, 600, N_EVENTS)).astype(np.float64)
    return EventBatch(users.astype(np.int64), items.astype(np.int64), weights, times)


def chunks(batch: EventBatch, parts: int) -> list[EventBatch]:
    bounds = np.linspace(0, len(batch), parts + 1).astype(int)
    return [EventBatch(batch.users[a:b], batch.items[a:b], batch.weights[a:b],
                       batch.timestamps[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]


def query_for(batch: EventBatch, user: int, exclude: IntArray | None = None) -> Query:
    mine = batch.users == user
    history = batch.items[mine]
    return Query(user, history, np.zeros(0, np.int64) if exclude is None else exclude,
                 float(batch.timestamps.max()), batch.weights[mine], batch.timestamps[mine])


def snapshot_round_trip(state: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **state)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def assert_same_candidates(left: Candidates, right: Candidates) -> None:
    np.testing.assert_array_equal(left.items, right.items)
    np.testing.assert_array_equal(left.scores, right.scores)


def assert_same_state(left: Mapping[str, np.ndarray], right: Mapping[str, np.ndarray]) -> None:
    assert left.keys() == right.keys()
    for name in left:
        np.testing.assert_array_equal(left[name], right[name], err_msg=name)


class ModelContract:
    """Subclasses define ``make_model()``; known answers live in the subclasses."""

    def make_model(self) -> Model:
        raise NotImplementedError

    @pytest.fixture
    def history(self) -> EventBatch:
        return seeded_history()

    @pytest.fixture
    def model(self, history: EventBatch) -> Model:
        model = self.make_model()
        for part in chunks(history, 4):
            model.learn(part)
        return model

    @pytest.fixture
    def query(self, history: EventBatch) -> Query:
        return query_for(history, user=0)

    def test_it_speaks_the_model_protocol(self, model: Model) -> None:
        assert isinstance(model, Model) and model.name

    def test_at_most_k_items_and_a_smaller_k_gives_a_prefix(
        self, model: Model, query: Query
    ) -> None:
        full = model.recommend(query, 1000)
        assert len(full) >= 5  # the fixture history gives every model something to say
        for k in (1, 2, 5, len(full), len(full) + 3):
            found = model.recommend(query, k)
            assert len(found) == min(k, len(full))
            assert_same_candidates(found, Candidates(full.items[:k], full.scores[:k]))

    def test_k_zero_gives_nothing(self, model: Model, query: Query) -> None:
        assert len(model.recommend(query, 0)) == 0

    def test_excluded_items_never_appear_and_the_rest_keep_their_order(
        self, model: Model, query: Query
    ) -> None:
        full = model.recommend(query, 1000)
        excluded = full.items[[0, 2, 3]]
        # out-of-range and negative indices in exclude are ignored, not an error
        wild = np.r_[excluded, -1, N_ITEMS + 100].astype(np.int64)
        found = model.recommend(Query(query.user, query.history, wild, query.now,
                                      query.history_weights, query.history_times), 1000)
        assert not set(found.items.tolist()) & set(excluded.tolist())
        kept = ~np.isin(full.items, excluded)
        assert_same_candidates(found, Candidates(full.items[kept], full.scores[kept]))

    def test_scores_are_finite_best_first_and_items_unique(
        self, model: Model, query: Query
    ) -> None:
        found = model.recommend(query, 1000)
        assert found.items.dtype == np.int64 and found.scores.dtype == np.float64
        assert np.isfinite(found.scores).all()
        assert (np.diff(found.scores) <= 0).all()
        assert np.unique(found.items).size == len(found)
        assert ((found.items >= 0) & (found.items < N_ITEMS)).all()

    def test_score_agrees_with_recommend(self, model: Model, query: Query) -> None:
        found = model.recommend(query, 10)
        np.testing.assert_array_equal(model.score(query, found.items), found.scores)

    def test_unknown_items_score_zero(self, model: Model, query: Query) -> None:
        unknown = np.array([N_ITEMS + 5, 10 * N_ITEMS], dtype=np.int64)
        np.testing.assert_array_equal(model.score(query, unknown), [0.0, 0.0])

    def test_state_and_restore_give_identical_scores(
        self, model: Model, query: Query, history: EventBatch
    ) -> None:
        restored = self.make_model()
        restored.restore(snapshot_round_trip(model.state()))
        for user in range(5):
            other = query_for(history, user)
            assert_same_candidates(restored.recommend(other, 20), model.recommend(other, 20))
            items = np.arange(N_ITEMS, dtype=np.int64)
            np.testing.assert_array_equal(restored.score(other, items), model.score(other, items))
        assert_same_state(restored.state(), model.state())

    def test_a_restored_model_learns_on_exactly_like_the_original(
        self, history: EventBatch, query: Query
    ) -> None:
        first, second = chunks(history, 2)
        original = self.make_model()
        original.learn(first)
        restored = self.make_model()
        restored.restore(snapshot_round_trip(original.state()))
        original.learn(second)
        restored.learn(second)
        assert_same_state(restored.state(), original.state())
        assert_same_candidates(restored.recommend(query, 20), original.recommend(query, 20))

    def test_same_input_same_output(self, model: Model, history: EventBatch,
                                    query: Query) -> None:
        twin = self.make_model()
        for part in chunks(history, 4):
            twin.learn(part)
        assert_same_state(twin.state(), model.state())
        assert_same_candidates(twin.recommend(query, 20), model.recommend(query, 20))
        assert_same_candidates(model.recommend(query, 20), model.recommend(query, 20))

    def test_an_empty_batch_changes_nothing(self, model: Model, query: Query) -> None:
        before = model.state()
        empty = np.zeros(0, np.int64)
        model.learn(EventBatch(empty, empty, np.zeros(0), np.zeros(0)))
        assert_same_state(model.state(), before)

    def test_a_model_that_learned_nothing_recommends_nothing(self, query: Query) -> None:
        fresh = self.make_model()
        assert len(fresh.recommend(query, 10)) == 0
        np.testing.assert_array_equal(fresh.score(query, np.arange(3)), np.zeros(3))


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


class TestPopularityModel(ModelContract):
    def make_model(self) -> Model:
        return PopularityModel(PopularityConfig(half_life_s=7 * 86400.0))

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


class TestCooccurrenceModel(ModelContract):
    def make_model(self) -> Model:
        return CooccurrenceModel(CooccurrenceConfig(window=20, half_life_s=30 * 86400.0))

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


# -- top_k -------------------------------------------------------------------------------------

scores = arrays(np.float64, st.integers(0, 40),
                elements=st.floats(allow_nan=True, allow_infinity=True, width=16)
                | st.sampled_from([0.0, 1.0, -1.0]))


@given(scores=scores, k=st.integers(-1, 50),
       exclude=st.lists(st.integers(-3, 45), max_size=10).map(lambda v: np.array(v, np.int64)))
def test_top_k_is_sorted_unique_without_excluded_and_as_long_as_it_can_be(
    scores: np.ndarray, k: int, exclude: IntArray
) -> None:
    note(f"scores={scores.tolist()} k={k} exclude={exclude.tolist()}")
    original = scores.copy()
    found = top_k(scores, k, exclude)
    eligible = [i for i in range(scores.size)
                if np.isfinite(scores[i]) and i not in set(exclude.tolist())]
    assert len(found) == max(0, min(k, len(eligible)))
    assert np.unique(found.items).size == len(found)
    assert not set(found.items.tolist()) & set(exclude.tolist())
    assert (np.diff(found.scores) <= 0).all()
    # exactly the best, ties to the lower index
    best = sorted(eligible, key=lambda i: (-scores[i], i))[: max(k, 0)]
    assert found.items.tolist() == best
    np.testing.assert_array_equal(found.scores, scores[best])
    np.testing.assert_array_equal(scores, original)  # the caller's array is untouched
