"""Candidates from every source and the features the ranker sees for each of them.

The candidates are the union of each source's best ``per_source`` items; then every source
scores every candidate. A source answers with a ``QueryScores`` (``models/scores.py``): only
the items it has an opinion on, a ranking cached between events, or on the serving path an
approximate nearest-neighbour index (``ann.py``), so that a query does not need an array over
the catalogue per source. Features are per-query normalised (a source's score over its best
candidate, and its reciprocal rank) so one set of weights serves every user; the user's
history length enters through interactions, letting the ranker trust personal sources more
for users it knows well. Recency and attribute matches come from ``item_facts.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from streamrec.models.base import DenseScorer, Model
from streamrec.models.scores import (
    DenseScores,
    ItemVectors,
    QueryScores,
    ScoresQueries,
    SparseScores,
)
from streamrec.ranking.ann import IndexedScores, VectorIndexes
from streamrec.ranking.item_facts import FACT_FEATURES, ItemFacts
from streamrec.types import EMPTY_FLOATS, EMPTY_INTS, FloatArray, IntArray, Query

SOURCES = ("cooccurrence", "als", "content", "popularity")
FEATURES = (
    "bias",
    *(f"{source}_{kind}" for source in SOURCES for kind in ("score", "rank")),
    "cooccurrence_top5",
    "cooccurrence_top20",
    "als_top5",
    "als_top20",
    "cooccurrence_x_history",
    "als_x_history",
    *FACT_FEATURES,
)
# a prior before anything is learned: personal sources first, popularity breaks ties. The
# attribute matches start at 0 and are left to the lessons: how much a shared category says
# differs by domain (measured: a prior of 0.3/0.2 gained 1% on a synthetic shop whose
# sessions stay in a category, lost 1.5% on MovieLens, whose ratings come in bulk).
PRIOR_WEIGHTS = np.array([-3.0, 1.0, 4.0, 0.3, 0.5, 0.3, 0.3, 0.1, 0.2,
                          0.5, 0.3, 0.2, 0.1, 0.3, 0.1, 0.1, 0.0, 0.0])
_FIRST_FACT = FEATURES.index(FACT_FEATURES[0])


_CONTENT_CANDIDATES_BELOW = 5  # history length from which content only re-scores


@dataclass(frozen=True, slots=True)
class CandidateSet:
    items: IntArray
    raw: FloatArray  # (candidates, sources): each source's own score
    features: FloatArray  # (candidates, features)
    # each source's scores for this query, for asking it more (e.g. co-occurrence's reasons)
    scored: Mapping[str, QueryScores] = field(default_factory=dict)
    # per candidate, its attribute value most of the user's recent items have (a code of
    # ``ItemFacts.value_name``), -1 when none: for the reasons
    shared_values: IntArray | None = None


_KINDS: dict[type, tuple[bool, bool]] = {}  # runtime protocol checks cost ~10 us each


def _kind(scorer: DenseScorer) -> tuple[bool, bool]:
    """Whether ``scorer`` has item vectors, and whether it answers with ``QueryScores``."""
    kind = _KINDS.get(type(scorer))
    if kind is None:
        kind = _KINDS[type(scorer)] = (isinstance(scorer, ItemVectors),
                                       isinstance(scorer, ScoresQueries))
    return kind


def _scores_of(name: str, scorer: DenseScorer, query: Query, n_items: int,
               indexes: VectorIndexes | None) -> QueryScores:
    has_vectors, answers_queries = _kind(scorer)
    if indexes is not None and has_vectors:
        source = cast(ItemVectors, scorer)
        matrix = source.item_vectors()
        index = indexes.ready(name, matrix)
        if index is not None:
            vector = source.query_vector(query)
            if vector is None:
                return SparseScores(EMPTY_INTS, EMPTY_FLOATS)
            return IndexedScores(matrix, vector, index)
    if answers_queries:
        return cast(ScoresQueries, scorer).query_scores(query, n_items)
    return DenseScores(scorer.dense_scores(query, n_items))


def gather(query: Query, scorers: Mapping[str, DenseScorer], n_items: int,
           per_source: int, also: IntArray | None = None,
           indexes: VectorIndexes | None = None, facts: ItemFacts | None = None) -> CandidateSet:
    """Union of every source's best ``per_source`` items not excluded by the query (plus
    ``also``, e.g. a training target), with their features. ``indexes``: approximate
    candidates for sources with item vectors (serving); None: exact. ``facts``: recency and
    attribute matches (``item_facts.py``); None leaves those features 0.

    Content brings candidates only for users with little history (its job: the cold start);
    for the others it scores just the union, which saves a pass over every item's vector."""
    exclude = query.exclude[(query.exclude >= 0) & (query.exclude < n_items)]
    exclude = np.unique(exclude)
    scored: dict[str, QueryScores] = {}
    chosen = [] if also is None else [also[(also >= 0) & (also < n_items)]]
    for source in SOURCES:
        scorer = scorers.get(source)
        if scorer is None:
            continue
        if source == "content" and query.history.size >= _CONTENT_CANDIDATES_BELOW:
            continue  # scored below, on the union only
        scores = _scores_of(source, scorer, query, n_items, indexes)
        scored[source] = scores
        chosen.append(scores.top(per_source, exclude))
    items = np.unique(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)
    raw = np.zeros((items.size, len(SOURCES)), dtype=np.float64)
    for row, source in enumerate(SOURCES):
        if source in scored:
            raw[:, row] = scored[source].at(items)
        elif isinstance(model := scorers.get(source), Model):
            raw[:, row] = np.maximum(model.score(query, items), 0.0)
    columns, values = (None, None) if facts is None else facts.columns_and_values(query, items)
    return CandidateSet(items, raw, featurise(raw, query.history.size, columns), scored, values)


def featurise(raw: FloatArray, history_length: int,
              fact_columns: FloatArray | None = None) -> FloatArray:
    n = raw.shape[0]
    features = np.zeros((n, len(FEATURES)), dtype=np.float64)
    features[:, 0] = 1.0
    if n == 0:
        return features
    positive = np.maximum(raw, 0.0)
    top = positive.max(axis=0)
    normalised = np.divide(positive, top, out=np.zeros_like(positive), where=top > 0)
    # rank 0 is the source's best candidate; items the source does not score get 0
    ranks = np.argsort(np.argsort(-raw, axis=0, kind="stable"), axis=0, kind="stable")
    reciprocal = np.where(positive > 0, 1.0 / (1.0 + ranks), 0.0)
    for column in range(len(SOURCES)):
        features[:, 1 + 2 * column] = normalised[:, column]
        features[:, 2 + 2 * column] = reciprocal[:, column]
    # steps at the top of each personal source's list: a linear model cannot bend 1/rank
    first = 1 + 2 * len(SOURCES)
    for offset, column in enumerate((0, 1)):
        scored = positive[:, column] > 0
        features[:, first + 2 * offset] = scored & (ranks[:, column] < 5)
        features[:, first + 2 * offset + 1] = scored & (ranks[:, column] < 20)
    maturity = min(1.0, np.log1p(history_length) / np.log1p(100.0))
    features[:, first + 4] = normalised[:, 0] * maturity
    features[:, first + 5] = normalised[:, 1] * maturity
    if fact_columns is not None:
        features[:, _FIRST_FACT:_FIRST_FACT + len(FACT_FEATURES)] = fact_columns
    return features
