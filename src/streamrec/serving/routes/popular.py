"""What is popular now: globally, or per attribute value (a category's landing page)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from streamrec.events.validation import check_id
from streamrec.serving.auth import require
from streamrec.serving.deps import EngineDep
from streamrec.serving.list_options import LIST_RESPONSES, ListOptionsDep, recommendations_out
from streamrec.serving.schemas import (
    ActivityDayOut,
    ErrorOut,
    ItemActivityOut,
    RecommendationsOut,
)
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


@router.get("/history", response_model=ItemActivityOut, dependencies=[require(Scope.READ)],
            responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}})
def item_history(engine: EngineDep,
                 item_id: Annotated[str, Query(min_length=1, max_length=256)],
                 days: Annotated[int, Query(ge=1, le=366)] = 30) -> ItemActivityOut:
    """One item's popularity over time: its clients' events per UTC day (by type) over the
    last `days` days, counted in the log's newest 200,000 entries (`complete` says whether
    that was all of it). 404 for an unknown item."""
    check_id(item_id, "item_id")
    found, read, complete = engine.item_activity(item_id, days)
    return ItemActivityOut(item_id=item_id, read_entries=read, complete=complete,
                           days=[ActivityDayOut(day=d.day, events=d.events, by_type=d.by_type)
                                 for d in found])
