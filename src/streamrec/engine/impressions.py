"""What was shown to whom, kept for a while: feedback for the ranker and paging.

In memory and bounded (oldest forgotten first; ``serving.impressions_kept``, ~0.45 KiB each
for a page of 10): an impression is worth something for minutes to hours, and losing it on
restart only loses that feedback, never an event.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from streamrec.types import IntArray

_NOTHING: IntArray = np.zeros(0, dtype=np.int64)
_NOTHING.flags.writeable = False


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

    def __len__(self) -> int:
        return len(self._entries)

    def remember(self, recommendation_id: str, impression: Impression) -> None:
        # compact copies: a page is a slice of the whole ranked candidate list, which would
        # otherwise stay alive with it (2.4 KiB per impression in the soak instead of 0.45)
        impression = Impression(
            impression.user_id, np.array(impression.items, dtype=np.int64),
            np.array(impression.shown_before, dtype=np.int64)
            if impression.shown_before.size else _NOTHING)
        with self._lock:
            self._entries[recommendation_id] = impression
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def get(self, recommendation_id: str) -> Impression | None:
        with self._lock:
            return self._entries.get(recommendation_id)
