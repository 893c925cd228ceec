"""What was shown to whom, kept for a while: feedback for the ranker and paging.

In memory and bounded (oldest forgotten first): an impression is worth something for minutes
to hours, and losing it on restart only loses that feedback, never an event.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from streamrec.types import IntArray


@dataclass(frozen=True, slots=True)
class Impression:
    user_id: str
    items: IntArray  # this page, in the order shown
    shown_before: IntArray  # earlier pages of the same list (paging never repeats them)


class Impressions:
    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, Impression] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, recommendation_id: str, impression: Impression) -> None:
        with self._lock:
            self._entries[recommendation_id] = impression
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def get(self, recommendation_id: str) -> Impression | None:
        with self._lock:
            return self._entries.get(recommendation_id)
