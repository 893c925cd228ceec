"""Decayed popularity as a source: what many engage with now. Its reasons are the
recommender's "popular now" ones (they name the item's category)."""

from __future__ import annotations

from typing import Any

from streamrec.models.base import Model
from streamrec.models.popularity import PopularityModel
from streamrec.sources.base import Source


def _build(settings: Any) -> Model:  # settings.models (ModelSettings)
    return PopularityModel(settings.popularity)


# breaks ties between the personal sources' candidates
SOURCE = Source(
    name="popularity",
    build=_build,
    prior={"score": 0.1, "rank": 0.2},
    description="engagement counts fading with a half-life",
)
