"""models/scores.py and the sources that answer with it: every ``QueryScores`` gives what the
dense vector over the catalogue gives (the same candidates, the same scores), only cheaper;
and ``gather`` matches a plain reference that builds a dense array per source."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from streamrec.models.als import ALSConfig, ALSModel
from streamrec.models.base import best, row_norms
from streamrec.models.content import ContentModel
from streamrec.models.cooccurrence import CooccurrenceConfig, CooccurrenceModel
from streamrec.models.ease import EASEModel
from streamrec.models.popularity import PopularityConfig, PopularityModel
from streamrec.models.scores import (
    BoundedScores,
    DenseScores,
    NormOrder,
    SparseScores,
    bounded_reads,
    is_excluded,
)
from streamrec.models.sequence import SequenceModel
from streamrec.models.sequence_config import SequenceConfig
from streamrec.models.sparse_rows import SparseRows
from streamrec.models.text_vectors import TextVectors
from streamrec.ranking.features import featurise, gather, layout
from streamrec.types import EMPTY_INTS, EventBatch, Item, Query

NOTHING = np.zeros(0, dtype=np.int64)


def reference_top(scores: np.ndarray, k: int, exclude: np.ndarray) -> list[int]:
    """Best k items scored above 0 and not excluded, ties to the lower index: by sorting."""
    allowed = [i for i in range(scores.size) if scores[i] > 0 and i not in set(exclude.tolist())]
    return sorted(allowed, key=lambda i: (-scores[i], i))[:k]


@given(st.lists(st.sampled_from([0.0, -1.0, 0.5, 1.0, 2.0, 3.5]), min_size=0, max_size=40),
       st.integers(0, 12), st.sets(st.integers(0, 39), max_size=15))
def test_dense_and_sparse_top_match_sorting(values: list[float], k: int,
                                            excluded: set[int]) -> None:
    scores = np.array(values, dtype=np.float64)
    exclude = np.array(sorted(excluded), dtype=np.int64)
    expected = reference_top(scores, k, exclude)
    assert DenseScores(scores).top(k, exclude).tolist() == expected
    assert DenseScores(scores.astype(np.float32)).top(k, exclude).tolist() == expected
    nonzero = np.flatnonzero(scores != 0)
    sparse = SparseScores(nonzero, scores[nonzero])
    assert sparse.top(k, exclude).tolist() == expected
    everything = np.arange(scores.size + 3)
    np.testing.assert_array_equal(sparse.at(everything), DenseScores(scores).at(everything))


@given(st.integers(0, 2**32 - 1), st.integers(0, 5_000), st.integers(1, 6),
       st.integers(0, 40), st.integers(0, 60), st.integers(-5, 5), st.integers(1, 64))
def test_a_bounded_pass_finds_the_dense_products_best(
        seed: int, n_rows: int, width: int, k: int, n_excluded: int, items_off: int,
        first_visit: int) -> None:
    """Small integers, so that every float32 product is exact and ties are frequent (the
    tie-break by the lower item is checked too); rows scaled by a skewed factor, many of
    them zero, as a factor model's unseen items are; ``n_items`` below or past the rows."""
    rng = np.random.default_rng(seed)
    scale = np.minimum(rng.zipf(1.5, n_rows), 40) * (rng.random(n_rows) < 0.6)
    matrix = (rng.integers(-3, 4, (n_rows, width)) * scale[:, None]).astype(np.float32)
    vector = rng.integers(-3, 4, width).astype(np.float32)
    n_items = max(0, n_rows + items_off)
    exclude = np.unique(rng.integers(0, max(1, n_rows), n_excluded)).astype(np.int64)
    bounded = BoundedScores(NormOrder.of(matrix, row_norms(matrix)), vector, n_items,
                            first_visit)
    asked = rng.integers(-2, n_rows + 3, 50)
    # OpenBLAS's float32 kernels may leave the FPU's invalid flag set on an odd width
    # (numpy#24067, OpenBLAS#1924), which numpy reports after the product as a warning
    # (an error here): once in CI's 1,431 tests. Small integers cannot make an invalid
    # value, and every result is compared below.
    with np.errstate(invalid="ignore"):
        dense = DenseScores(matrix[:n_items] @ vector)
        assert bounded.top(k, exclude).tolist() == dense.top(k, exclude).tolist()
        np.testing.assert_array_equal(bounded.at(asked), dense.at(asked))


def test_helpers() -> None:
    assert is_excluded(np.array([1, 5, 9]), np.array([0, 5, 10])).tolist() == [False, True, False]
    assert is_excluded(np.array([1]), NOTHING).tolist() == [False]
    assert best(np.array([9, 3, 5]), np.array([1.0, 2.0, 2.0]), 5).tolist() == [3, 5, 9]


def popular_world(n_items: int = 3_000) -> PopularityModel:
    rng = np.random.default_rng(0)
    model = PopularityModel(PopularityConfig(half_life_s=86_400.0))
    items = rng.zipf(1.3, 20_000) % n_items
    model.learn(EventBatch(np.zeros(items.size, np.int64), items.astype(np.int64),
                           rng.integers(1, 3, items.size).astype(np.float64),
                           np.sort(rng.uniform(0, 10 * 86_400.0, items.size))))
    return model


def test_popularity_candidates_from_the_cached_ranking_match_the_dense_pass() -> None:
    model = popular_world()
    n = 3_100  # the catalogue knows items nobody engaged with yet
    nobody = Query(None, NOTHING, NOTHING, 0.0)
    dense = DenseScores(model.dense_scores(nobody, n))
    scores = model.query_scores(nobody, n)
    rng = np.random.default_rng(1)
    ranking = model.ranking()
    assert ranking.size == 1_024  # more items are popular than it holds: the fallback is tested
    for excluded in (NOTHING, np.sort(ranking[:50]), np.sort(ranking[:1_000]),
                     np.unique(rng.integers(0, n, 2_000))):
        assert scores.top(100, excluded).tolist() == dense.top(100, excluded).tolist()
    probe = np.arange(n)
    np.testing.assert_array_equal(scores.at(probe), dense.at(probe))


def test_popularity_ranking_follows_new_events() -> None:
    model = popular_world()
    before = model.ranking()[:5].tolist()
    model.learn(EventBatch(np.zeros(1, np.int64), np.array([2_999]), np.array([1e6]),
                           np.array([10 * 86_400.0])))
    assert model.ranking()[0] == 2_999 and model.ranking()[1:6].tolist() == before
    nobody = Query(None, NOTHING, np.array([2_999]), 0.0)
    assert 2_999 not in model.recommend(nobody, 10).items.tolist()


def cooccurrence_world(n_items: int = 2_000) -> CooccurrenceModel:
    rng = np.random.default_rng(2)
    model = CooccurrenceModel(CooccurrenceConfig(half_life_s=None))
    users = np.repeat(np.arange(400), 25)
    items = (users % 10) * 150 + rng.integers(0, 300, users.size)
    model.learn(EventBatch(users, items.astype(np.int64), np.ones(users.size),
                           np.arange(users.size, dtype=np.float64)))
    return model


def test_cooccurrence_query_scores_are_its_dense_scores() -> None:
    model = cooccurrence_world()
    for length in (1, 5, 60):  # short histories sort, long ones count per item
        history = np.arange(0, 3 * length, 3, dtype=np.int64)
        query = Query(0, history, history, 0.0)
        dense = model.dense_scores(query, 2_100)
        scores = model.query_scores(query, 2_100)
        probe = np.arange(2_100)
        np.testing.assert_array_equal(scores.at(probe), dense)
        assert scores.top(50, history).tolist() == DenseScores(dense).top(50, history).tolist()
        chosen = scores.top(10, history)
        assert scores.because(chosen).tolist() == model.because(query, chosen).tolist()


def test_text_vectors_by_column_match_the_row_by_row_product() -> None:
    vectors = TextVectors(2**12)
    words = [f"word{w}" for w in range(60)]
    rng = np.random.default_rng(3)
    vectors.upsert([(i, Item(f"i{i}", {"category": "all", "tags": [str(i % 7)]},
                             " ".join(rng.choice(words, 4))))
                    for i in range(600)])
    by_column = vectors._base_by_column
    assert by_column is not None  # a reweight took place
    for item in (0, 17, 99):
        row = vectors.rows(np.array([item]))
        profile = np.zeros(vectors.n_features, dtype=np.float32)
        profile[row.indices] = row.data
        postings = int(np.diff(by_column.indptr)[row.indices].sum())
        assert 2 * postings < vectors._base.nnz  # the column path is taken
        np.testing.assert_array_equal(vectors.dot(row.indices, row.data),
                                      vectors._base @ profile)
        # a zero among the values: the same
        columns = np.union1d(row.indices, [0, 1]).astype(np.int32)
        np.testing.assert_array_equal(vectors.dot(columns, profile[columns]),
                                      vectors._base @ profile)
        # row by row through the compiled products: the same sums
        np.testing.assert_array_equal(
            vectors.products(np.arange(vectors.n_rows), row.indices, row.data),
            vectors._base @ profile)
    everything = np.arange(vectors.n_features, dtype=np.int32)  # the row-by-row path
    ones = np.ones(vectors.n_features, dtype=np.float32)
    np.testing.assert_array_equal(vectors.dot(everything, ones), vectors._base @ ones)


def test_gather_matches_a_dense_reference() -> None:
    """The union of each source's best items over dense arrays, as ``gather`` once was."""
    n = 600
    rng = np.random.default_rng(4)
    users = np.repeat(np.arange(120), 15)
    items = ((users % 6) * 100 + rng.integers(0, 100, users.size)).astype(np.int64)
    batch = EventBatch(users, items, np.ones(users.size), np.arange(users.size, dtype=float))
    content = ContentModel()
    content.learn_items([(i, Item(f"i{i}", {"category": str(i // 100)}, f"thing {i % 13}"))
                         for i in range(n)])
    models = {"cooccurrence": CooccurrenceModel(), "als": ALSModel(ALSConfig(factors=8)),
              "content": content, "popularity": PopularityModel(),
              "sequence": SequenceModel(SequenceConfig(dimensions=8, max_epochs=2)),
              "ease": EASEModel()}
    for model in models.values():
        model.learn(batch)
    models["als"].refit()  # type: ignore[attr-defined]
    models["sequence"].refit()  # type: ignore[attr-defined]
    models["ease"].refit()  # type: ignore[attr-defined]
    for user in (0, 7, 50):
        for length in (2, 15):  # content brings candidates below 5 events, re-scores above
            history = items[users == user][:length]
            query = Query(user, history, np.unique(np.r_[history, [1, 2, 3]]), 0.0)
            found = gather(query, models, n, 40)
            dense = np.zeros((len(layout().names), n))
            chosen = []
            for row, name in enumerate(layout().names):
                dense[row] = models[name].dense_scores(query, n)  # type: ignore[attr-defined]
                if name == "content" and length >= 5:
                    continue
                chosen += reference_top(dense[row], 40, query.exclude)
            expected = np.unique(chosen)
            raw = dense[:, expected].T
            if length >= 5:
                raw[:, 2] = np.maximum(content.score(query, expected), 0.0)
            np.testing.assert_array_equal(found.items, expected)
            # ALS scores its candidates over their rows alone (``BoundedScores``): float32
            # products over fewer rows may round apart in the last place
            np.testing.assert_allclose(found.raw, raw, rtol=1e-6, atol=0)
            np.testing.assert_allclose(found.features, featurise(raw, length), rtol=1e-6,
                                       atol=0)


def test_rows_gathered_together_equal_rows_read_one_by_one() -> None:
    """A query reads ~50 co-occurrence rows at once, gathered in one pass with their pending
    additions merged in: exactly the sums ``row`` gives one row at a time."""
    rng = np.random.default_rng(5)
    for _ in range(50):
        one_by_one, together = SparseRows(), SparseRows()
        n = int(rng.integers(2, 30))
        for _ in range(int(rng.integers(1, 6))):
            size = int(rng.integers(1, 400))
            batch = (rng.integers(0, n, size), rng.integers(0, 60, size), rng.random(size))
            one_by_one.add(*batch)
            together.add(*batch)
            asked = rng.choice(n + 2, int(rng.integers(1, n + 2)), replace=False).tolist()
            for (cols, vals), (cols2, vals2) in zip([one_by_one.row(r) for r in asked],
                                                    together.rows(asked), strict=True):
                np.testing.assert_array_equal(cols, cols2)
                np.testing.assert_array_equal(vals, vals2)


def test_content_query_scores_are_its_dense_scores() -> None:
    """Only the items sharing a term with the profile, with the very products of the pass
    over the catalogue: before and after items change (the tail that replaces base rows),
    and for a profile whose terms are too common for the postings (the full product)."""
    content = ContentModel()
    rng = np.random.default_rng(5)
    words = [f"w{w}" for w in range(80)]

    def items(start: int, stop: int) -> list[tuple[int, Item]]:
        return [(i, Item(f"i{i}", {"category": str(i % 9)}, " ".join(rng.choice(words, 5))))
                for i in range(start, stop)]

    content.learn_items(items(0, 900))
    checked = 0
    for round_ in range(3):
        if round_:
            content.learn_items(items(100 * round_, 100 * round_ + 40))  # changed: the tail
        assert isinstance(content.query_scores(Query(0, NOTHING, NOTHING, 0.0), 950),
                          SparseScores)
        for length in (1, 2, 4, 40):
            history = rng.choice(900, length, replace=False).astype(np.int64)
            query = Query(0, history, history, 0.0)
            dense = content.dense_scores(query, 950)
            scores = content.query_scores(query, 950)
            checked += isinstance(scores, SparseScores)
            probe = np.arange(950)
            np.testing.assert_array_equal(scores.at(probe), dense)
            assert scores.top(30, history).tolist() == DenseScores(dense).top(30,
                                                                               history).tolist()
    assert checked >= 6  # the sparse answer was the one checked, not only the fallback


def test_bounded_reads_is_the_median_rows_a_top_reads_over_the_users_sampled() -> None:
    """``bounded_reads`` (what decides between ALS's exact pass and an ANN index): few rows
    where a few items hold most of the norm, every row where the norms are flat."""
    rng = np.random.default_rng(3)
    items = rng.normal(size=(5_000, 8)).astype(np.float32)
    items /= np.linalg.norm(items, axis=1, keepdims=True)  # flat: every norm 1
    users = rng.normal(size=(50, 8)).astype(np.float32)
    users[::7] = 0.0  # users without a vector are not asked
    flat = NormOrder.of(items, row_norms(items))
    assert bounded_reads(flat, users) == 5_000
    skewed = items.copy()
    skewed[200:] *= 0.001  # 200 items with nearly all the norm
    order = NormOrder.of(skewed, row_norms(skewed))
    above = np.flatnonzero(np.linalg.norm(users, axis=1) > 0)  # 42 users, 32 asked
    asked = np.unique(np.linspace(0, above.size - 1, 32).astype(np.int64))
    each = [BoundedScores(order, users[above[row]], 5_000).top_and_reads(100, EMPTY_INTS)[1]
            for row in asked]
    assert bounded_reads(order, users) == int(np.median(each)) < 5_000
    assert bounded_reads(order, users[:0]) == 5_000  # nobody to ask: as if every row
