"""Recommendations for a user."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from streamrec.serving.auth import require
from streamrec.serving.deps import EngineDep
from streamrec.serving.list_options import LIST_RESPONSES, ListOptionsDep, recommendations_out
from streamrec.serving.schemas import PathId, ProposalsOut, ProposedItem, RecommendationsOut
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


@router.get("/{user_id:path}/proposals", response_model=ProposalsOut,
            dependencies=[require(Scope.READ)])
def proposals(user_id: PathId, engine: EngineDep,
              k: Annotated[int, Query(ge=1, le=100, description="Items per source.")] = 10,
              exclude_seen: Annotated[bool, Query(
                  description="As for the recommendations.")] = True) -> ProposalsOut:
    """What each candidate source proposed for the user (its best-scored candidates, with its
    own score), before the ranker and the blend made the list: to see why a list is what it
    is. Filters and boosts apply to the list only."""
    return ProposalsOut(sources={
        name: [ProposedItem(item_id=i, score=s) for i, s in items]
        for name, items in engine.proposals(user_id, k, exclude_seen).items()})
