"""Recommendations for a user."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from streamrec.errors import InvalidInput
from streamrec.serving.deps import EngineDep
from streamrec.serving.schemas import ErrorOut, RecommendationsOut, RecommendedItem

router = APIRouter(prefix="/v1/users", tags=["users"])
UserId = Annotated[str, Path(min_length=1, max_length=256)]


@router.get("/{user_id}/recommendations", response_model=RecommendationsOut,
            responses={422: {"model": ErrorOut}})
def recommendations(
    user_id: UserId, engine: EngineDep,
    k: Annotated[int, Query(ge=1, le=500, description="How many items.")] = 10,
    exclude_seen: Annotated[bool, Query(description="Leave out items the user had.")] = True,
    exclude: Annotated[str | None, Query(max_length=10_000,
                                         description="Comma-separated item ids to leave out.")]
    = None,
) -> RecommendationsOut:
    """Top-``k`` items for the user, best first, each with a score and reasons. An unknown
    user gets popular items (never an error)."""
    if k > engine.settings.serving.max_k:
        raise InvalidInput("k", f"k must be at most {engine.settings.serving.max_k}")
    excluded = [i for i in exclude.split(",") if i] if exclude else []
    found = engine.recommend(user_id, k, exclude_seen=exclude_seen, exclude_ids=excluded)
    return RecommendationsOut(
        items=[RecommendedItem(item_id=i, score=s, reasons=r)
               for i, s, r in zip(found.item_ids, found.scores, found.reasons, strict=True)],
        recommendation_id=found.recommendation_id,
    )
