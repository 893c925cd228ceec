"""The query parameters of a recommendation list, a user's or an anonymous session's alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query

from streamrec.engine.recommender import Recommendation
from streamrec.errors import InvalidInput
from streamrec.ranking.rules import Condition, Rules, parse_condition
from streamrec.serving.deps import EngineDep
from streamrec.serving.schemas import ErrorOut, RecommendationsOut, RecommendedItem


@dataclass(frozen=True, slots=True)
class ListOptions:
    k: int
    exclude_seen: bool
    exclude_ids: list[str]
    rules: Rules
    after: str | None

    def keywords(self) -> dict[str, Any]:
        """Everything but ``k``, as ``Engine.recommend`` takes it."""
        return {"exclude_seen": self.exclude_seen, "exclude_ids": self.exclude_ids,
                "rules": self.rules, "after": self.after}


def _boost(text: str, field: str) -> tuple[Condition, float]:
    condition, _, factor = text.rpartition(":")
    try:
        value = float(factor)
    except ValueError:
        raise InvalidInput(field, f"{field}: expected CONDITION:FACTOR, e.g. tags=sale:1.5"
                           ) from None
    if not value > 0 or value == float("inf"):
        raise InvalidInput(field, f"{field}: the factor must be a positive finite number")
    return parse_condition(condition, field), value


def list_options(
    engine: EngineDep,
    k: Annotated[int, Query(ge=1, le=500, description="How many items.")] = 10,
    exclude_seen: Annotated[bool, Query(description="Leave out items the user had.")] = True,
    exclude: Annotated[str | None, Query(max_length=10_000,
                                         description="Comma-separated item ids to leave out.")]
    = None,
    filter_: Annotated[list[str] | None, Query(
        alias="filter", description="Only items matching, e.g. category=shoes|bags, price<100")]
    = None,
    boost: Annotated[list[str] | None, Query(
        description="Multiply matching items' scores, e.g. tags=sale:1.5")] = None,
    max_per_category: Annotated[int | None, Query(ge=1, description="Diversity.")] = None,
    after: Annotated[str | None, Query(
        max_length=64, description="The recommendation_id of a page shown to this user: the "
        "next k items of that same list, as it was made (its filters, boosts, diversity, "
        "scores and reasons; the other options given here are not applied again), to "
        "serving.list_depth positions (default 30) or the first page's k; an empty list "
        "past its end. Unknown or forgotten: 404.")] = None,
) -> ListOptions:
    if k > engine.settings.serving.max_k:
        raise InvalidInput("k", f"k must be at most {engine.settings.serving.max_k}")
    rules = Rules(
        filters=tuple(parse_condition(f, f"filter[{n}]") for n, f in enumerate(filter_ or [])),
        boosts=tuple(_boost(b, f"boost[{n}]") for n, b in enumerate(boost or [])),
        max_per_category=max_per_category,
    )
    excluded = [i for i in exclude.split(",") if i] if exclude else []
    return ListOptions(k, exclude_seen, excluded, rules, after)


ListOptionsDep = Annotated[ListOptions, Depends(list_options)]
# what a route taking the list options may answer besides 200
LIST_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "``after`` names no list shown to this user or "
          "session: unknown, or forgotten (the newest serving.impressions_kept are kept)."},
    422: {"model": ErrorOut},
}


def recommendations_out(found: Recommendation) -> RecommendationsOut:
    return RecommendationsOut(
        items=[RecommendedItem(item_id=i, score=s, reasons=r)
               for i, s, r in zip(found.item_ids, found.scores, found.reasons, strict=True)],
        recommendation_id=found.recommendation_id,
    )
