"""Fitting the ranker's starting weights offline, on lists whose right answers are known.

Online, the ranker learns one question: which item the user takes next. A validation replay
can ask another one, e.g. "which items will this user have over the coming weeks", whose
answer leans more on what is popular now. ``fit_weights`` runs FTRL over such lessons for a
few shuffled epochs, starting from the weights the ranker already has, and returns weights to
start from (``HybridConfig.prior``).

>>> import numpy as np
>>> features = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
>>> lessons = [RankerLesson(features, np.array([1]))] * 20
>>> weights = fit_weights(lessons, np.zeros(3), epochs=5)
>>> bool(weights[2] > weights[1])  # the feature of the item taken gains weight
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from streamrec.ranking.features import layout
from streamrec.ranking.ftrl import FTRLConfig, FTRLRanker
from streamrec.types import FloatArray, IntArray


@dataclass(frozen=True, slots=True)
class RankerLesson:
    """One candidate list (its feature rows) and the rows the user went on to take."""

    features: FloatArray
    taken: IntArray


def fit_weights(lessons: Sequence[RankerLesson], start: FloatArray, epochs: int = 10,
                config: FTRLConfig | None = None, seed: int = 0) -> FloatArray:
    """Weights after ``epochs`` shuffled passes of listwise steps (one per item taken: each
    taken item against the whole list) from ``start``."""
    ranker = FTRLRanker(config or FTRLConfig(), start.shape[0], start)
    order = np.random.default_rng(seed)
    for _ in range(epochs):
        for index in order.permutation(len(lessons)).tolist():
            lesson = lessons[index]
            for row in lesson.taken.tolist():
                ranker.learn_choice(lesson.features, row)
    return ranker.weights()


def as_prior(weights: FloatArray) -> dict[str, float]:
    """``weights`` by feature name, as ``HybridConfig.prior`` takes them."""
    return {name: round(float(w), 6) for name, w in zip(layout().features, weights, strict=True)}
