"""The Model contract, run on every registered source's model, the contract of refittable
models, then ``top_k``.

``ModelContract`` trains a model on one fixed, seeded history (after the catalogue, for models
that learn items; then a full fit, for refittable ones) and checks what every model promises:
``k`` and ``exclude`` honoured, scores finite and best first, items unique, ``score``
agreeing with ``recommend``, ``state``/``restore`` exact (through the same ``np.savez`` the
snapshots use), and the same input giving the same output. ``TestEveryRegisteredModel`` runs
it on the model of every source in ``streamrec.sources`` with the default settings, so a new
source is checked without a line here. Each model's known answers: tests/unit/models/.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import cast

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from streamrec.engine.replay import assert_same_state
from streamrec.models.base import LearnsItems, Model, Refittable, SimilarItems, top_k
from streamrec.settings import ModelSettings
from streamrec.sources import SOURCES
from streamrec.types import Candidates, EventBatch, IntArray, Item, Query

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


def catalogue() -> list[tuple[int, Item]]:
    """Every item of the seeded history with the words and category of its group."""
    return [(item, Item(f"i{item}", {"category": f"group{item // 10}"},
                        f"word{item % 10} theme{item // 10}")) for item in range(N_ITEMS)]


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


class ModelContract:
    """Subclasses define ``make_model()``: a fresh model, before the catalogue and events."""

    def make_model(self) -> Model:
        raise NotImplementedError

    def trained(self, parts: list[EventBatch]) -> Model:
        """A fresh model that learned the catalogue (if it does), ``parts``, then a full fit
        (if it has one)."""
        model = self.make_model()
        if isinstance(model, LearnsItems):
            model.learn_items(catalogue())
        for part in parts:
            model.learn(part)
        if isinstance(model, Refittable):
            model.refit()
        return model

    @pytest.fixture
    def history(self) -> EventBatch:
        return seeded_history()

    @pytest.fixture
    def model(self, history: EventBatch) -> Model:
        return self.trained(chunks(history, 4))

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
        assert_same_state(restored.state(), model.state(), exact=True)

    def test_a_restored_model_learns_on_exactly_like_the_original(
        self, history: EventBatch, query: Query
    ) -> None:
        first, second = chunks(history, 2)
        original = self.trained([first])
        restored = self.make_model()
        restored.restore(snapshot_round_trip(original.state()))
        original.learn(second)
        restored.learn(second)
        assert_same_state(restored.state(), original.state(), exact=True)
        assert_same_candidates(restored.recommend(query, 20), original.recommend(query, 20))

    def test_same_input_same_output(self, model: Model, history: EventBatch,
                                    query: Query) -> None:
        twin = self.trained(chunks(history, 4))
        assert_same_state(twin.state(), model.state(), exact=True)
        assert_same_candidates(twin.recommend(query, 20), model.recommend(query, 20))
        assert_same_candidates(model.recommend(query, 20), model.recommend(query, 20))

    def test_an_empty_batch_changes_nothing(self, model: Model, query: Query) -> None:
        before = model.state()
        empty = np.zeros(0, np.int64)
        model.learn(EventBatch(empty, empty, np.zeros(0), np.zeros(0)))
        assert_same_state(model.state(), before, exact=True)

    def test_a_model_that_learned_nothing_recommends_nothing(self, query: Query) -> None:
        fresh = self.make_model()
        assert len(fresh.recommend(query, 10)) == 0
        np.testing.assert_array_equal(fresh.score(query, np.arange(3)), np.zeros(3))

    def test_similar_items_are_other_items_best_first_without_the_excluded(
        self, model: Model
    ) -> None:
        if not isinstance(model, SimilarItems):
            return  # not every model knows which items are alike (models/base.py)
        exclude = np.array([1, 2, -1, N_ITEMS + 9], np.int64)
        full = model.similar(0, 1000, np.zeros(0, np.int64))
        assert len(full) >= 1 and 0 not in full.items.tolist()
        found = model.similar(0, 1000, exclude)
        assert not {0, 1, 2} & set(found.items.tolist())
        assert np.unique(found.items).size == len(found)
        assert np.isfinite(found.scores).all() and (np.diff(found.scores) <= 0).all()
        assert len(model.similar(0, 2, exclude)) == min(2, len(found))
        assert len(model.similar(N_ITEMS + 5, 10, exclude)) == 0


@pytest.mark.parametrize("name", SOURCES.names())
class TestEveryRegisteredModel(ModelContract):
    """The contract on each registered source's model, with the default settings."""

    @pytest.fixture(autouse=True)
    def _source(self, name: str) -> None:
        self.source = SOURCES[name]

    def make_model(self) -> Model:
        return self.source.build(ModelSettings())


def item_learning_sources() -> list[str]:
    return [s.name for s in SOURCES if isinstance(s.build(ModelSettings()), LearnsItems)]


def test_the_item_changes_contract_runs_on_a_model() -> None:
    assert item_learning_sources()  # content: else the test below checks nothing


@pytest.mark.parametrize("name", item_learning_sources())
def test_items_changed_after_the_events_restore_to_identical_scores(name: str) -> None:
    """The catalogue changes after the model learned (and fit) the events: one item's words
    and category, then a new item. A restart (``state``, then ``restore``) serves exactly what
    the live model does: what a model derives at a catalogue change equals what it derives
    from its state at once. A state taken before each change (a snapshot: what a model keeps
    for the next one must follow the change) changes nothing."""
    def make() -> Model:
        return SOURCES[name].build(ModelSettings())

    model, twin = make(), make()  # the twin's state is taken only at the end
    for learner in (model, twin):
        assert isinstance(learner, LearnsItems)
        learner.learn_items(catalogue())
        learner.learn(seeded_history())
        if isinstance(learner, Refittable):
            learner.refit()
    items = np.arange(N_ITEMS + 3, dtype=np.int64)
    for change in ((12, Item("i12", {"category": "group0"}, "word7 theme0")),
                   (N_ITEMS + 2, Item("new", {"category": "group2"}, "word1 theme2"))):
        model.state()
        for learner in (model, twin):
            cast(LearnsItems, learner).learn_items([change])
        assert_same_state(model.state(), twin.state(), exact=True)
        restored = make()
        restored.restore(snapshot_round_trip(model.state()))
        for user in range(5):
            query = query_for(seeded_history(), user)
            assert_same_candidates(restored.recommend(query, 20), model.recommend(query, 20))
            np.testing.assert_array_equal(restored.score(query, items),
                                          model.score(query, items))


def refittable_sources() -> list[str]:
    return [s.name for s in SOURCES if isinstance(s.build(ModelSettings()), Refittable)]


def test_the_refittable_contract_runs_on_a_model() -> None:
    assert refittable_sources()  # ALS: else the class below checks nothing


@pytest.mark.parametrize("name", refittable_sources())
class TestEveryRefittableModel:
    """A full fit split in its steps (``begin_refit`` under the lock, ``fit`` off it,
    ``swap`` under it) is the same fit as ``refit``, and the steps keep their promises."""

    @pytest.fixture
    def make(self, name: str) -> Callable[[], Refittable]:
        return lambda: cast(Refittable, SOURCES[name].build(ModelSettings()))

    @staticmethod
    def learned(model: Refittable, parts: list[EventBatch]) -> Model:
        learner = cast(Model, model)
        for part in parts:
            learner.learn(part)
        return learner

    def test_begin_fit_swap_is_refit(self, make: Callable[[], Refittable]) -> None:
        parts = chunks(seeded_history(), 2)
        whole, steps = make(), make()
        self.learned(whole, parts)
        whole.refit()
        self.learned(steps, parts)
        data, events = steps.begin_refit()
        steps.swap(steps.fit(data), events)
        assert_same_state(cast(Model, steps).state(), cast(Model, whole).state(), exact=True)

    def test_fit_is_pure_and_its_data_a_copy(self, make: Callable[[], Refittable]) -> None:
        first, second = chunks(seeded_history(), 2)
        states = []
        for fits, learn_on_before_fitting in ((1, False), (1, True), (2, True)):
            model = make()
            self.learned(model, [first])
            data, events = model.begin_refit()
            if learn_on_before_fitting:  # must not reach the begun fit's data
                self.learned(model, [second])
            fitted = [model.fit(data) for _ in range(fits)][-1]  # twice: the same fit
            if not learn_on_before_fitting:
                self.learned(model, [second])
            model.swap(fitted, events)
            states.append(cast(Model, model).state())
        for state in states[1:]:
            assert_same_state(state, states[0], exact=True)

    def test_users_new_during_a_fit_are_served_after_the_swap(
        self, make: Callable[[], Refittable]
    ) -> None:
        history = seeded_history()
        model = make()
        self.learned(model, [history])
        data, events = model.begin_refit()
        late = N_USERS + 3  # a user whose first events come while the fit runs
        self.learned(model, [EventBatch(np.full(3, late, np.int64), np.array([0, 1, 2]),
                                        np.ones(3), np.full(3, T0 + 1e7))])
        model.swap(model.fit(data), events)
        query = Query(late, np.array([0, 1, 2], np.int64), np.array([0, 1, 2], np.int64),
                      T0 + 1e7)
        assert len(cast(Model, model).recommend(query, 5)) == 5

    def test_a_pending_fit_restored_from_arrays_swaps_in_as_the_live_one(
        self, make: Callable[[], Refittable]
    ) -> None:
        """A snapshot taken between ``begin_refit`` and ``swap`` holds the model's state and
        the fit's data as arrays (engine/refits.py): restored, the fit and its swap give the
        state the live model reaches, users learned meanwhile included."""
        first, second = chunks(seeded_history(), 2)
        live = make()
        self.learned(live, [first])
        data, events = live.begin_refit()
        self.learned(live, [second])  # while the fit is pending
        restored = make()
        cast(Model, restored).restore(snapshot_round_trip(cast(Model, live).state()))
        restored_data = restored.data_from(snapshot_round_trip(
            {key: np.asarray(value) for key, value in live.data_arrays(data).items()}))
        live.swap(live.fit(data), events)
        restored.swap(restored.fit(restored_data), events)
        assert_same_state(cast(Model, restored).state(), cast(Model, live).state(), exact=True)

    def test_an_aborted_fit_leaves_the_serving_one(self, make: Callable[[], Refittable]) -> None:
        first, second = chunks(seeded_history(), 2)
        model = make()
        self.learned(model, [first])
        model.refit()
        before = cast(Model, model).state()
        model.begin_refit()
        model.abort_refit()
        assert_same_state(cast(Model, model).state(), before, exact=True)
        assert not make().refit_due()  # nothing learned: nothing to fit


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
