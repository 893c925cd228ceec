"""What was shown to whom, kept for a while: feedback for the ranker and paging.

An impression is one page of a list: the list as it was made (item ids, scores and reasons,
to ``serving.list_depth`` positions, shared by all its pages) and which positions this page
showed. Keyed by item ids, never by the engine's process-local indices, so an impression
outlives a rebuild of the state (an erasure) and can later live in a store shared by
replicas (``redis://``, to come). The protocol is kept narrow for that.

``memory:`` is bounded (oldest forgotten first; ``serving.impressions_kept``, ~1.4 KiB each
for a list of 30): an impression is worth something for minutes to hours, and losing it on
restart only loses that feedback and paging, never an event.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from streamrec.errors import InvalidInput
from streamrec.types import FloatArray


@dataclass(frozen=True, slots=True)
class RankedList:
    """A list as it was made, best first, to the depth kept for paging."""

    item_ids: tuple[str, ...]
    scores: FloatArray
    reasons: tuple[tuple[str, ...], ...]

    def __len__(self) -> int:
        return len(self.item_ids)


@dataclass(frozen=True, slots=True)
class Impression:
    """Positions ``[start, end)`` of ``ranked`` were shown to ``user_key`` (the key the
    engine stores for a user or session), in ``variant`` of ``experiment`` when one ran."""

    user_key: str
    ranked: RankedList
    start: int
    end: int
    experiment: str | None = None
    variant: str | None = None

    @property
    def shown(self) -> tuple[str, ...]:
        return self.ranked.item_ids[self.start:self.end]


class ImpressionStore(Protocol):
    def remember(self, recommendation_id: str, impression: Impression) -> None: ...

    def get(self, recommendation_id: str) -> Impression | None:
        """None when unknown or already forgotten."""
        ...

    def forget_user(self, user_key: str) -> int:
        """Forget every impression shown to ``user_key``; returns how many."""
        ...

    def first_outcome(self, recommendation_id: str, event_type: str) -> bool:
        """Whether this is the first event of ``event_type`` on the list, noting it (an
        experiment's rates count lists with at least one)."""
        ...

    def unmark_outcome(self, recommendation_id: str, event_type: str) -> None:
        """Undo ``first_outcome``'s note: the event it was for was not stored."""
        ...


class MemoryImpressions:
    """The newest ``capacity`` impressions of this process."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, Impression] = OrderedDict()
        self._outcomes: dict[str, set[str]] = {}  # event types seen on a list, by its id
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def remember(self, recommendation_id: str, impression: Impression) -> None:
        with self._lock:
            self._entries[recommendation_id] = impression
            while len(self._entries) > self.capacity:
                forgotten, _ = self._entries.popitem(last=False)
                self._outcomes.pop(forgotten, None)

    def get(self, recommendation_id: str) -> Impression | None:
        with self._lock:
            return self._entries.get(recommendation_id)

    def forget_user(self, user_key: str) -> int:
        # a scan: erasures are rare and cost a replay of the log anyway
        with self._lock:
            gone = [r for r, i in self._entries.items() if i.user_key == user_key]
            for recommendation_id in gone:
                del self._entries[recommendation_id]
                self._outcomes.pop(recommendation_id, None)
        return len(gone)

    def first_outcome(self, recommendation_id: str, event_type: str) -> bool:
        with self._lock:
            if recommendation_id not in self._entries:
                return False
            seen = self._outcomes.setdefault(recommendation_id, set())
            if event_type in seen:
                return False
            seen.add(event_type)
            return True

    def unmark_outcome(self, recommendation_id: str, event_type: str) -> None:
        with self._lock:
            self._outcomes.get(recommendation_id, set()).discard(event_type)


def ranked_list(item_ids: list[str], scores: FloatArray,
                reasons: list[list[str]]) -> RankedList:
    """A compact ``RankedList``: equal reasons share one tuple (most lists repeat a few)."""
    shared: dict[tuple[str, ...], tuple[str, ...]] = {}
    kept = tuple(shared.setdefault(tuple(r), tuple(r)) for r in reasons)
    return RankedList(tuple(item_ids), np.array(scores, dtype=np.float64), kept)


def open_impressions(url: str, capacity: int) -> ImpressionStore:
    """``memory:`` (default): this process's own, the newest ``capacity`` kept."""
    if url == "memory:":
        return MemoryImpressions(capacity)
    raise InvalidInput("serving.impressions_url", f"unsupported impression store URL {url!r} "
                       "(supported: memory:)")
