"""ranking/ann.py: approximate candidates for vector sources agree with the exact top-k (to a
recall tolerance), never return excluded or non-positive items, and are only used once an
index for exactly the current vectors is ready; the hybrid ranker's serving path uses them,
its lessons never do."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
import pytest

from streamrec.engine.engine import Engine
from streamrec.models.als import ALSConfig, ALSModel
from streamrec.ranking.ann import ANNConfig, VectorIndex, VectorIndexes, _faiss
from streamrec.ranking.features import gather, layout
from streamrec.ranking.hybrid import HybridConfig, HybridRanker
from streamrec.settings import Settings
from streamrec.types import Event, EventBatch, Query

NOTHING = np.zeros(0, dtype=np.int64)


def clustered_vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """Items around a few centres, norms varying like ALS factors' (popular items longer)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, dim))
    vectors = centres[rng.integers(0, 20, n)] + 0.5 * rng.standard_normal((n, dim))
    vectors *= rng.lognormal(0.0, 0.5, (n, 1))
    return vectors.astype(np.float32)


def exact_top(vectors: np.ndarray, query: np.ndarray, k: int,
              exclude: np.ndarray = NOTHING) -> np.ndarray:
    scores = (vectors @ query).astype(np.float64)
    scores[exclude] = -np.inf
    order = np.argsort(-scores, kind="stable")[:k]
    return order[scores[order] > 0]


def test_ivf_candidates_find_most_of_the_exact_top_k() -> None:
    vectors = clustered_vectors(5_000, 16)
    index = VectorIndex(vectors, ANNConfig(min_items=1, probes=16))
    rng = np.random.default_rng(1)
    recalls = []
    for query in vectors[rng.integers(0, 5_000, 50)] + 0.1:
        truth = exact_top(vectors, query, 50)
        found = index.search(query, 50, NOTHING)
        recalls.append(len(set(found.tolist()) & set(truth.tolist())) / truth.size)
    assert np.mean(recalls) >= 0.9


@pytest.mark.parametrize("factory", ["IVF{lists},SQ8", "HNSW16"])
def test_other_index_kinds_by_factory_string(factory: str) -> None:
    vectors = clustered_vectors(3_000, 16, seed=2)
    index = VectorIndex(vectors, ANNConfig(min_items=1, factory=factory, probes=32))
    query = vectors[7]
    truth = exact_top(vectors, query, 20)
    found = index.search(query, 20, NOTHING)
    assert len(set(found.tolist()) & set(truth.tolist())) >= 16


def test_an_odd_width_is_padded_for_8_bit_codes() -> None:
    # 13 dimensions (like the sequence model's 64 and its shift column, not a multiple of 8)
    vectors = clustered_vectors(3_000, 13, seed=4)
    index = VectorIndex(vectors, ANNConfig(min_items=1, factory="IVF{lists},SQ8", probes=32))
    query = vectors[11]
    truth = exact_top(vectors, query, 20)
    found = index.search(query, 20, NOTHING)
    assert len(set(found.tolist()) & set(truth.tolist())) >= 16


def test_probes_grow_with_the_cells() -> None:
    vectors = clustered_vectors(4_000, 8, seed=5)
    few = VectorIndex(vectors, ANNConfig(min_items=1, lists=40, probes=4), probe_share=0.25)
    many = VectorIndex(vectors, ANNConfig(min_items=1, lists=200, probes=4), probe_share=0.25)
    assert (few.probes, many.probes) == (10, 50)
    floor = VectorIndex(vectors, ANNConfig(min_items=1, lists=40, probes=16), probe_share=0.25)
    assert floor.probes == 16
    assert VectorIndex(vectors, ANNConfig(min_items=1, lists=200, probes=4)).probes == 4
    # the engine's indexes: the sequence model's by its share, the others by probes alone
    indexes = VectorIndexes(ANNConfig(min_items=1, lists=120, probes=4,
                                      probe_shares={"sequence": 0.25}), background=False)
    built = {name: indexes.ready(name, vectors) for name in ("sequence", "als")}
    assert {name: index.probes for name, index in built.items() if index} == {
        "sequence": 30, "als": 4}


def test_excluded_and_non_positive_items_are_never_candidates() -> None:
    vectors = clustered_vectors(2_000, 8, seed=3)
    index = VectorIndex(vectors, ANNConfig(min_items=1, probes=64))
    query = vectors[0]
    exclude = exact_top(vectors, query, 30)  # the whole exact top 30
    found = index.search(query, 100, np.sort(exclude))
    assert not set(found.tolist()) & set(exclude.tolist())
    assert (vectors[found] @ query > 0).all()
    # an opposite query: few items score above 0, and only those come back
    found = index.search(-10 * np.abs(query), 100, NOTHING)
    assert (vectors[found] @ (-10 * np.abs(query)) > 0).all()


def test_no_index_below_min_items() -> None:
    indexes = VectorIndexes(ANNConfig(min_items=1_000), background=False)
    assert indexes.ready("als", clustered_vectors(999, 8)) is None
    assert indexes.builds == 0


def test_an_index_serves_only_the_vectors_it_was_built_from() -> None:
    indexes = VectorIndexes(ANNConfig(min_items=10), background=False)
    first = clustered_vectors(500, 8, seed=4)
    index = indexes.ready("als", first)
    assert index is not None and indexes.ready("als", first) is index
    assert indexes.builds == 1
    refit = first.copy()  # equal values, another array: what a refit swaps in
    again = indexes.ready("als", refit)
    assert again is not None and again is not index and indexes.builds == 2


def test_an_index_prepared_for_the_next_fit_leaves_the_serving_one_alone() -> None:
    indexes = VectorIndexes(ANNConfig(min_items=10), background=False)
    serving = clustered_vectors(500, 8, seed=4)
    index = indexes.ready("als", serving)
    refit = clustered_vectors(500, 8, seed=5)
    indexes.prepare("als", refit)  # a trainer, right after the fit, before the swap
    assert indexes.builds == 2
    assert indexes.ready("als", serving) is index  # still serving until the swap
    prepared = indexes.ready("als", refit)  # swapped in: ready at once, no build
    assert prepared is not None and prepared is not index and indexes.builds == 2
    indexes.prepare("als", refit)  # already there
    assert indexes.builds == 2


def test_background_build_answers_none_until_ready() -> None:
    indexes = VectorIndexes(ANNConfig(min_items=10))
    vectors = clustered_vectors(2_000, 8, seed=5)
    first = indexes.ready("als", vectors)  # starts the build; may even have finished
    assert indexes.wait(60)
    index = indexes.ready("als", vectors)
    assert index is not None and (first is None or first is index)
    assert all(t.name != "ann-als" for t in threading.enumerate())


def test_a_failed_build_leaves_the_exact_path(monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture) -> None:
    def fail(*_: object) -> None:
        raise RuntimeError("no faiss here")

    monkeypatch.setattr("streamrec.ranking.ann.VectorIndex.__init__", fail)
    indexes = VectorIndexes(ANNConfig(min_items=10), background=False)
    vectors = clustered_vectors(100, 4)
    with caplog.at_level(logging.ERROR):
        assert indexes.ready("als", vectors) is None
        assert indexes.ready("als", vectors) is None  # not tried again for the same vectors
    assert indexes.builds == 1 and "index failed" in caplog.text


def small_als_world(n_users: int = 300, n_items: int = 400) -> ALSModel:
    rng = np.random.default_rng(6)
    users = np.repeat(np.arange(n_users), 20)
    taste = rng.integers(0, 8, n_users)
    items = (taste[users] * (n_items // 8) + rng.integers(0, n_items // 8, users.size))
    model = ALSModel(ALSConfig(factors=16, iterations=5))
    model.learn(EventBatch(users, items.astype(np.int64), np.ones(users.size),
                           np.zeros(users.size)))
    model.refit()
    return model


def test_gather_with_an_index_scores_candidates_exactly() -> None:
    als = small_als_world()
    scorers = {"als": als}
    # exact_rows 0: an index even where ALS's exact top reads few rows (as here)
    indexes = VectorIndexes(ANNConfig(min_items=1, lists=8, probes=8, exact_rows=0),
                            background=False)
    overlaps = []
    for user in range(0, 300, 7):
        query = Query(user, np.array([user % 400]), np.array([user % 400]), 0.0)
        exact = gather(query, scorers, 400, 20)
        approximate = gather(query, scorers, 400, 20, indexes=indexes)
        column = layout().names.index("als")
        np.testing.assert_allclose(approximate.raw[:, column],
                                   als.score(query, approximate.items), rtol=1e-5)
        assert user % 400 not in approximate.items.tolist()
        overlaps.append(np.isin(exact.items, approximate.items).mean())
    assert np.mean(overlaps) >= 0.9


def test_the_ranker_uses_the_index_only_when_asked() -> None:
    als = small_als_world()
    ranker = HybridRanker(HybridConfig(ann=ANNConfig(min_items=1, lists=8, exact_rows=0)))
    ranker.indexes.background = False
    query = Query(3, np.array([1]), np.array([1]), 0.0)
    ranker.candidates(query, {"als": als}, 400)  # a lesson: exact
    assert ranker.indexes.builds == 0
    ranker.candidates(query, {"als": als}, 400, approximate=True)  # serving
    assert ranker.indexes.builds == 1


def test_als_whose_exact_top_reads_few_rows_is_served_by_it_with_no_index() -> None:
    """ALS's exact top visits items by falling factor norm (``BoundedScores``); where that
    reads at most ``exact_rows`` (measured at the fit) serving takes it: the same candidates
    as a lesson's, and no index. Past it, an index."""
    als = small_als_world()
    reads = als.exact_reads()
    assert 0 < reads <= 400  # its first visit (1,024 rows) holds all 400 here
    for exact_rows, builds in ((reads, 0), (reads - 1, 1)):
        ranker = HybridRanker(HybridConfig(ann=ANNConfig(min_items=1, lists=8,
                                                         exact_rows=exact_rows)))
        ranker.indexes.background = False
        query = Query(3, np.array([1]), np.array([1]), 0.0)
        lesson = ranker.candidates(query, {"als": als}, 400)
        served = ranker.candidates(query, {"als": als}, 400, approximate=True)
        assert ranker.indexes.builds == builds
        if builds == 0:
            np.testing.assert_array_equal(served.items, lesson.items)


def test_the_ann_setting_is_not_part_of_the_model_fingerprint() -> None:
    # serving-only: changing it must not make snapshots unusable
    tuned = HybridConfig(ann=ANNConfig(min_items=5, probes=8))
    assert tuned.model_dump_json() == HybridConfig().model_dump_json()


def als_settings(tmp_path: Path, refit_growth: float, exact_rows: int = 0) -> Settings:
    return Settings(data_dir=tmp_path, models={
        "als": {"refit_min_events": 50, "refit_growth": refit_growth, "factors": 8,
                "iterations": 3},
        "hybrid": {"ann": {"min_items": 20, "exact_rows": exact_rows}},
        "trainer_poll_s": 0.01})


def als_after_a_refit(engine: Engine, seed: int) -> tuple[ALSModel, np.ndarray]:
    """Ingest 400 events, then wait until a refit of ALS is swapped in: the model and the
    vectors it serves then."""
    rng = np.random.default_rng(seed)
    engine.ingest([Event(event_id=f"e{n}", user_id=f"u{rng.integers(40)}",
                         item_id=f"i{rng.integers(60)}", type="view", timestamp=1e9 + n)
                   for n in range(400)])
    als = engine.state.models["als"]
    assert isinstance(als, ALSModel)
    for _ in range(500):
        with engine.state.lock:
            if als.is_fitted and not engine.state.pending_fits.has("als"):
                return als, als.item_vectors()
        threading.Event().wait(0.02)
    pytest.fail("no refit was swapped in")


def test_the_trainer_builds_the_index_of_a_refit_before_it_is_swapped_in(
        tmp_path: Path) -> None:
    """Refits never leave serving on the exact path: the vectors ALS serves right after a
    swap already have their index, with no query having asked for it."""
    engine = Engine.open(als_settings(tmp_path, refit_growth=0.2))
    try:
        _, vectors = als_after_a_refit(engine, seed=0)
        found, index = engine.state.ranker.indexes._find("als", vectors)
        assert found and index is not None
    finally:
        engine.close()


def test_an_als_refit_or_restart_read_by_its_exact_top_builds_no_index(
        tmp_path: Path) -> None:
    """With the default ``exact_rows``, a small ALS's refit and restart build no index
    (at 1M items one took 21 s at each): serving reads its exact top."""
    settings = als_settings(tmp_path, refit_growth=100.0, exact_rows=ANNConfig().exact_rows)
    engine = Engine.open(settings)
    try:
        als, _ = als_after_a_refit(engine, seed=2)
        assert 0 < als.exact_reads() <= settings.models.hybrid.ann.exact_rows
        assert engine.state.ranker.indexes.builds == 0
    finally:
        engine.close()
    reopened = Engine.open(settings)
    try:
        assert reopened.state.models["als"].is_fitted
        assert reopened.state.ranker.indexes.wait(60)
        assert reopened.state.ranker.indexes.builds == 0
    finally:
        reopened.close()


def test_a_restarted_server_builds_its_indexes_before_any_query(tmp_path: Path) -> None:
    """After a restart the restored vectors get their index at once, not at the first query
    (at 1M items, ~10 s of queries took the exact path)."""
    settings = als_settings(tmp_path, refit_growth=100.0)
    engine = Engine.open(settings)
    try:
        als_after_a_refit(engine, seed=1)
    finally:
        engine.close()
    reopened = Engine.open(settings)
    try:
        restored = reopened.state.models["als"]
        assert isinstance(restored, ALSModel) and restored.is_fitted
        indexes = reopened.state.ranker.indexes
        assert indexes.wait(60)
        found, index = indexes._find("als", restored.item_vectors())
        assert found and index is not None
    finally:
        reopened.close()


def test_how_refits_are_run_is_not_part_of_the_model_fingerprint() -> None:
    """Changing a refit's thread priority, poll or shutdown wait keeps the snapshots; a
    setting that shapes what a model learns does not."""
    before = Settings().model_fingerprint()
    run = Settings(models={"trainer_nice": 3, "trainer_poll_s": 0.5,  # type: ignore[arg-type]
                           "trainer_stop_wait_s": 5.0})
    assert run.model_fingerprint() == before
    assert run.models.trainer_nice == 3  # still read: only the fingerprint leaves it out
    shaped = Settings(models={"als": {"factors": 17}})  # type: ignore[arg-type]
    assert shaped.model_fingerprint() != before


def test_a_few_items_left_out_after_the_search_are_those_a_selector_leaves_out() -> None:
    """A search asked to leave out a few items (a user's history) asks for more and drops
    them after; many (past ``_FILTERED_AFTER`` per item asked for) go to faiss's selector.
    Either way the items are those of a search with the selector, in its order."""
    vectors = clustered_vectors(3_000, 8, seed=5)
    index = VectorIndex(vectors, ANNConfig(min_items=1, lists=30, probes=8))
    rng = np.random.default_rng(5)
    for row in range(0, 3_000, 300):
        query = vectors[row]
        top = exact_top(vectors, query, 60)
        for size in (1, 7, 40, 900):  # 900: past 10 per item asked for (k = 20)
            exclude = np.unique(np.concatenate((top[:size], rng.choice(3_000, size))))
            found = index.search(query, 20, exclude)
            with_selector = index._search(_faiss(), query, 20, exclude)
            np.testing.assert_array_equal(found, with_selector)
            assert found.size == 20 and not np.isin(found, exclude).any()
