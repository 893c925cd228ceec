"""Rules every event obeys before it reaches the log, whatever door it came in by."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime

import orjson

from streamrec.errors import InvalidInput, Oversized
from streamrec.events.types import EventTypeConfig
from streamrec.types import Event

MAX_ID_LENGTH = 256
# events from before 1970 or after 2200 are certainly a unit mistake (ms given as seconds)
_MIN_TIMESTAMP, _MAX_TIMESTAMP = 0.0, 7258118400.0


def check_id(value: str, field: str) -> None:
    if not value or not value.strip():
        raise InvalidInput(field, f"{field} must be a non-empty string")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidInput(field, f"{field} is longer than {MAX_ID_LENGTH} characters")
    if any(ord(c) < 32 for c in value):
        raise InvalidInput(field, f"{field} must not contain control characters")


def parse_timestamp(value: float | str | None, field: str, now: float) -> float:
    """Unix seconds from a number or an ISO 8601 string; ``now`` when absent."""
    if value is None:
        return now
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(field, f"{field} is not unix seconds or ISO 8601") from None
        if parsed.tzinfo is None:
            raise InvalidInput(field, f"{field} needs a time zone (e.g. 'Z' or '+02:00')")
        seconds = parsed.timestamp()
    else:
        seconds = float(value)
    if not math.isfinite(seconds) or not _MIN_TIMESTAMP <= seconds <= _MAX_TIMESTAMP:
        raise InvalidInput(field, f"{field} must be unix seconds between 1970 and 2200")
    return seconds


def check_subject(event: Event, field: str) -> None:
    """Exactly one of ``user_id`` and ``session_id`` says who did it."""
    if event.session_id is None:
        if not event.user_id:
            raise InvalidInput(f"{field}.user_id",
                               f"{field} needs a user_id, or a session_id for an anonymous visitor")
        check_id(event.user_id, f"{field}.user_id")
        return
    if event.user_id:
        raise InvalidInput(f"{field}.session_id",
                           f"{field} has both a user_id and a session_id; give one of them (a "
                           "session is attached to its user by merging it, not by an event)")
    check_id(event.session_id, f"{field}.session_id")


def validate_event(
    event: Event, field: str, types: Mapping[str, EventTypeConfig]
) -> None:
    check_subject(event, field)
    check_id(event.item_id, f"{field}.item_id")
    if event.event_id is not None:
        check_id(event.event_id, f"{field}.event_id")
    config = types.get(event.type)
    if config is None:
        known = ", ".join(sorted(types))
        raise InvalidInput(f"{field}.type", f"unknown event type {event.type!r}; known: {known}")
    if event.value is not None and not math.isfinite(event.value):
        raise InvalidInput(f"{field}.value", f"{field}.value must be a finite number")
    if config.requires_value and event.value is None:
        raise InvalidInput(f"{field}.value", f"events of type {event.type!r} need a value")
    if not math.isfinite(event.timestamp):
        raise InvalidInput(f"{field}.timestamp", f"{field}.timestamp must be finite")
    if event.context:
        reserved = sorted(k for k in event.context if str(k).startswith("$"))
        if reserved:
            raise InvalidInput(f"{field}.context.{reserved[0]}",
                               f"{field}.context keys starting with '$' are reserved for the "
                               "engine")
        try:
            orjson.dumps(dict(event.context))
        except TypeError as error:
            raise InvalidInput(f"{field}.context", f"{field}.context cannot be stored: {error}"
                               ) from None


def validate_events(
    events: Sequence[Event], types: Mapping[str, EventTypeConfig], max_batch: int
) -> None:
    """Raise on the first bad event, naming it as ``events[i].field``; nothing is stored."""
    if len(events) > max_batch:
        raise Oversized(f"{len(events)} events in one request; the limit is {max_batch}",
                        field="events")
    for position, event in enumerate(events):
        validate_event(event, f"events[{position}]", types)
