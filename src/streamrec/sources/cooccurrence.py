"""Co-occurrence as a source: items engaged with together with the user's recent items."""

from __future__ import annotations

from typing import Any

from streamrec.models.base import Model
from streamrec.models.cooccurrence import CooccurrenceModel
from streamrec.sources.base import Source


def _build(settings: Any) -> Model:  # settings.models (ModelSettings)
    return CooccurrenceModel(settings.cooccurrence)


# the strongest personal source: its top ranks and its trust in long histories weigh most
SOURCE = Source(
    name="cooccurrence",
    build=_build,
    prior={"score": 1.0, "rank": 4.0, "top5": 0.5, "top20": 0.3, "x_history": 0.3},
    reason="similar to {item}, which you engaged with",
    similar_reason="often engaged with together with {item}",
    similar_weight=1.0,
    neighbours=True,
    description="items engaged with together with the user's recent items",
)
