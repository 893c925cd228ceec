"""Recommendations for a user."""

from __future__ import annotations

from fastapi import APIRouter

from streamrec.serving.auth import require
from streamrec.serving.deps import EngineDep
from streamrec.serving.list_options import LIST_RESPONSES, ListOptionsDep, recommendations_out
from streamrec.serving.schemas import PathId, RecommendationsOut
from streamrec.trust.keys import Scope

router = APIRouter(prefix="/v1/users", tags=["users"])


@router.get("/{user_id:path}/recommendations", response_model=RecommendationsOut,
            dependencies=[require(Scope.READ)],
            responses=LIST_RESPONSES, response_model_exclude_unset=True)
def recommendations(user_id: PathId, engine: EngineDep,
                    options: ListOptionsDep) -> RecommendationsOut:
    """Top-`k` items for the user, best first, each with a score and reasons. An unknown
    user gets popular items (never an error). Items the user turned down (a dislike or a
    return) are left out, and items like them are ranked lower, with a reason saying so."""
    return recommendations_out(engine.recommend(user_id, options.k, **options.keywords()),
                               engine, options.fields)
