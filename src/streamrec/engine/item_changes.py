"""Catalogue changes in the log, so that the items a state knows are a function of the log.

An upsert (``POST /v1/items``, ``PUT /v1/items/{id}``, ``streamrec import items``, the demo)
is written as one control event, ``$items``, carrying every item of the call in its context
(id, attributes, text, availability, ``updated_at``); the learner applies it in its place in
the log, so items get their dense index in log order and every later event is learned on the
catalogue as it was then. One event per call, not per item: the content model vectorises the
items of one upsert together (engine/state.py ``apply_items``), and a replay must meet the
same groups whatever batches it reads the log in.

The catalogue database stays the queryable current view (``GET /v1/items``); the engine
writes it first, then the log, so it is never behind the log. An item in the catalogue that
the log does not hold in that version (a data dir from before items were logged, or a crash
between the two writes) is appended once at start (``Engine._log_unlogged_items``).

Like every control event, it has an empty ``user_id``, which no client event can have, so
erasing a user never touches it.

>>> event = items_event([Item("i1", {"genre": "jazz"}, "So What", False, 5.0)], 6.0)
>>> is_item_change(event), items_of(event)
(True, [Item(item_id='i1', attributes={'genre': 'jazz'}, text='So What', is_available=False, \
updated_at=5.0)])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from streamrec.types import Event, Item

ITEMS_TYPE = "$items"


def items_event(items: Sequence[Item], timestamp: float) -> Event:
    """The log entry that upserts ``items``, in this order."""
    return Event(user_id="", item_id="", type=ITEMS_TYPE, timestamp=timestamp,
                 context={"items": [_fields(item) for item in items]})


def is_item_change(event: Event) -> bool:
    return event.type == ITEMS_TYPE


def items_of(event: Event) -> list[Item]:
    """The items an ``$items`` event upserts, in its order."""
    return [Item(str(fields["item_id"]), dict(fields["attributes"]), str(fields["text"]),
                 bool(fields["available"]), float(fields["updated_at"]))
            for fields in (event.context or {}).get("items", [])]


def _fields(item: Item) -> dict[str, Any]:
    return {"item_id": item.item_id, "attributes": dict(item.attributes), "text": item.text,
            "available": item.is_available, "updated_at": item.updated_at}
