"""Export of one user: their events in the log and the history the models query with."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from streamrec.engine.state import EngineState
from streamrec.storage.base import EventLog

_READ_BATCH = 10_000


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    item_id: str
    weight: float
    timestamp: float


@dataclass(frozen=True, slots=True)
class LoggedEventOut:
    offset: int
    event_id: str | None
    item_id: str
    type: str
    value: float | None
    timestamp: float
    context: dict[str, object] | None


@dataclass(frozen=True, slots=True)
class UserExport:
    """Everything held about one user: their events in the log, oldest first, and the recent
    history the models query with (at most ``events.history_length`` entries)."""

    events: list[LoggedEventOut]
    history: list[HistoryEntry]


def export_of(state: EngineState, event_log: EventLog, stored_id: str,
              sessions: Collection[str] = ()) -> UserExport:
    """The user's events and those of ``sessions`` (their merged sessions), from a scan of
    the whole log, and the user's history as the state holds it."""
    keys = {stored_id, *sessions}
    events: list[LoggedEventOut] = []
    after = 0
    while batch := event_log.read(after, _READ_BATCH):
        events.extend(
            LoggedEventOut(entry.offset, e.event_id, e.item_id, e.type, e.value, e.timestamp,
                           dict(e.context) if e.context is not None else None)
            for entry in batch if (e := entry.event).user_id in keys
        )
        after = batch[-1].offset
    with state.lock.reading():
        user = state.users.lookup(stored_id)
        if user is None:
            return UserExport(events, [])
        items, weights, times = state.histories.recent(user, state.history_length)
        item_ids = state.items.ids_of(items)
    history = [HistoryEntry(i, float(w), float(t)) for i, w, t in
               zip(item_ids, np.asarray(weights).tolist(), np.asarray(times).tolist(),
                   strict=True)]
    return UserExport(events, history)
