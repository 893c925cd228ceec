"""EASE as a source: items the user's history implies by one item-item regression."""

from __future__ import annotations

from typing import Any

from streamrec.models.base import Model
from streamrec.models.ease import EASEModel
from streamrec.sources.base import Source


def _build(settings: Any) -> Model:  # settings.models (ModelSettings)
    return EASEModel(settings.ease)


SOURCE = Source(
    name="ease",
    build=_build,
    # starts modest in the ranker: the blend (ranking/blend.py) weighs it by what it earns
    prior={"score": 0.3, "rank": 0.5, "top5": 0.2, "top20": 0.1, "x_history": 0.1},
    reason="people who had what you had went on to this",
    description="EASE (item-item regression), refit in the background; scores read the "
    "user's history, so every event counts at once",
)
