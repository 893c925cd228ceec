"""Candidates from every source and the features the ranker sees for each of them.

The candidates are the union of each source's best ``per_source`` items; then every source
scores every candidate. A source answers with a ``QueryScores`` (``models/scores.py``): only
the items it has an opinion on, a ranking cached between events, or on the serving path an
approximate nearest-neighbour index (``ann.py``), so that a query does not need an array over
the catalogue per source. Features are per-query normalised (a source's score over its best
candidate, and its reciprocal rank) so one set of weights serves every user; the user's
history length enters through interactions, letting the ranker trust personal sources more
for users it knows well. Recency and attribute matches come from ``item_facts.py``. Which
sources there are, which of these features each has and their starting weights is the
registry's (``streamrec.sources``); ``layout()`` turns it into columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, cast

import numpy as np

from streamrec.models.base import DenseScorer, Model
from streamrec.models.scores import (
    ApproximateQueries,
    BoundedQueries,
    DenseScores,
    ItemVectors,
    QueryScores,
    ScoresQueries,
    SparseScores,
)
from streamrec.ranking.ann import IndexedScores, VectorIndexes
from streamrec.ranking.item_facts import FACT_FEATURES, ItemFacts
from streamrec.sources import FEATURE_BLOCKS, SOURCES, Source
from streamrec.types import EMPTY_FLOATS, EMPTY_INTS, FloatArray, IntArray, Query

_BIAS_PRIOR = -3.0
# recency helps a little everywhere; the attribute matches start at 0 and are left to the
# lessons: how much a shared category says differs by domain (measured: a prior of 0.3/0.2
# gained 1% on a synthetic shop whose sessions stay in a category, lost 1.5% on MovieLens,
# whose ratings come in bulk)
_FACT_PRIOR = {"recency": 0.1, "attribute_share": 0.0, "attribute_last": 0.0}


@dataclass(frozen=True, slots=True)
class Layout:
    """The ranker's feature columns, from the registered sources (``streamrec.sources``):
    the bias, each block of ``FEATURE_BLOCKS`` over the sources that have its kinds (in the
    registry's order), then the item facts. ``raw`` columns are the sources, in order."""

    sources: tuple[Source, ...]
    features: tuple[str, ...]
    prior: FloatArray  # the weights before anything is learned (a source's ``prior``)
    # (source column, kind, feature column) of every source feature, in column order
    source_features: tuple[tuple[int, str, int], ...]
    first_fact: int

    @property
    def probation(self) -> tuple[int, ...]:
        """The source columns of the sources on probation (``Source.on_probation``)."""
        return tuple(n for n, source in enumerate(self.sources) if source.on_probation)

    @property
    def probation_features(self) -> tuple[int, ...]:
        """The feature columns of the sources on probation."""
        probation = set(self.probation)
        return tuple(column for source, _, column in self.source_features
                     if source in probation)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(source.name for source in self.sources)

    def source(self, name: str) -> Source:
        """The source named ``name`` (a list's reasons ask per item: no tuple made each time)."""
        for source in self.sources:
            if source.name == name:
                return source
        raise ValueError(f"no source named {name!r}")


_LAYOUTS: dict[int, Layout] = {}


def layout() -> Layout:
    """The layout of the registry as it is now (cached per registry version)."""
    found = _LAYOUTS.get(SOURCES.version)
    if found is None:
        found = _LAYOUTS[SOURCES.version] = _layout_of(tuple(SOURCES))
    return found


def _layout_of(sources: tuple[Source, ...]) -> Layout:
    features, prior = ["bias"], [_BIAS_PRIOR]
    placed = []
    for block in FEATURE_BLOCKS:
        for column, source in enumerate(sources):
            for kind in block:
                if kind in source.prior:
                    placed.append((column, kind, len(features)))
                    features.append(f"{source.name}_{kind}")
                    prior.append(source.prior[kind])
    first_fact = len(features)
    features.extend(FACT_FEATURES)
    prior.extend(_FACT_PRIOR[name] for name in FACT_FEATURES)
    return Layout(sources, tuple(features), np.array(prior, dtype=np.float64), tuple(placed),
                  first_fact)


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
    # per candidate, whether a source not on probation (or ``also``) brought it: the
    # candidates a list has while the sources on probation are out (probation.py); None:
    # every candidate (no source on probation was asked)
    without_probation: np.ndarray | None = None
    history_length: int = 0  # of the user asked for (the features' ``x_history``)


class _Kind(NamedTuple):
    """What a scorer's type offers, of the protocols the candidates are gathered with."""

    vectors: bool  # item vectors (``ItemVectors``)
    answers_queries: bool  # answers with ``QueryScores``
    approximates: bool  # an approximate answer of its own
    bounded: bool  # its exact top reads only some rows (``BoundedQueries``)
    model: bool  # scores any items for a query (``Model``: content, on the union only)


# runtime protocol checks cost 10-70 us each (``Model``'s ~66 us at 1M items: 0.05 ms of
# each read with history): asked once per type
_KINDS: dict[type, _Kind] = {}


def _kind(scorer: object) -> _Kind:
    kind = _KINDS.get(type(scorer))
    if kind is None:
        kind = _KINDS[type(scorer)] = _Kind(isinstance(scorer, ItemVectors),
                                            isinstance(scorer, ScoresQueries),
                                            isinstance(scorer, ApproximateQueries),
                                            isinstance(scorer, BoundedQueries),
                                            isinstance(scorer, Model))
    return kind


def _wants_index(scorer: DenseScorer, indexes: VectorIndexes) -> bool:
    """Whether ``scorer``'s candidates come from an index: one with item vectors, unless its
    exact top reads few rows (``ANNConfig.exact_rows``)."""
    kind = _kind(scorer)
    return kind.vectors and indexes.config.wants_index(
        cast(BoundedQueries, scorer).exact_reads() if kind.bounded else None)


def _approximated(kind: _Kind, indexes: VectorIndexes, n_items: int) -> bool:
    """Whether serving takes a source's own approximate answer (content's cut postings): in
    a catalogue of the ANN settings' ``min_items`` or more."""
    return kind.approximates and n_items >= indexes.config.min_items


def start_index_builds(scorers: Mapping[str, DenseScorer], indexes: VectorIndexes,
                       n_items: int) -> None:
    """Begin building, in the background, what serving reads in a catalogue of ``n_items``
    as a first query would: the ANN index of every source with item vectors (after a
    restart at 1M items, queries took the exact path, ~13 ms for ALS alone, until the first
    one started a build, ~10 s long), and content's cut postings (until cut, its exact path
    over 1M items took 36-170 ms of a read)."""
    for name, scorer in scorers.items():
        kind = _kind(scorer)
        if _approximated(kind, indexes, n_items):
            cast(ApproximateQueries, scorer).start_approximation(
                indexes.config.content_postings)
        elif _wants_index(scorer, indexes):
            indexes.ready(name, cast(ItemVectors, scorer).item_vectors())


def _scores_of(name: str, scorer: DenseScorer, query: Query, n_items: int,
               indexes: VectorIndexes | None) -> QueryScores:
    kind = _kind(scorer)
    if indexes is not None and _approximated(kind, indexes, n_items):
        return cast(ApproximateQueries, scorer).approximate_scores(
            query, n_items, indexes.config.content_postings)
    if indexes is not None and _wants_index(scorer, indexes):
        source = cast(ItemVectors, scorer)
        matrix = source.item_vectors()
        index = indexes.ready(name, matrix)
        if index is not None:
            vector = source.query_vector(query)
            if vector is None:
                return SparseScores(EMPTY_INTS, EMPTY_FLOATS)
            return IndexedScores(matrix, vector, index)
    if kind.answers_queries:
        return cast(ScoresQueries, scorer).query_scores(query, n_items)
    return DenseScores(scorer.dense_scores(query, n_items))


def gather(query: Query, scorers: Mapping[str, DenseScorer], n_items: int,
           per_source: int, also: IntArray | None = None,
           indexes: VectorIndexes | None = None, facts: ItemFacts | None = None,
           lay: Layout | None = None) -> CandidateSet:
    """Union of every source's best ``per_source`` items not excluded by the query (plus
    ``also``, e.g. a training target), with their features. ``indexes``: approximate
    candidates for sources with item vectors (serving); None: exact. ``facts``: recency and
    attribute matches (``item_facts.py``); None leaves those features 0.

    A source with ``candidates_below`` (content: its job is the cold start) brings candidates
    only for users with a shorter history; for the others it scores just the union.
    ``lay``: the columns (a ranker's, fixed when it was made); None: the registry's now."""
    lay = lay or layout()
    exclude = query.exclude[(query.exclude >= 0) & (query.exclude < n_items)]
    exclude = np.unique(exclude)
    scored: dict[str, QueryScores] = {}
    chosen = [] if also is None else [also[(also >= 0) & (also < n_items)]]
    sources = lay.sources
    kept = list(chosen)  # what the sources not on probation brought
    for source in sources:
        scorer = scorers.get(source.name)
        if scorer is None:
            continue
        below = source.candidates_below
        if below is not None and query.history.size >= below:
            continue  # scored below, on the union only
        scores = _scores_of(source.name, scorer, query, n_items, indexes)
        scored[source.name] = scores
        chosen.append(scores.top(per_source, exclude))
        if not source.on_probation:
            kept.append(chosen[-1])
    items = np.unique(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)
    without_probation = None
    if len(kept) < len(chosen):
        without_probation = (np.isin(items, np.concatenate(kept)) if kept
                             else np.zeros(items.size, dtype=bool))
    raw = np.zeros((items.size, len(sources)), dtype=np.float64)
    for row, source in enumerate(sources):
        if source.name in scored:
            raw[:, row] = scored[source.name].at(items)
        elif (model := scorers.get(source.name)) is not None and _kind(model).model:
            raw[:, row] = np.maximum(cast(Model, model).score(query, items), 0.0)
    columns, values = (None, None) if facts is None else facts.columns_and_values(query, items)
    return CandidateSet(items, raw, featurise(raw, query.history.size, columns, lay), scored,
                        values, without_probation, int(query.history.size))


def featurise(raw: FloatArray, history_length: int, fact_columns: FloatArray | None = None,
              lay: Layout | None = None) -> FloatArray:
    """The feature rows of candidates whose sources scored them ``raw`` (one column per
    source): per source its score over its best candidate, its reciprocal rank, steps at the
    top of its list (a linear model cannot bend 1/rank) and its score growing with the user's
    history length, each where the source declares it (``Layout``)."""
    lay = lay or layout()
    n = raw.shape[0]
    features = np.zeros((n, len(lay.features)), dtype=np.float64)
    features[:, 0] = 1.0
    if n == 0:
        return features
    positive = np.maximum(raw, 0.0)
    top = positive.max(axis=0)
    normalised = np.divide(positive, top, out=np.zeros_like(positive), where=top > 0)
    # rank 0 is the source's best candidate; items the source does not score get 0
    ranks = np.argsort(np.argsort(-raw, axis=0, kind="stable"), axis=0, kind="stable")
    reciprocal = np.where(positive > 0, 1.0 / (1.0 + ranks), 0.0)
    maturity = min(1.0, np.log1p(history_length) / np.log1p(100.0))
    for source, kind, column in lay.source_features:
        if kind == "score":
            features[:, column] = normalised[:, source]
        elif kind == "rank":
            features[:, column] = reciprocal[:, source]
        elif kind == "x_history":
            features[:, column] = normalised[:, source] * maturity
        else:  # top5, top20
            features[:, column] = (positive[:, source] > 0) & (ranks[:, source] < int(kind[3:]))
    if fact_columns is not None:
        features[:, lay.first_fact:lay.first_fact + len(FACT_FEATURES)] = fact_columns
    return features
