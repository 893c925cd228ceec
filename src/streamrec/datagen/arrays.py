"""Generated events as columns: the fast path that never builds one Python object per event."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from streamrec.types import FloatArray, IntArray

EVENT_TYPES: tuple[str, ...] = ("view", "click", "cart", "purchase", "rating")
VIEW, CLICK, CART, PURCHASE, RATING = range(len(EVENT_TYPES))

TypeCodes = npt.NDArray[np.int8]


@dataclass(frozen=True, slots=True)
class EventArrays:
    """Events in time order, one row per event; all arrays the same length.

    Row ``k`` is event ``"e{offset + k}"`` by user ``"u{users[k]}"`` on item ``"i{items[k]}"``
    of type ``type_names[types[k]]``. ``values`` is NaN for events without a value (all but
    ratings). ``sessions`` numbers the browsing session each event belongs to: ground truth for
    evaluation, not part of the written files.
    """

    users: IntArray
    items: IntArray
    types: TypeCodes
    timestamps: FloatArray  # unix seconds, whole milliseconds, non-decreasing
    values: FloatArray
    sessions: IntArray
    offset: int = 0  # position of the first row in the whole generated stream
    type_names: tuple[str, ...] = EVENT_TYPES

    def __len__(self) -> int:
        return int(self.users.shape[0])

    def rows(self, start: int, stop: int | None = None) -> EventArrays:
        """Rows ``[start, stop)`` as views of these arrays; offset follows the first row."""
        window = slice(start, stop)
        return EventArrays(
            users=self.users[window],
            items=self.items[window],
            types=self.types[window],
            timestamps=self.timestamps[window],
            values=self.values[window],
            sessions=self.sessions[window],
            offset=self.offset + start,
            type_names=self.type_names,
        )

    def take(self, index: IntArray) -> EventArrays:
        """The rows at ``index``, in that order (a copy); offset unchanged."""
        return EventArrays(
            users=self.users[index],
            items=self.items[index],
            types=self.types[index],
            timestamps=self.timestamps[index],
            values=self.values[index],
            sessions=self.sessions[index],
            offset=self.offset,
            type_names=self.type_names,
        )

    @staticmethod
    def empty() -> EventArrays:
        nothing = np.zeros(0, dtype=np.int64)
        return EventArrays(
            nothing, nothing, np.zeros(0, np.int8), np.zeros(0), np.zeros(0), nothing
        )

    @staticmethod
    def concatenate(parts: Sequence[EventArrays], offset: int = 0) -> EventArrays:
        """The rows of ``parts`` one after another (no reordering)."""
        if not parts:
            return EventArrays.empty()
        return EventArrays(
            users=np.concatenate([part.users for part in parts]),
            items=np.concatenate([part.items for part in parts]),
            types=np.concatenate([part.types for part in parts]),
            timestamps=np.concatenate([part.timestamps for part in parts]),
            values=np.concatenate([part.values for part in parts]),
            sessions=np.concatenate([part.sessions for part in parts]),
            offset=offset,
            type_names=parts[0].type_names,
        )
