"""Values shared across the package.

String ids live at the edges (API, log, catalogue); models see dense ints from the engine's
vocabularies. Batches are columnar so that models can vectorise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

EMPTY_INTS: IntArray = np.zeros(0, dtype=np.int64)
EMPTY_FLOATS: FloatArray = np.zeros(0, dtype=np.float64)


class Event(NamedTuple):
    """One thing a user did to an item, as the log stores it (validated, ids as strings).

    An anonymous visitor's event names a ``session_id`` instead, with ``user_id`` empty; the
    engine stores it under the session's key in ``user_id`` (``session_id`` is then None).

    A named tuple, as ``LoggedEvent``: immutable like the frozen dataclasses they were, at
    half their making cost (a frozen dataclass sets each field through
    ``object.__setattr__``: ~3.3 us of eight fields here, ~1.5 as a tuple). An event is
    made by validation, again when keyed under a pseudonym, and again when the learner
    reads it back from the log (with its ``LoggedEvent``): a few us of an ingested event's
    ~120 on this machine. Change one with ``_replace``."""

    user_id: str
    item_id: str
    type: str
    timestamp: float  # unix seconds
    value: float | None = None
    event_id: str | None = None
    context: Mapping[str, Any] | None = None
    session_id: str | None = None


class LoggedEvent(NamedTuple):
    """An event with its position in the log; offsets strictly increase."""

    offset: int
    event: Event


@dataclass(frozen=True, slots=True)
class Appended:
    """What an append made durable: offsets of newly stored events, and how many were repeats."""

    offsets: tuple[int, ...]
    duplicates: int
    last_offset: int

    @property
    def accepted(self) -> int:
        return len(self.offsets)


@dataclass(frozen=True, slots=True)
class Item:
    item_id: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    text: str = ""
    is_available: bool = True
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class EventBatch:
    """Columnar events for the models: all arrays the same length, in log order."""

    users: IntArray
    items: IntArray
    weights: FloatArray  # type weight x value; negative for declared negative types
    timestamps: FloatArray  # unix seconds

    def __len__(self) -> int:
        return int(self.users.shape[0])


@dataclass(frozen=True, slots=True)
class Query:
    user: int | None  # None: an unknown user, served from popularity
    history: IntArray  # recent items, newest last
    exclude: IntArray
    now: float
    # same length as history when given: what each recent event weighed, and when it was
    history_weights: FloatArray = field(default_factory=lambda: EMPTY_FLOATS)
    history_times: FloatArray = field(default_factory=lambda: EMPTY_FLOATS)


@dataclass(frozen=True, slots=True)
class Candidates:
    items: IntArray  # best first
    scores: FloatArray
    because: IntArray | None = None  # the item that brought each one in, -1 when none

    def __len__(self) -> int:
        return int(self.items.shape[0])

    @staticmethod
    def empty() -> Candidates:
        return Candidates(EMPTY_INTS, EMPTY_FLOATS, None)
