"""Recommendations for a user."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from streamrec.errors import InvalidInput
from streamrec.ranking.rules import Condition, Rules, parse_condition
from streamrec.serving.auth import require
from streamrec.serving.deps import EngineDep
from streamrec.serving.schemas import ErrorOut, RecommendationsOut, RecommendedItem
from streamrec.trust.keys import Scope

router = APIRouter(prefix="/v1/users", tags=["users"])


def _boost(text: str, field: str) -> tuple[Condition, float]:
    condition, _, factor = text.rpartition(":")
    try:
        value = float(factor)
    except ValueError:
        raise InvalidInput(field, f"{field}: expected CONDITION:FACTOR, e.g. category=sale:1.5"
                           ) from None
    if not value > 0 or value == float("inf"):
        raise InvalidInput(field, f"{field}: the factor must be a positive finite number")
    return parse_condition(condition, field), value
UserId = Annotated[str, Path(min_length=1, max_length=256)]


@router.get("/{user_id}/recommendations", response_model=RecommendationsOut,
            dependencies=[require(Scope.READ)],
            responses={422: {"model": ErrorOut}})
def recommendations(
    user_id: UserId, engine: EngineDep,
    k: Annotated[int, Query(ge=1, le=500, description="How many items.")] = 10,
    exclude_seen: Annotated[bool, Query(description="Leave out items the user had.")] = True,
    exclude: Annotated[str | None, Query(max_length=10_000,
                                         description="Comma-separated item ids to leave out.")]
    = None,
    filter_: Annotated[list[str] | None, Query(
        alias="filter", description="Only items matching, e.g. category=shoes|bags, price<100")]
    = None,
    boost: Annotated[list[str] | None, Query(
        description="Multiply matching items' scores, e.g. category=sale:1.5")] = None,
    max_per_category: Annotated[int | None, Query(ge=1, description="Diversity.")] = None,
    after: Annotated[str | None, Query(
        max_length=64, description="A recommendation_id: the next page of that list.")] = None,
) -> RecommendationsOut:
    """Top-``k`` items for the user, best first, each with a score and reasons. An unknown
    user gets popular items (never an error)."""
    if k > engine.settings.serving.max_k:
        raise InvalidInput("k", f"k must be at most {engine.settings.serving.max_k}")
    excluded = [i for i in exclude.split(",") if i] if exclude else []
    rules = Rules(
        filters=tuple(parse_condition(f, f"filter[{n}]") for n, f in enumerate(filter_ or [])),
        boosts=tuple(_boost(b, f"boost[{n}]") for n, b in enumerate(boost or [])),
        max_per_category=max_per_category,
    )
    found = engine.recommend(user_id, k, exclude_seen=exclude_seen, exclude_ids=excluded,
                             rules=rules, after=after)
    return RecommendationsOut(
        items=[RecommendedItem(item_id=i, score=s, reasons=r)
               for i, s, r in zip(found.item_ids, found.scores, found.reasons, strict=True)],
        recommendation_id=found.recommendation_id,
    )
