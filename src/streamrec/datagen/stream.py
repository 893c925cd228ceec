"""The generated event stream: blocks of sessions merged into one time-ordered stream of chunks.

Sessions overlap, so a block's late events may come after the next block's first events. Each
block's events wait in a pending buffer until the next block's first start: no later session
can produce anything earlier, so everything before it is final and goes out in time order.
Memory stays bounded by a block and the sessions still open, whatever ``n_events`` is.

>>> config = GeneratorConfig(n_users=20, n_items=50, n_categories=3, n_events=1_000)
>>> chunks = list(generate_event_arrays(config.model_copy(update={"chunk_size": 400})))
>>> [len(chunk) for chunk in chunks], [chunk.offset for chunk in chunks]
([400, 400, 200], [0, 400, 800])
>>> next(generate_events(config))[0].event_id
'e0'
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from streamrec.datagen.arrays import EventArrays
from streamrec.datagen.arrivals import session_starts
from streamrec.datagen.catalogue import build_catalogue
from streamrec.datagen.config import GeneratorConfig
from streamrec.datagen.popularity import Popularity
from streamrec.datagen.sessions import World, generate_sessions
from streamrec.datagen.users import build_users
from streamrec.types import Event

_STREAM = 4  # this module's own random stream, so other modules' draws never shift it


def generate_event_arrays(config: GeneratorConfig) -> Iterator[EventArrays]:
    """Exactly ``n_events`` events as columns, in chunks of ``chunk_size`` (the last may be
    shorter), timestamps non-decreasing across chunks. Identical for the same configuration.

    Builds the catalogue and users first (O(n_items + n_users * n_categories)), then costs
    O(n_events) in numpy work with no Python object per event.
    """
    if config.n_events == 0:
        return
    held: list[EventArrays] = []
    n_held = 0
    emitted = 0
    for ordered in _ordered_blocks(config):
        part = ordered.rows(0, config.n_events - emitted - n_held)
        held.append(part)
        n_held += len(part)
        while n_held >= config.chunk_size or (n_held > 0 and emitted + n_held == config.n_events):
            joined = EventArrays.concatenate(held, offset=emitted)
            chunk = joined.rows(0, config.chunk_size)
            yield chunk
            emitted += len(chunk)
            rest = joined.rows(len(chunk))
            held, n_held = [rest], len(rest)
        if emitted == config.n_events:
            return


def generate_events(config: GeneratorConfig) -> Iterator[list[Event]]:
    """The same events as :func:`generate_event_arrays`, as :class:`Event` objects, chunk by
    chunk: ids ``"u{n}"``, ``"i{n}"`` and ``"e{n}"`` (n counts events from 0 in time order)."""
    for arrays in generate_event_arrays(config):
        yield to_events(arrays)


def to_events(arrays: EventArrays, *, event_ids: bool = True) -> list[Event]:
    """One :class:`Event` per row; ``value`` is None where the row has none; ``event_id``
    ``"e{n}"``, or None without ``event_ids``."""
    names = arrays.type_names
    values = [None if np.isnan(value) else value for value in arrays.values.tolist()]
    return [
        Event(
            user_id=f"u{user}",
            item_id=f"i{item}",
            type=names[kind],
            timestamp=timestamp,
            value=value,
            event_id=f"e{number}" if event_ids else None,
        )
        for number, user, item, kind, timestamp, value in zip(
            range(arrays.offset, arrays.offset + len(arrays)),
            arrays.users.tolist(),
            arrays.items.tolist(),
            arrays.types.tolist(),
            arrays.timestamps.tolist(),
            values,
            strict=True,
        )
    ]


def _ordered_blocks(config: GeneratorConfig) -> Iterator[EventArrays]:
    """Endless time-ordered runs of events; each run starts no earlier than the last ended."""
    catalogue = build_catalogue(config)
    users = build_users(config, catalogue)
    world = World(config, catalogue, users, Popularity(catalogue, config))
    rng = np.random.default_rng((config.seed, _STREAM))
    arrivals = session_starts(config)
    starts = next(arrivals)
    first_session = 0
    pending = EventArrays.empty()
    while True:
        upcoming = next(arrivals)
        block = generate_sessions(world, starts, first_session, rng)
        first_session += len(starts)
        merged = EventArrays.concatenate([pending, block])
        merged = merged.take(np.argsort(merged.timestamps, kind="stable"))
        # every later session starts at or after upcoming[0]: what is earlier is final
        final = int(np.searchsorted(merged.timestamps, upcoming[0], side="left"))
        yield merged.rows(0, final)
        pending = merged.rows(final)
        starts = upcoming
