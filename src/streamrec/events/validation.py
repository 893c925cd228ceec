"""Rules every event obeys before it reaches the log, whatever door it came in by."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime

from streamrec.errors import InvalidInput, Oversized
from streamrec.events.types import EventTypeConfig
from streamrec.types import Event, Item

MAX_ID_LENGTH = 256
MAX_EVENT_VALUE = 1e9  # a rating, a duration, an amount; beyond it a weight swamps every model
MAX_JSON_DEPTH = 32  # of event context and item attributes
_MIN_INT, _MAX_INT = -(2**63), 2**63 - 1
# events from before 1970 or after 2200 are certainly a unit mistake (ms given as seconds)
_MIN_TIMESTAMP, _MAX_TIMESTAMP = 0.0, 7258118400.0


# what no id may hold: control characters (C0, DEL, C1), lone surrogates, line and paragraph
# separators. An id travels in URL paths and logs: these would be invisible or break lines.
REFUSED_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
# GET /v1/items/{id}/similar is told from GET /v1/items/{id} by this ending
_ROUTE_SUFFIX = "/similar"


def id_problem(value: str) -> str | None:
    """What is wrong with ``value`` as an id (user, session, item, event), or None. The one
    rule, wherever an id comes in (bodies, paths, query parameters, imports): every id it
    accepts can be sent back in a URL path, percent-encoded, and reach its routes."""
    if not value or not value.strip():
        return "must be a non-empty string"
    if len(value) > MAX_ID_LENGTH:
        return f"is longer than {MAX_ID_LENGTH} characters"
    bad = REFUSED_CHARACTERS.search(value)
    if bad is not None:
        return (f"must not contain control characters or line separators (found "
                f"U+{ord(bad.group()):04X})")
    if value in (".", ".."):
        return "must not be '.' or '..' (URL paths drop them)"
    if value.endswith(_ROUTE_SUFFIX):
        return f"must not end in {_ROUTE_SUFFIX!r} (GET /v1/items/{{id}}{_ROUTE_SUFFIX} is a route)"
    return None


def check_id(value: str, field: str) -> None:
    problem = id_problem(value)
    if problem is not None:
        raise InvalidInput(field, f"{field} {problem}")


def check_json_value(value: object, field: str, depth: int = 0) -> None:
    """Free-form JSON (event context, item attributes) as the stores can keep it: objects with
    string keys, arrays, strings, booleans, null, finite numbers, integers within 64 bits,
    nested at most ``MAX_JSON_DEPTH`` levels. Raises naming the first bad value's path
    (``events[0].context.price``)."""
    if depth > MAX_JSON_DEPTH:
        raise InvalidInput(field, f"{field} is nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, dict):
        for key, inner in value.items():
            if not isinstance(key, str):
                raise InvalidInput(field, f"{field} has a key that is not a string: {key!r}")
            check_json_value(inner, f"{field}.{key}", depth + 1)
    elif isinstance(value, list | tuple):
        for position, inner in enumerate(value):
            check_json_value(inner, f"{field}[{position}]", depth + 1)
    elif isinstance(value, bool) or value is None or isinstance(value, str):
        return
    elif isinstance(value, int):
        if not _MIN_INT <= value <= _MAX_INT:
            raise InvalidInput(field, f"{field} is an integer beyond 64 bits; send it as a "
                               "string or a float")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(field, f"{field} must be a finite number (not NaN or Infinity)")
    else:
        raise InvalidInput(field, f"{field} holds a {type(value).__name__}, not a JSON value")


def validate_item(item: Item, field: str) -> None:
    """An item as the catalogue keeps it: its id by the id rule, its attributes as JSON the
    store can keep. ``field`` prefixes the names in errors (``items[3]``; "" for one item)."""
    prefix = f"{field}." if field else ""
    check_id(item.item_id, f"{prefix}item_id")
    check_json_value(dict(item.attributes), f"{prefix}attributes")


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
    if event.value is not None and not (math.isfinite(event.value)
                                        and abs(event.value) <= MAX_EVENT_VALUE):
        raise InvalidInput(f"{field}.value", f"{field}.value must be a finite number between "
                           f"-{MAX_EVENT_VALUE:g} and {MAX_EVENT_VALUE:g}")
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
        check_json_value(dict(event.context), f"{field}.context")


def validate_events(
    events: Sequence[Event], types: Mapping[str, EventTypeConfig], max_batch: int
) -> None:
    """Raise on the first bad event, naming it as ``events[i].field``; nothing is stored."""
    if len(events) > max_batch:
        raise Oversized(f"{len(events)} events in one request; the limit is {max_batch}",
                        field="events")
    for position, event in enumerate(events):
        validate_event(event, f"events[{position}]", types)
