"""POST /v1/events: validated, durable, learned, then acknowledged."""

from __future__ import annotations

import time

from fastapi import APIRouter

from streamrec.events.validation import parse_timestamp
from streamrec.serving.auth import require
from streamrec.serving.consistency import token_of
from streamrec.serving.deps import EngineDep
from streamrec.serving.json_body import StrictJsonRoute
from streamrec.serving.schemas import AppendedOut, ErrorOut, EventsIn
from streamrec.trust.keys import Scope
from streamrec.types import Event

router = APIRouter(prefix="/v1", tags=["events"], route_class=StrictJsonRoute)


@router.post("/events", response_model=AppendedOut, dependencies=[require(Scope.INGEST)],
             responses={413: {"model": ErrorOut}, 422: {"model": ErrorOut},
                        503: {"model": ErrorOut}})
def post_events(body: EventsIn, engine: EngineDep) -> AppendedOut:
    """Store events; answers once they are durable and learned (a following read sees them).

    Each event names exactly one of `user_id` and `session_id` (an anonymous visitor).
    A repeated `event_id` is reported in `duplicates` and not stored again. If any event
    is invalid, none of the request is stored."""
    now = time.time()
    events = [
        Event(
            user_id=e.user_id or "", item_id=e.item_id, type=e.type, value=e.value,
            timestamp=parse_timestamp(e.timestamp, f"events[{i}].timestamp", now),
            event_id=e.event_id, context=e.context, session_id=e.session_id,
        )
        for i, e in enumerate(body.events)
    ]
    appended = engine.ingest(events)
    return AppendedOut(accepted=appended.accepted, duplicates=appended.duplicates,
                       last_offset=appended.last_offset, token=token_of(appended.last_offset))
