"""An event log as dense columns: what every protocol replays and every model is fed.

Built once per run. Dense ids are handed out in replay order (a user's or item's index is the
position of its first event among all users or items), so arrays indexed by them only grow as
the stream goes on. The original string ids stay beside them for adapters that speak strings
(streamrec itself, over HTTP or in process).
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from streamrec.events.types import EventTypeConfig, default_event_types, event_weight
from streamrec.types import Event, EventBatch, FloatArray, IntArray


@dataclass(frozen=True, slots=True)
class DenseEvents:
    """Events in replay order: by timestamp, ties kept in file order. All columns the same
    length; ``user_ids``, ``item_ids`` and ``type_names`` are shared (never copied) by slices.

    ``weights`` are the engine's weights (type weight x value, negative for negative types),
    ``values`` is NaN where an event has none.

    >>> events = DenseEvents.from_events([Event("ann", "tea", "view", 2.0),
    ...                                   Event("bob", "tea", "purchase", 1.0)])
    >>> events.users.tolist(), events.item_ids, events.weights.tolist()
    ([0, 1], ('tea',), [8.0, 1.0])
    """

    users: IntArray
    items: IntArray
    timestamps: FloatArray  # unix seconds
    weights: FloatArray
    types: IntArray  # index into type_names
    values: FloatArray
    user_ids: tuple[str, ...]
    item_ids: tuple[str, ...]
    type_names: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.users.shape[0])

    @property
    def n_users(self) -> int:
        """Users in the whole log this one was cut from (not only in this slice)."""
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def slice(self, start: int, stop: int) -> DenseEvents:
        """Events at positions ``[start, stop)``: views, no copy."""
        window = slice(start, stop)
        return self._with_rows(window)

    def take(self, positions: IntArray) -> DenseEvents:
        """Events at ``positions``, in that order (a copy)."""
        return self._with_rows(positions)

    def _with_rows(self, rows: builtins.slice | IntArray) -> DenseEvents:
        return DenseEvents(
            self.users[rows], self.items[rows], self.timestamps[rows], self.weights[rows],
            self.types[rows], self.values[rows], self.user_ids, self.item_ids, self.type_names,
        )

    def batch(self) -> EventBatch:
        """The same events as the engine's columnar batch."""
        return EventBatch(self.users, self.items, self.weights, self.timestamps)

    def event(self, position: int) -> Event:
        """One event with its original string ids, as the engine's log stores it."""
        value = float(self.values[position])
        return Event(
            user_id=self.user_ids[int(self.users[position])],
            item_id=self.item_ids[int(self.items[position])],
            type=self.type_names[int(self.types[position])],
            timestamp=float(self.timestamps[position]),
            value=None if math.isnan(value) else value,
        )

    @classmethod
    def from_events(
        cls, events: Iterable[Event], types: Mapping[str, EventTypeConfig] | None = None
    ) -> DenseEvents:
        """Sort by timestamp (stable: ties keep their order) and give dense ids.

        Event types unknown to ``types`` (default: the engine's defaults) weigh 1.0."""
        ordered = sorted(events, key=lambda event: event.timestamp)
        types = default_event_types() if types is None else types
        return cls.from_columns(
            [e.user_id for e in ordered], [e.item_id for e in ordered],
            np.array([e.timestamp for e in ordered], dtype=np.float64),
            [e.type for e in ordered],
            np.array([np.nan if e.value is None else e.value for e in ordered], dtype=np.float64),
            types, is_sorted=True,
        )

    @classmethod
    def from_columns(
        cls, user_ids: Sequence[str], item_ids: Sequence[str], timestamps: FloatArray,
        type_names: Sequence[str], values: FloatArray,
        types: Mapping[str, EventTypeConfig] | None = None, *, is_sorted: bool = False,
    ) -> DenseEvents:
        """Build from one string per event for users, items and types (any order unless
        ``is_sorted``); the result is in replay order with dense ids."""
        order = np.argsort(timestamps, kind="stable") if not is_sorted else None
        users, user_vocabulary = _dense(user_ids, order)
        items, item_vocabulary = _dense(item_ids, order)
        kinds, kind_vocabulary = _dense(type_names, order)
        if order is not None:
            timestamps, values = timestamps[order], values[order]
        types = default_event_types() if types is None else types
        weights = weigh(kinds, values, kind_vocabulary, types)
        return cls(users, items, np.asarray(timestamps, dtype=np.float64), weights, kinds,
                   np.asarray(values, dtype=np.float64), user_vocabulary, item_vocabulary,
                   kind_vocabulary)


def weigh(kinds: IntArray, values: FloatArray, names: Sequence[str],
          types: Mapping[str, EventTypeConfig]) -> FloatArray:
    """The engine's weight of every event (unknown types weigh 1.0, as a plain event)."""
    weights = np.ones(kinds.shape[0], dtype=np.float64)
    for code, name in enumerate(names):
        config = types.get(name)
        if config is None:
            continue
        chosen = kinds == code
        if config.uses_value:
            given = chosen & ~np.isnan(values)
            weights[given] = config.weight * (values[given] - config.neutral_value)
            weights[chosen & ~given] = event_weight(config, None)
        else:
            weights[chosen] = event_weight(config, None)
    return weights


def _dense(ids: Sequence[str], order: IntArray | None) -> tuple[IntArray, tuple[str, ...]]:
    """Dense indices in first-seen order (after reordering by ``order``) and the vocabulary."""
    index: dict[str, int] = {}
    sequence = ids if order is None else [ids[i] for i in order.tolist()]
    dense = np.fromiter((index.setdefault(i, len(index)) for i in sequence),
                        dtype=np.int64, count=len(sequence))
    return dense, tuple(index)
