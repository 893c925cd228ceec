"""The query parameters of a recommendation list, a user's or an anonymous session's alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query

from streamrec.engine.engine import Engine
from streamrec.engine.recommender import Recommendation
from streamrec.errors import InvalidInput
from streamrec.events.validation import check_id
from streamrec.ranking.rules import Condition, Rules, parse_condition
from streamrec.serving.deps import EngineDep
from streamrec.serving.schemas import ErrorOut, RecommendationsOut, RecommendedItem
from streamrec.types import Item

ITEM_FIELDS = ("title", "attributes", "text", "available")


@dataclass(frozen=True, slots=True)
class ListOptions:
    k: int
    exclude_seen: bool
    exclude_ids: list[str]
    rules: Rules
    after: str | None
    fields: tuple[str, ...] = ()

    def keywords(self) -> dict[str, Any]:
        """Everything but ``k`` and ``fields``, as ``Engine.recommend`` takes it."""
        return {"exclude_seen": self.exclude_seen, "exclude_ids": self.exclude_ids,
                "rules": self.rules, "after": self.after}


def parse_fields(text: str | None) -> tuple[str, ...]:
    """``fields=title,attributes``: the catalogue's data to include with each listed item."""
    fields = tuple(dict.fromkeys(f.strip() for f in (text or "").split(",") if f.strip()))
    unknown = [f for f in fields if f not in ITEM_FIELDS]
    if unknown:
        raise InvalidInput("fields", f"fields: unknown {', '.join(map(repr, unknown))}; "
                           f"choose from {', '.join(ITEM_FIELDS)}")
    return fields


FieldsQuery = Annotated[str | None, Query(
    max_length=200, description="Comma-separated catalogue data to include with each item, "
    "so a client needs no call per item: title (the title attribute), attributes, text, "
    "available. Items the catalogue does not hold get empty attributes and text.")]


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
    k: Annotated[int, Query(ge=1, le=500, description="How many items (at most "
                            "serving.max_k).")] = 10,
    exclude_seen: Annotated[bool, Query(
        description="Leave out items the user engaged with (false: keep them; what they "
        "disliked or returned stays out).")] = True,
    exclude: Annotated[str | None, Query(
        max_length=10_000, description="Comma-separated item ids to leave out.")] = None,
    filter_: Annotated[list[str] | None, Query(
        alias="filter", description="Only items matching, repeatable (all must match): "
        "ATTRIBUTE=V1|V2 (any of), !=, <, <=, >, >= on numbers, e.g. category=shoes|bags, "
        "price<100; a list-valued attribute matches when any value does. An attribute no "
        "item has is named in warnings.")] = None,
    boost: Annotated[list[str] | None, Query(
        description="CONDITION:FACTOR, repeatable: matching items' scores are multiplied by "
        "FACTOR (> 0; below 1 pushes down) and the list re-sorted, e.g. tags=sale:1.5.")]
    = None,
    max_per_category: Annotated[int | None, Query(
        ge=1, description="Diversity: at most this many items per value of the diversity_by "
        "attribute; the list is still filled to k from further down when enough items "
        "exist.")] = None,
    diversity_by: Annotated[str | None, Query(
        min_length=1, max_length=256, description="The attribute max_per_category counts. "
        "Default: category when items have it, else the categorical attribute most items have "
        "(e.g. genres). A list-valued attribute counts an item toward each of its values; an "
        "item without the attribute is limited by no group.")] = None,
    after: Annotated[str | None, Query(
        max_length=64, description="The recommendation_id of a page shown to this user: the "
        "next k items of that same list, as it was made (its filters, boosts, diversity, "
        "scores and reasons; other options given with it are not applied again, as warnings "
        "say), to "
        "serving.list_depth positions (default 30) or the first page's k; an empty list "
        "past its end. Unknown or forgotten: 404.")] = None,
    fields: FieldsQuery = None,
) -> ListOptions:
    if k > engine.settings.serving.max_k:
        raise InvalidInput("k", f"k must be at most {engine.settings.serving.max_k}")
    rules = Rules(
        filters=tuple(parse_condition(f, f"filter[{n}]") for n, f in enumerate(filter_ or [])),
        boosts=tuple(_boost(b, f"boost[{n}]") for n, b in enumerate(boost or [])),
        max_per_category=max_per_category,
        diversity_by=diversity_by,
    )
    excluded = [i for i in exclude.split(",") if i] if exclude else []
    for position, item_id in enumerate(excluded):
        check_id(item_id, f"exclude[{position}]")
    if after is not None:
        check_id(after, "after")
    return ListOptions(k, exclude_seen, excluded, rules, after, parse_fields(fields))


ListOptionsDep = Annotated[ListOptions, Depends(list_options)]
# what a route taking the list options may answer besides 200
LIST_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "after= names no list shown to this user or "
          "session: unknown, or forgotten (the newest serving.impressions_kept are kept)."},
    422: {"model": ErrorOut},
}


def recommendations_out(found: Recommendation, engine: Engine,
                        fields: tuple[str, ...] = ()) -> RecommendationsOut:
    # experiment and variant only when one ran: absent from other lists' answers
    shown_in = {} if found.experiment is None else {"experiment": found.experiment,
                                                    "variant": found.variant}
    return RecommendationsOut(items=listed_items(found, engine, fields),
                              recommendation_id=found.recommendation_id,
                              warnings=found.warnings, **shown_in)


def listed_items(found: Recommendation, engine: Engine,
                 fields: tuple[str, ...]) -> list[RecommendedItem]:
    """The items of a list, each with the catalogue data ``fields`` asks for."""
    listed = []
    for item_id, score, reasons in zip(found.item_ids, found.scores, found.reasons,
                                       strict=True):
        extra: dict[str, Any] = {}
        if fields:
            item = engine.get_item(item_id, must_exist=False) or Item(item_id)
            title = item.attributes.get("title")
            known = {"title": title if isinstance(title, str) else None,
                     "attributes": dict(item.attributes), "text": item.text,
                     "available": item.is_available}
            extra = {f: known[f] for f in fields}
        listed.append(RecommendedItem(item_id=item_id, score=score, reasons=reasons, **extra))
    return listed
