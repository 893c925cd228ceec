"""Implicit ALS as a source: items people with the user's tastes engaged with."""

from __future__ import annotations

from typing import Any

from streamrec.models.als import ALSModel
from streamrec.models.base import Model
from streamrec.sources.base import Source


def _build(settings: Any) -> Model:  # settings.models (ModelSettings)
    return ALSModel(settings.als)


SOURCE = Source(
    name="als",
    build=_build,
    prior={"score": 0.3, "rank": 0.5, "top5": 0.2, "top20": 0.1, "x_history": 0.1},
    reason="matches your tastes: people like you engaged with it",
    similar_reason="liked by the people who like {item}",
    similar_weight=0.5,
    description="implicit ALS, refit in the background, the user folded in at every event",
)
