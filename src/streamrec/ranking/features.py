"""Candidates from every source and the features the ranker sees for each of them.

Every source scores all items at once (``DenseScorer``); the candidates are the union of each
source's best ``per_source`` items. Features are per-query normalised (a source's score over
its best candidate, and its reciprocal rank) so one set of weights serves every user; the
user's history length enters through interactions, letting the ranker trust personal
sources more for users it knows well.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from streamrec.models.base import DenseScorer, Model
from streamrec.types import FloatArray, IntArray, Query

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
)
# a prior before anything is learned: personal sources first, popularity breaks ties
PRIOR_WEIGHTS = np.array([-3.0, 1.0, 4.0, 0.3, 0.5, 0.3, 0.3, 0.1, 0.2,
                          0.5, 0.3, 0.2, 0.1, 0.3, 0.1])


_CONTENT_CANDIDATES_BELOW = 5  # history length from which content only re-scores


@dataclass(frozen=True, slots=True)
class CandidateSet:
    items: IntArray
    raw: FloatArray  # (candidates, sources): each source's own score
    features: FloatArray  # (candidates, features)


def gather(query: Query, scorers: Mapping[str, DenseScorer], n_items: int,
           per_source: int, also: IntArray | None = None) -> CandidateSet:
    """Union of every source's best ``per_source`` items not excluded by the query (plus
    ``also``, e.g. a training target), with their features.

    Content brings candidates only for users with little history (its job: the cold start);
    for the others it scores just the union, which saves a pass over every item's vector."""
    dense = np.zeros((len(SOURCES), n_items), dtype=np.float64)
    scored_later: list[int] = []
    for row, source in enumerate(SOURCES):
        scorer = scorers.get(source)
        if scorer is None:
            continue
        if source == "content" and query.history.size >= _CONTENT_CANDIDATES_BELOW:
            scored_later.append(row)
            continue
        dense[row] = scorer.dense_scores(query, n_items)
    allowed = np.ones(n_items, dtype=bool)
    valid = query.exclude[(query.exclude >= 0) & (query.exclude < n_items)]
    allowed[valid] = False
    chosen = [] if also is None else [also[(also >= 0) & (also < n_items)]]
    for row in range(len(SOURCES)):
        scores = np.where(allowed, dense[row], 0.0)
        positive = np.flatnonzero(scores > 0)
        if positive.size > per_source:
            best = np.argpartition(-scores[positive], per_source - 1)[:per_source]
            positive = positive[best]
        chosen.append(positive)
    items = np.unique(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)
    raw = dense[:, items].T.copy()
    for row in scored_later:
        model = scorers[SOURCES[row]]
        if isinstance(model, Model):
            raw[:, row] = np.maximum(model.score(query, items), 0.0)
    return CandidateSet(items, raw, featurise(raw, query.history.size))


def featurise(raw: FloatArray, history_length: int) -> FloatArray:
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
    features[:, -2] = normalised[:, 0] * maturity
    features[:, -1] = normalised[:, 1] * maturity
    return features
