"""Declared negative events (dislike, skip, return): what a user turned down, and its
neighbours, pushed down in that user's recommendations.

An item is *turned down* when its newest event among the user's recent ones weighs less than
zero; a later positive event takes that back. A turned-down item ``n``:

- brings in no candidates (co-occurrence ignores it; content subtracts it from the profile);
- is left out of the user's lists entirely when that event weighs ``-hide_at_weight`` or
  less (by default a dislike or a return; a skip is only pushed down), even with
  ``exclude_seen=false``;
- pushes down every candidate ``c`` like it: the ranker's score is multiplied by
  ``exp(-strength * penalty(c))``, ``penalty(c) = sum_n |w_n| 2^(-age_n / half_life_s)
  sim(c, n)``, where ``sim`` is the larger of the co-occurrence similarity (asymmetric
  cosine) and the content cosine, clipped to [0, 1], and 1 for ``n`` itself. The penalty
  fades like other intent; it concerns this user only (other users' lists see none of it).

>>> from streamrec.types import Query
>>> history = Query(0, np.array([3, 4, 3]), np.zeros(0, np.int64), now=10.0,
...                 history_weights=np.array([1.0, -2.0, -0.5]),
...                 history_times=np.array([0.0, 5.0, 10.0]))
>>> found = turned_down(history, NegativesConfig(half_life_s=None))
>>> found.items.tolist(), found.weights.tolist(), found.hidden.tolist()
([3, 4], [0.5, 2.0], [4])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, Field

from streamrec.models.base import Model
from streamrec.types import EMPTY_FLOATS, EMPTY_INTS, FloatArray, IntArray, Query

_MAX_WEIGHT = 1e6  # a weight x value can overflow to inf; the push is the same long before


class NegativesConfig(BaseModel):
    window: int = Field(default=10, ge=1, le=1000,
                        description="Most recent turned-down items that push others down.")
    half_life_s: float | None = Field(
        default=7 * 86400.0, gt=0, description="The push halves per this much age; null: never.")
    strength: float = Field(
        default=1.0, ge=0.0, description="Score x exp(-strength x penalty); 0: no push.")
    hide_at_weight: float | None = Field(
        default=1.0, gt=0.0, description="Leave out an item whose newest event weighs this "
        "much below zero or more (dislike -2, return -4; skip -0.5 is only pushed down); "
        "null: never leave out.")


@dataclass(frozen=True, slots=True)
class TurnedDown:
    items: IntArray  # newest first, each once
    weights: FloatArray  # |event weight| x time decay, > 0
    hidden: IntArray  # left out of the user's lists entirely

    @staticmethod
    def none() -> TurnedDown:
        return TurnedDown(EMPTY_INTS, EMPTY_FLOATS, EMPTY_INTS)


def turned_down(query: Query, config: NegativesConfig) -> TurnedDown:
    """Items whose newest event in ``query``'s history is negative (needs its weights)."""
    if query.history.size == 0 or query.history_weights.size != query.history.size:
        return TurnedDown.none()
    items, weights = query.history[::-1], query.history_weights[::-1]
    _, first = np.unique(items, return_index=True)
    newest = np.sort(first)  # each item's newest event, newest item first
    newest = newest[weights[newest] < 0]
    hidden = EMPTY_INTS
    if config.hide_at_weight is not None:
        hidden = np.sort(items[newest[weights[newest] <= -config.hide_at_weight]])
    newest = newest[: config.window]
    strength = np.minimum(np.abs(weights[newest]), _MAX_WEIGHT)
    if config.half_life_s is not None and query.history_times.size == query.history.size:
        age = np.maximum(query.now - query.history_times[::-1][newest], 0.0)
        strength = strength * np.exp2(-age / config.half_life_s)
    keep = strength > 0  # fully faded: no push
    return TurnedDown(items[newest][keep].astype(np.int64), strength[keep], hidden)


def penalties(down: TurnedDown, candidates: IntArray, similarity: Sequence[Model],
              now: float) -> tuple[FloatArray, IntArray]:
    """For each candidate, its penalty (>= 0) and the turned-down item that weighs most in
    it (-1: none). ``similarity``: models whose one-item ``score`` is an item similarity.
    Cost: one ``score`` call per model and turned-down item."""
    penalty = np.zeros(candidates.size, dtype=np.float64)
    because = np.full(candidates.size, -1, dtype=np.int64)
    if candidates.size == 0 or down.items.size == 0:
        return penalty, because
    largest = np.zeros(candidates.size, dtype=np.float64)
    for item, weight in zip(down.items.tolist(), down.weights.tolist(), strict=True):
        alike = (candidates == item).astype(np.float64)
        one = Query(None, np.array([item], dtype=np.int64), EMPTY_INTS, now,
                    np.ones(1), np.array([now]))
        for model in similarity:
            scores = np.nan_to_num(model.score(one, candidates), nan=0.0, posinf=1.0)
            alike = np.maximum(alike, np.clip(scores, 0.0, 1.0))
        part = weight * alike
        penalty += part
        stronger = part > largest
        largest[stronger], because[stronger] = part[stronger], item
    return penalty, because


def demote(scores: FloatArray, penalty: FloatArray, config: NegativesConfig) -> FloatArray:
    """``scores`` (>= 0) times ``exp(-strength x penalty)``: the order among items with equal
    penalty is kept, and a score never grows."""
    return scores * np.exp(-config.strength * np.minimum(penalty, 700.0))
