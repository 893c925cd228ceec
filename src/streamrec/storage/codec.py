"""Row <-> Event conversion shared by the SQL-backed stores."""

from __future__ import annotations

from typing import Any

import orjson

from streamrec.types import Event, LoggedEvent

EventRow = tuple[str | None, str, str, str, float | None, float, bytes | None]


def event_to_row(event: Event) -> EventRow:
    context = orjson.dumps(dict(event.context)) if event.context else None
    return (
        event.event_id,
        event.user_id,
        event.item_id,
        event.type,
        event.value,
        event.timestamp,
        context,
    )


def row_to_logged(row: tuple[Any, ...]) -> LoggedEvent:
    offset, event_id, user_id, item_id, type_, value, timestamp, context = row
    return LoggedEvent(
        offset=int(offset),
        event=Event(
            user_id=user_id,
            item_id=item_id,
            type=type_,
            timestamp=float(timestamp),
            value=None if value is None else float(value),
            event_id=event_id,
            context=orjson.loads(context) if context else None,
        ),
    )
