"""Top-K metrics of one ranked list, and the figures of a whole run.

A list is judged by its order alone: ties in a model's scores were already broken by the
model (every adapter returns items best first), so equal scores never share a rank here.
Only the first ``k`` entries count; an item listed twice counts once, at its first place.
A list shorter than ``k`` is judged as it is (missing places are misses).

Definitions, for a list L and relevant set R (non-empty):
  hit = 1 if L[:k] and R meet;  recall = |L[:k] & R| / |R|;
  NDCG = sum over hits at 1-based rank r of 1/log2(r + 1), divided by the same sum for
  min(|R|, k) hits at ranks 1.. ;  reciprocal rank = 1/r of the first hit, 0 if none.
With one relevant item (prequential), recall equals hit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from streamrec.types import FloatArray, IntArray


@dataclass(frozen=True, slots=True)
class ListScores:
    hit: float
    recall: float
    ndcg: float
    reciprocal_rank: float


def score_list(recommended: Iterable[int], relevant: Iterable[int], k: int) -> ListScores:
    """Judge one ranked list against the items the user went on to have.

    >>> score_list([7, 3, 9], [3], k=10)
    ListScores(hit=1.0, recall=1.0, ndcg=0.6309297535714575, reciprocal_rank=0.5)
    >>> score_list([], [3], k=10).hit
    0.0
    """
    wanted = set(relevant)
    if not wanted:
        raise ValueError("a list can only be judged against at least one relevant item")
    if k < 1:
        raise ValueError("k must be at least 1")
    placed: set[int] = set()
    dcg, first_rank, hits = 0.0, 0, 0
    for rank, item in enumerate(list(recommended)[:k], start=1):
        if item in placed:
            continue
        placed.add(item)
        if item in wanted:
            hits += 1
            dcg += 1.0 / math.log2(rank + 1)
            first_rank = first_rank or rank
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(wanted), k) + 1))
    return ListScores(
        hit=1.0 if hits else 0.0,
        recall=hits / len(wanted),
        ndcg=dcg / ideal,
        reciprocal_rank=1.0 / first_rank if first_rank else 0.0,
    )


def catalogue_coverage(recommended: IntArray, n_items: int) -> float:
    """Share of the ``n_items`` catalogue (the log's items) recommended at least once; -1
    entries (padding of short lists) and ids outside the catalogue are ignored.

    >>> catalogue_coverage(np.array([[0, 1], [1, -1]]), 4)
    0.5
    """
    if n_items <= 0:
        return 0.0
    shown = np.unique(recommended[(recommended >= 0) & (recommended < n_items)])
    return float(shown.size) / n_items


def novelty(recommended: IntArray, item_users: IntArray, n_users: int) -> float:
    """Mean self-information -log2(share of users who had the item) of recommended items,
    in bits (Zhou et al., PNAS 2010); higher means less popular items. Padding (-1) ignored;
    an item nobody had (or outside ``item_users``: catalogue-only) counts as had by one user.

    >>> novelty(np.array([[0, 1]]), np.array([4, 1]), 4)
    1.0
    """
    shown = recommended[recommended >= 0]
    if shown.size == 0 or n_users <= 0:
        return 0.0
    had = np.ones(shown.shape[0], dtype=np.float64)
    known = shown < item_users.shape[0]
    had[known] = np.maximum(item_users[shown[known]], 1)
    return float(np.mean(-np.log2(had / n_users)))


def percentile_ms(latencies_s: FloatArray, percent: float) -> float:
    """The ``percent`` percentile of latencies given in seconds, in milliseconds (0 if none)."""
    if latencies_s.size == 0:
        return 0.0
    return float(np.percentile(latencies_s, percent) * 1000.0)


def windowed_mean(positions: IntArray, values: FloatArray, n_events: int,
                  windows: int) -> tuple[IntArray, FloatArray, IntArray]:
    """Means of ``values`` over ``windows`` equal spans of the stream's positions.

    Returns (first position of each window, mean in it (NaN when it holds no query), number
    of queries in it).

    >>> starts, means, counts = windowed_mean(np.array([0, 1, 5]), np.array([1.0, 0.0, 1.0]),
    ...                                       6, 2)
    >>> starts.tolist(), means.tolist(), counts.tolist()
    ([0, 3], [0.5, 1.0], [2, 1])
    """
    windows = max(1, min(windows, n_events))
    edges = np.linspace(0, n_events, windows + 1).astype(np.int64)
    which = np.searchsorted(edges, positions, side="right") - 1
    counts = np.bincount(which, minlength=windows)[:windows]
    sums = np.bincount(which, weights=values, minlength=windows)[:windows]
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return edges[:-1], means, counts.astype(np.int64)
