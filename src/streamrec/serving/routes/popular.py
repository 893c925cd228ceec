"""What is popular now: globally, or per attribute value (a category's landing page)."""

from __future__ import annotations

from fastapi import APIRouter

from streamrec.serving.auth import require
from streamrec.serving.deps import EngineDep
from streamrec.serving.list_options import LIST_RESPONSES, ListOptionsDep, recommendations_out
from streamrec.serving.schemas import RecommendationsOut
from streamrec.trust.keys import Scope

router = APIRouter(prefix="/v1/popular", tags=["popular"])


@router.get("", response_model=RecommendationsOut, dependencies=[require(Scope.READ)],
            responses=LIST_RESPONSES, response_model_exclude_unset=True)
def popular(engine: EngineDep, options: ListOptionsDep) -> RecommendationsOut:
    """The most popular items now (time-decayed), to anyone. Per attribute value with a
    filter: `filter=category=shoes` ranks shoes by the same decayed counts, which is what a
    counter per category would give. Boosts, diversity, `exclude` and paging (`after`) as
    for a user's list; `exclude_seen` has no one to apply to."""
    keywords = options.keywords()
    keywords.pop("exclude_seen")
    return recommendations_out(engine.popular(options.k, **keywords), engine, options.fields)
