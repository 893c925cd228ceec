"""An in-memory event log with the same contract as the SQLite one; for tests and evaluation."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from streamrec.storage.dedup import DEFAULT_DEDUP_WINDOW, DedupWindow
from streamrec.types import Appended, Event, LoggedEvent


class MemoryEventLog:
    def __init__(self, dedup_window: int = DEFAULT_DEDUP_WINDOW) -> None:
        self._events: list[LoggedEvent] = []
        self._ids = DedupWindow(dedup_window)  # as the other logs' (storage/dedup.py)
        self._next_offset = 1
        self._new_data = threading.Condition()

    def append(self, events: Sequence[Event]) -> Appended:
        offsets: list[int] = []
        with self._new_data:
            for event in events:
                if event.event_id is not None:
                    if event.event_id in self._ids:
                        continue
                    self._ids.add(event.event_id, event.user_id)
                self._events.append(LoggedEvent(self._next_offset, event))
                offsets.append(self._next_offset)
                self._next_offset += 1
            self._new_data.notify_all()
            return Appended(tuple(offsets), len(events) - len(offsets), self.last_offset())

    def read(self, after: int, limit: int) -> list[LoggedEvent]:
        # offsets increase with position, so bisect on them
        events = self._events
        low, high = 0, len(events)
        while low < high:
            middle = (low + high) // 2
            if events[middle].offset <= after:
                low = middle + 1
            else:
                high = middle
        return events[low : low + limit]

    @property
    def dedup_ids(self) -> DedupWindow | None:
        """The ids a re-sent event is compared with (storage/dedup.py)."""
        return self._ids

    def last_offset(self) -> int:
        return self._next_offset - 1

    def count(self) -> int:
        return len(self._events)

    def wait_for(self, after: int, timeout_s: float) -> bool:
        with self._new_data:
            return self._new_data.wait_for(lambda: self.last_offset() > after, timeout_s)

    def delete_user(self, user_id: str) -> int:
        with self._new_data:
            kept = [e for e in self._events if e.event.user_id != user_id]
            removed = len(self._events) - len(kept)
            self._ids.forget_owner(user_id)  # an erased event is gone: its id may come again
            self._events = kept
            return removed

    def close(self) -> None:
        pass
