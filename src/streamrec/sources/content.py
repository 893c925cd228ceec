"""Content as a source: items whose attributes and words are like the user's recent items."""

from __future__ import annotations

from typing import Any

from streamrec.models.base import Model
from streamrec.models.content import ContentModel
from streamrec.sources.base import Source


def _build(settings: Any) -> Model:  # settings.models (ModelSettings)
    return ContentModel(settings.content)


SOURCE = Source(
    name="content",
    build=_build,
    prior={"score": 0.3, "rank": 0.3},
    reason="like what you engaged with (attributes and description)",
    similar_reason="shares attributes and words with {item}",
    similar_weight=0.3,
    neighbours=True,
    # its job is the cold start: for users with a longer history it only re-scores the
    # others' candidates, which saves a pass over every item's vector
    candidates_below=5,
    description="attributes and text of the catalogue, for new items and new users",
)
