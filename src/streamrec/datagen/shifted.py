"""Generated data moved in time, so that its newest event happens at a chosen moment: the
demo's shop ends now, so "popular now" means something on the day it is tried.

Every timestamp moves by the same number of seconds (events, items' ``released_at`` and
``updated_at``), so whatever was true of the data (no item used before its release, the
daily rhythm's shape, the order of events) stays true. Costs one extra pass of the fast
columnar generator to find the newest event.

>>> config = GeneratorConfig(n_users=20, n_items=40, n_categories=4, n_events=300)
>>> shift = shift_to_end_at(config, 1_800_000_000.0)
>>> events = [e for chunk in shifted_events(config, shift) for e in chunk]
>>> max(e.timestamp for e in events), events[0].event_id
(1800000000.0, None)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np

from streamrec.datagen.config import GeneratorConfig
from streamrec.datagen.items import generate_items
from streamrec.datagen.stream import generate_event_arrays, to_events
from streamrec.types import Event, Item


def shift_to_end_at(config: GeneratorConfig, end: float) -> float:
    """Seconds to add to every timestamp of ``config``'s data so its newest event is at
    ``end`` (whole milliseconds)."""
    newest = max((float(a.timestamps.max()) for a in generate_event_arrays(config)),
                 default=config.start_time + config.duration_s)
    return round(end - newest, 3)


def shifted_events(config: GeneratorConfig, shift: float) -> Iterator[list[Event]]:
    """``generate_events``, every timestamp plus ``shift``, and without event ids: the data
    is generated once, into an empty log, so nothing needs them to be stored once, and no id
    a person types (``e1``) is taken by it."""
    for arrays in generate_event_arrays(config):
        moved = dataclasses.replace(arrays, timestamps=np.round(arrays.timestamps + shift, 3))
        yield to_events(moved, event_ids=False)


def shifted_items(config: GeneratorConfig, shift: float) -> Iterator[list[Item]]:
    """``generate_items``, release and update times plus ``shift``."""
    for chunk in generate_items(config):
        yield [_moved(item, shift) for item in chunk]


def _moved(item: Item, shift: float) -> Item:
    released_at = round(float(item.attributes["released_at"]) + shift, 3)
    return dataclasses.replace(item, attributes={**item.attributes, "released_at": released_at},
                               updated_at=released_at)
