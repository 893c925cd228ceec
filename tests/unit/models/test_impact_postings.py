"""models/impact_postings.py: content's serving candidates from cut postings in a large
catalogue. The cut keeps each column's largest entries; the scores served are the exact
cosines; with nothing cut, the candidates are the exact answer's; and the serving path takes
it only at or above the ANN settings' ``min_items``, the ranker's lessons never."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrec.engine.engine import Engine
from streamrec.models.content import ContentModel, ProfileScores
from streamrec.models.impact_postings import cut_columns
from streamrec.models.scores import DenseScores, SparseScores
from streamrec.ranking.ann import ANNConfig, VectorIndexes
from streamrec.ranking.features import _scores_of
from streamrec.settings import Settings
from streamrec.types import Item, Query

NOTHING = np.zeros(0, dtype=np.int64)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 30), st.integers(1, 12), st.integers(1, 8), st.floats(0.05, 1.0),
       st.integers(0, 2**16))
def test_the_cut_keeps_each_columns_largest_entries(rows: int, columns: int, per_column: int,
                                                    density: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    dense = np.where(rng.random((rows, columns)) < density,
                     rng.integers(1, 6, (rows, columns)) / 4.0, 0.0).astype(np.float32)
    cut = cut_columns(sp.csc_array(dense), per_column)
    assert cut.has_sorted_indices and cut.shape == dense.shape
    kept = cut.toarray()
    for column in range(columns):
        values = dense[:, column]
        expected = np.sort(values[values > 0])[::-1][:per_column]
        got = kept[:, column]
        # the largest values, each at a row that holds it in the full matrix
        assert np.sort(got[got > 0])[::-1].tolist() == expected.tolist()
        assert np.all((got == 0) | (got == values))


def catalogue(n: int, seed: int = 3) -> tuple[ContentModel, np.random.Generator]:
    rng = np.random.default_rng(seed)
    words = [f"w{w}" for w in range(60)]
    content = ContentModel()
    content.learn_items([(i, Item(f"i{i}", {"category": str(i % 7)},
                                  " ".join(rng.choice(words, rng.integers(2, 9)))))
                         for i in range(n)])
    return content, rng


def exact(content: ContentModel, query: Query, n: int) -> DenseScores:
    return DenseScores(content.dense_scores(query, n))


def test_scores_are_exact_and_uncut_candidates_are_the_exact_top() -> None:
    """With every posting kept, the candidates are the exact top (a cut only changes which
    items are asked about, never a score); before the cut is ready, the exact answer."""
    content, rng = catalogue(600)
    history = np.array([3, 10, 42], dtype=np.int64)
    query = Query(0, history, history, 0.0)
    first = content.approximate_scores(query, 600, per_column=10_000)
    assert isinstance(first, ProfileScores)
    assert first.top(20, history).tolist() == exact(content, query, 600).top(20, history).tolist()
    content._vectors.impacts.wait()
    assert content._vectors.impacts.builds == 1
    for _ in range(20):
        history = rng.choice(600, rng.integers(1, 6), replace=False).astype(np.int64)
        query = Query(0, history, history, 0.0)
        scores = content.approximate_scores(query, 600, per_column=10_000)
        reference = exact(content, query, 600)
        probe = np.arange(-2, 610)
        np.testing.assert_array_equal(scores.at(probe), reference.at(probe))
        exclude = np.unique(history)
        assert scores.top(25, exclude).tolist() == reference.top(25, exclude).tolist()


def test_a_cut_finds_most_of_the_exact_top_and_follows_new_items() -> None:
    """The common tokens cut (the categories, ~430 items each, to 300; the words have
    ~240): most of the exact top 20 is found (an item as good as the exact 20th counts:
    texts tie), each with its exact score; an item upserted after the cut (the tail) is
    found through the tail's own cut, once it is rebuilt."""
    content, rng = catalogue(3_000)
    found, wanted = 0, 0
    for _ in range(30):
        history = rng.choice(3_000, rng.integers(1, 4), replace=False).astype(np.int64)
        query = Query(0, history, history, 0.0)
        scores = content.approximate_scores(query, 3_000, per_column=300)
        scores.top(20, history)
        content._vectors.impacts.wait()
        reference = exact(content, query, 3_000)
        best = reference.top(20, np.unique(history))
        top = scores.top(20, np.unique(history))
        np.testing.assert_array_equal(scores.at(top), reference.at(top))
        found += int(np.count_nonzero(scores.at(top) >= reference.at(best).min()))
        wanted += best.size
    assert found >= 0.95 * wanted
    # a new item whose text is exactly the profile's: the best match, found in the tail
    content.learn_items([(3_000, Item("new", {"category": "0"}, "w1 w2 w3"))])
    content.learn_items([(3_001, Item("twin", {"category": "0"}, "w1 w2 w3"))])
    assert content._vectors._tail_items.size >= 2  # in the tail, not reweighted into the base
    query = Query(0, np.array([3_001]), np.array([3_001]), 0.0)
    scores = content.approximate_scores(query, 3_002, per_column=300)
    scores.top(5, np.array([3_001]))
    content._vectors.impacts.wait()
    assert scores.top(5, np.array([3_001]))[0] == 3_000


def test_serving_takes_the_cut_only_in_a_large_catalogue_and_lessons_never() -> None:
    content, _ = catalogue(300)
    history = np.array([1, 2], dtype=np.int64)
    query = Query(0, history, history, 0.0)
    small = VectorIndexes(ANNConfig(min_items=301))
    large = VectorIndexes(ANNConfig(min_items=300, content_postings=5))
    assert isinstance(_scores_of("content", content, query, 300, small), SparseScores)
    assert isinstance(_scores_of("content", content, query, 300, None), SparseScores)
    served = _scores_of("content", content, query, 300, large)
    assert isinstance(served, ProfileScores) and served.per_column == 5


def test_a_restarted_server_cuts_contents_postings_before_any_query(tmp_path: Path) -> None:
    """After a restart in a catalogue of ``min_items`` or more, content's postings are cut
    at once, as the ANN indexes are built, not at the first query (until cut, serving takes
    the exact path: at 1M items 36-170 ms of a read). Below ``min_items``: nothing cut."""
    rng = np.random.default_rng(4)
    words = [f"w{w}" for w in range(40)]
    items = [Item(f"i{i}", {"category": str(i % 5)}, " ".join(rng.choice(words, 4)))
             for i in range(80)]
    for min_items, cut in ((50, True), (81, False)):
        settings = Settings(data_dir=tmp_path / str(min_items),
                            models={"hybrid": {"ann": {"min_items": min_items}}})
        engine = Engine.open(settings)
        try:
            engine.upsert_items(items)
        finally:
            engine.close()
        reopened = Engine.open(settings)
        try:
            content = reopened.state.models["content"]
            assert isinstance(content, ContentModel)
            impacts = content._vectors.impacts
            impacts.wait()
            assert (impacts.builds == 1) is cut
            if cut:  # the cut is of the restored matrices: a query finds it ready
                per_column = settings.models.hybrid.ann.content_postings
                assert content._vectors.cut_postings(per_column) is not None
        finally:
            reopened.close()
