"""Fold-in is the exact least-squares solve for one user with the item factors fixed.

The reference is written out here with numpy (Hu, Koren and Volinsky's normal equations:
``(YᵀY + Yᵀ(Cu - I)Y + λI) x = Yᵀ Cu p``), independently of implicit's solver, so a fold-in
that took a shortcut (conjugate-gradient steps, stale factors, a dropped item) would fail.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrec.engine.replay import assert_same_state
from streamrec.models.als import ALSConfig, ALSModel, _norms_of, confidence
from streamrec.models.base import FitStopped
from streamrec.storage.snapshots import _immutable
from streamrec.types import EventBatch, Query

EMPTY = np.zeros(0, dtype=np.int64)


def normal_equations_solve(item_factors: np.ndarray, items: np.ndarray, weights: np.ndarray,
                           config: ALSConfig) -> np.ndarray:
    y = item_factors.astype(np.float64)
    c = confidence(weights, config.alpha)
    a = y.T @ y + config.regularization * np.eye(y.shape[1])
    b = np.zeros(y.shape[1])
    for item, conf in zip(items.tolist(), c.tolist(), strict=True):
        liked = conf > 0  # a disliked pair: preference 0 with confidence |c|
        a += (abs(conf) - 1.0) * np.outer(y[item], y[item])
        if liked:
            b += conf * y[item]
    return np.linalg.solve(a, b)


def fitted_model(config: ALSConfig) -> ALSModel:
    rng = np.random.default_rng(3)
    users = rng.integers(0, 40, 600)
    items = rng.integers(0, 30, 600)
    model = ALSModel(config)
    model.learn(EventBatch(users, items, rng.choice([1.0, 2.0, 8.0], 600), np.zeros(600)))
    model.refit()
    return model


@pytest.mark.parametrize("weights", [[1.0, 4.0, 8.0], [2.0, 1.0, -4.0]],
                         ids=["liked", "with a return"])
def test_a_new_users_fold_in_is_the_closed_form_solve(weights: list[float]) -> None:
    config = ALSConfig(factors=8, iterations=10, regularization=0.1)
    model = fitted_model(config)
    user, items = 99, np.array([3, 7, 11])
    batch = EventBatch(np.full(3, user), items, np.array(weights), np.zeros(3))
    model.learn(batch)
    item_factors = model.state()["item_factors"]
    expected = normal_equations_solve(item_factors, items, np.array(weights), config)
    got = model.query_vector(Query(user, items, items, 0.0))
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-5)


def test_repeated_events_sum_before_the_solve_and_the_item_factors_stay_fixed() -> None:
    config = ALSConfig(factors=8, iterations=10)
    model = fitted_model(config)
    before = model.state()["item_factors"].copy()
    model.learn(EventBatch(np.array([5, 5]), np.array([2, 2]), np.array([1.0, 2.0]),
                           np.zeros(2)))
    state = model.state()
    np.testing.assert_array_equal(state["item_factors"], before)
    # user 5 had events before: its row is everything it did, the new events summed in
    rows = model.matrix().tocsr()[5]
    expected = normal_equations_solve(before, rows.indices, rows.data, config)
    got = model.query_vector(Query(5, rows.indices, rows.indices, 0.0))
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-5)


def test_with_bpr_a_new_users_first_event_folds_them_in_at_once() -> None:
    """``algorithm="bpr"``: refits learn BPR's item factors (with its bias column); a new
    user's vector is the confidence-weighted mean of their items' vectors (bias 1) from the
    first event, and their recommendations come from the group they just touched."""
    config = ALSConfig(factors=8, algorithm="bpr", bpr_iterations=200, seed=1)
    users, items = [], []
    for user in range(40):
        group = user % 2
        for item in range(5):
            if item != user % 5:
                users.append(user)
                items.append(group * 5 + item)
    model = ALSModel(config)
    model.learn(EventBatch(np.array(users), np.array(items), np.ones(len(users)),
                           np.zeros(len(users))))
    model.refit()
    factors = model.item_vectors()
    assert factors.shape == (10, config.factors + 1)

    newcomer = 40
    model.learn(EventBatch(np.array([newcomer, newcomer]), np.array([7, 8]),
                           np.array([4.0, 1.0]), np.zeros(2)))
    c7, c8 = confidence(np.array([4.0, 1.0]), config.alpha)
    expected = np.r_[(c7 * factors[7, :-1] + c8 * factors[8, :-1]) / (c7 + c8), 1.0]
    query = Query(newcomer, np.array([7, 8]), np.array([7, 8]), 0.0)
    np.testing.assert_allclose(model.query_vector(query), expected, rtol=1e-5)
    assert set(model.recommend(query, 3).items.tolist()) <= {5, 6, 9}

    restored = ALSModel(config)
    restored.restore(model.state())
    np.testing.assert_array_equal(restored.score(query, np.arange(10)),
                                  model.score(query, np.arange(10)))


def test_item_norms_are_each_rows_float64_norm_whatever_the_number_of_items() -> None:
    """The norms cosine scores divide by (computed at a fit's swap and at a restart, a few
    thousand rows at a time) are each row's float64 norm, 1 for a zero row, bit for bit."""
    factors = np.random.default_rng(5).standard_normal((3 * 4096 + 17, 8)).astype(np.float32)
    factors[[0, 4096, 9000]] = 0.0
    whole = np.linalg.norm(factors.astype(np.float64), axis=1)
    expected = np.where(whole > 0, whole, 1.0)
    found, order, reads = _norms_of(factors, np.zeros((0, factors.shape[1]), np.float32))
    assert found.dtype == np.float64 and np.array_equal(found, expected)
    # the rows above 0 by falling norm, ties to the lower row, and a copy of them
    assert order.matrix is factors
    by_norm = np.lexsort((np.arange(whole.size), -whole))
    np.testing.assert_array_equal(order.rows, by_norm[:-3])
    np.testing.assert_array_equal(order.norms, whole[order.rows])
    np.testing.assert_array_equal(order.sorted_rows, factors[order.rows])
    assert reads == order.rows.size  # no user to measure on: as if it read every row


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 45), st.integers(0, 29),
                          st.sampled_from([1.0, 2.0, -4.0]), st.booleans()),
                min_size=1, max_size=40),
       st.sampled_from(["als", "bpr"]))
def test_reading_a_vector_never_changes_the_state_or_the_vector(
        stream: list[tuple[int, int, float, bool]], algorithm: str) -> None:
    """Fold-ins are lazy (solved when a vector is read): a model whose users are asked for
    between their events and one never asked hold the same state, bit for bit, and serve
    the same vectors; a restored model serves them too, and a swap's users learned during
    the fit are solved against the new fit."""
    config = ALSConfig(factors=8, iterations=5, algorithm=algorithm, bpr_iterations=20,
                       regularization=0.1)
    asked, quiet = fitted_model(config), fitted_model(config)
    pending = asked.begin_refit(), quiet.begin_refit()  # a fit runs while events come
    for step, (user, item, weight, read) in enumerate(stream):
        batch = EventBatch(np.array([user]), np.array([item]), np.array([weight]),
                           np.zeros(1))
        asked.learn(batch)
        quiet.learn(batch)
        if read:
            asked.query_vector(Query(user, EMPTY, EMPTY, 0.0))
        if step == len(stream) // 2:
            for model, (data, events) in zip((asked, quiet), pending, strict=True):
                model.swap(model.fit(data), events)
    assert_same_state(asked.state(), quiet.state(), exact=True)
    restored = ALSModel(config)
    restored.restore(quiet.state())
    for user in sorted({user for user, *_ in stream}):
        query = Query(user, EMPTY, EMPTY, 0.0)
        vectors = [m.query_vector(query) for m in (asked, quiet, restored)]
        if vectors[0] is None:
            assert vectors[1] is None and vectors[2] is None
            continue
        np.testing.assert_array_equal(vectors[0], vectors[1])
        np.testing.assert_array_equal(vectors[0], vectors[2])
        if algorithm == "als":  # every user of the stream learned after the fit's data
            row = quiet.matrix().tocsr()[user]
            expected = normal_equations_solve(quiet.item_vectors(), row.indices, row.data,
                                              config)
            np.testing.assert_allclose(vectors[0], expected, rtol=1e-3, atol=1e-4)
    assert_same_state(asked.state(), quiet.state(), exact=True)


def test_a_merged_away_users_vector_is_zero_and_the_targets_is_their_sum() -> None:
    config = ALSConfig(factors=8, iterations=10)
    model = fitted_model(config)
    model.learn(EventBatch(np.array([50, 50]), np.array([3, 4]), np.array([1.0, 2.0]),
                           np.zeros(2)))
    model.learn(EventBatch(np.array([51]), np.array([9]), np.array([1.0]), np.zeros(1)))
    model.merge_users(50, 51)
    assert model.query_vector(Query(50, EMPTY, EMPTY, 0.0)) is None
    expected = normal_equations_solve(model.item_vectors(), np.array([3, 4, 9]),
                                      np.array([1.0, 2.0, 1.0]), config)
    np.testing.assert_allclose(model.query_vector(Query(51, EMPTY, EMPTY, 0.0)), expected,
                               rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("algorithm", ["als", "bpr"])
def test_a_stopped_model_gives_up_a_fit_after_its_current_iteration(
    algorithm: str, fit_in_thread: Callable[..., tuple[threading.Thread, list[BaseException]]],
) -> None:
    """A shutdown stops a fit under way (engine/trainer.py): a thread left inside implicit's
    solver crashed the process at its exit."""
    model = ALSModel(ALSConfig(algorithm=algorithm, iterations=100_000, bpr_iterations=100_000))
    rng = np.random.default_rng(5)
    model.learn(EventBatch(rng.integers(0, 50, 2_000), rng.integers(0, 40, 2_000),
                           np.ones(2_000), np.arange(2_000.0)))
    data, _ = model.begin_refit()
    thread, raised = fit_in_thread(lambda: model.fit(data))
    time.sleep(0.3)
    model.stop_fitting()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert len(raised) == 1 and isinstance(raised[0], FitStopped)
    with pytest.raises(FitStopped, match="before it began"):  # and every later one
        model.fit(data)


def test_a_fold_in_finds_the_item_factors_squared_by_the_fit_or_the_restore() -> None:
    """The Gram matrix every fold-in solves against is computed where a fit, a fitted
    artefact or a restore is made (off the read path), not by the first read after it:
    implicit caches it on the solver (``_YtY``) once computed. BPR's solver never folds
    in by a solve: nothing computed for it."""
    config = ALSConfig(factors=8, iterations=5)
    fitted = fitted_model(config)
    restored = ALSModel(config)
    restored.restore(fitted.state())
    swapped = ALSModel(config)
    swapped.learn(EventBatch(np.array([1, 2]), np.array([3, 4]), np.ones(2), np.zeros(2)))
    matrix, events = swapped.begin_refit()
    swapped.swap(swapped.fitted_from(fitted.fit_arrays(fitted.fit(matrix))), events)
    for model in (fitted, restored, swapped):
        assert model._solver is not None
        squared = model._solver._YtY  # implicit's cache: None until computed
        assert squared is not None
        factors = model.state()["item_factors"].astype(np.float64)
        np.testing.assert_allclose(squared, factors.T @ factors, rtol=1e-4, atol=1e-4)

    bpr = ALSModel(ALSConfig(factors=8, algorithm="bpr", bpr_iterations=5))
    bpr.learn(EventBatch(np.arange(20) % 5, np.arange(20) % 7, np.ones(20), np.zeros(20)))
    bpr.refit()
    assert bpr._solver is not None and bpr._solver._YtY is None


def test_a_state_holds_the_fits_user_vectors_as_given_and_an_older_one_restores_too() -> None:
    """Between fits a state holds the fit's user vectors as the fit gave them, the same
    array each time (declared unchanging: a snapshot hashes and writes it once a fit), not
    the vectors readers solved since; which users changed says whose to solve again. A
    state from before (every vector copied, the changed users' 0) serves the same."""
    config = ALSConfig(factors=8, iterations=5)
    model = fitted_model(config)
    first = model.state()
    model.learn(EventBatch(np.array([3, 60]), np.array([4, 5]), np.ones(2), np.zeros(2)))
    asked = [Query(user, EMPTY, EMPTY, 0.0) for user in (3, 60, 10)]
    served = [model.query_vector(query) for query in asked]  # 3 and 60 solved again
    later = model.state()
    assert later["fit_user_factors"] is first["fit_user_factors"]
    assert _immutable(later["fit_user_factors"])
    assert later["changed_users"].tolist() == [3, 60]
    older = {key: value for key, value in later.items()
             if key not in ("fit_user_factors", "user_rows")}
    vectors = np.zeros((int(later["user_rows"][0]), 8), dtype=np.float32)
    vectors[: later["fit_user_factors"].shape[0]] = later["fit_user_factors"]
    vectors[later["changed_users"]] = 0.0
    older["user_factors"] = vectors
    for state in (later, older):
        restored = ALSModel(config)
        restored.restore(state)
        for query, vector in zip(asked, served, strict=True):
            np.testing.assert_array_equal(restored.query_vector(query), vector)
        if state is later:
            assert_same_state(restored.state(), later, exact=True)
