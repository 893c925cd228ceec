"""Synthetic shop data with real structure, for the demo, tests, evaluation and benchmarks.

Items belong to categories and, within them, to collections of similar items; popularity is
Zipf-skewed within each category, drifts over time, and new items are released as time
passes. Users have Dirichlet tastes over categories that drift, and a few personal favourites.
They browse in sessions focused on one or two categories, where similar items co-occur, and
go down a funnel: view, click, cart, purchase. A recommender that learns tastes and
co-occurrence beats most-popular by a wide margin.

Everything is seeded: the same :class:`GeneratorConfig` gives the same items and events.
Events stream in time-ordered chunks; :func:`generate_event_arrays` is the columnar fast path
(millions of events a second), :func:`generate_events` the same as :class:`Event` objects.

>>> config = GeneratorConfig(n_users=50, n_items=100, n_categories=5, n_events=500, seed=7)
>>> events = [event for chunk in generate_events(config) for event in chunk]
>>> len(events), events[0].event_id, {event.type for event in events} <= set(EVENT_TYPES)
(500, 'e0', True)
"""

from streamrec.datagen.arrays import EVENT_TYPES, EventArrays
from streamrec.datagen.catalogue import SyntheticCatalogue, build_catalogue
from streamrec.datagen.config import GeneratorConfig
from streamrec.datagen.files import write_events, write_items
from streamrec.datagen.items import SHOP_CATEGORIES, generate_items
from streamrec.datagen.shifted import shift_to_end_at, shifted_events, shifted_items
from streamrec.datagen.stream import generate_event_arrays, generate_events, to_events
from streamrec.datagen.users import SyntheticUsers, build_users

__all__ = [
    "EVENT_TYPES",
    "EventArrays",
    "SHOP_CATEGORIES",
    "GeneratorConfig",
    "SyntheticCatalogue",
    "SyntheticUsers",
    "build_catalogue",
    "build_users",
    "generate_event_arrays",
    "generate_events",
    "generate_items",
    "shift_to_end_at",
    "shifted_events",
    "shifted_items",
    "to_events",
    "write_events",
    "write_items",
]
