"""Anonymous sessions and the users they turn out to be.

A session's events are stored under its session key (``trust/pseudonyms.py``); to the models
a session is a user like any other, so it gets recommendations from its first event. When the
visitor logs in, a *merge* is logged, itself an event: ``Event(user_id=<session key>,
item_id=<user key>, type=MERGE_TYPE)``. Learning it, in log order (so a replay, with or
without a snapshot, rebuilds the same state), moves the session's history and per-user model
state to the user, and every later event of the session is learned as the user's.

A session belongs to at most one user: the first merge in the log wins (the engine refuses a
second one). Stored under the session, the merge is erased with it; erasing the user finds
their sessions by the merges that name them (``merged_sessions``) and erases those too.

>>> identities = Identities()
>>> identities.learn(merge_event("s", "alice", 0.0))
True
>>> identities.resolve("s"), identities.resolve("bob")
('alice', 'bob')
>>> identities.learn(merge_event("s", "bob", 1.0))  # already alice's
False
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from streamrec.storage.base import EventLog
from streamrec.text_arrays import text_array
from streamrec.types import Event, LoggedEvent

# event types declared in settings may not start with "$": a client cannot send this one
MERGE_TYPE = "$merge"
_READ_BATCH = 10_000


def merge_event(session_key: str, user_key: str, timestamp: float) -> Event:
    """The log entry saying that the session ``session_key`` is the user ``user_key``."""
    return Event(user_id=session_key, item_id=user_key, type=MERGE_TYPE, timestamp=timestamp)


def is_merge(event: Event) -> bool:
    return event.type == MERGE_TYPE


class Identities:
    """Which user each merged session is (stored keys on both sides)."""

    def __init__(self) -> None:
        self._owners: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._owners)

    def owner(self, session_key: str) -> str | None:
        return self._owners.get(session_key)

    def sessions(self) -> list[str]:
        """The keys of every merged session."""
        return list(self._owners)

    def resolve(self, key: str) -> str:
        """The user a key stands for: a merged session's user, else the key itself."""
        return self._owners.get(key, key)

    def resolve_events(self, logged: Sequence[LoggedEvent]) -> Sequence[LoggedEvent]:
        """The events with each merged session's key replaced by its user's."""
        owners = self._owners
        if not owners:
            return logged
        return [entry if entry.event.user_id not in owners else
                LoggedEvent(entry.offset, entry.event._replace(
                    user_id=owners[entry.event.user_id]))
                for entry in logged]

    def learn(self, merge: Event) -> bool:
        """Take note of a merge; False when the session already had a user (first wins)."""
        if merge.user_id in self._owners:
            return False
        self._owners[merge.user_id] = merge.item_id
        return True

    def state(self) -> dict[str, np.ndarray]:
        sessions = sorted(self._owners)
        return {"sessions": text_array(sessions),
                "users": text_array([self._owners[s] for s in sessions])}

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        self._owners = dict(zip(state["sessions"].tolist(), state["users"].tolist(),
                                strict=True))


def merged_sessions(event_log: EventLog, user_key: str) -> list[str]:
    """Keys of every session the log merges into ``user_key``. Scans the whole log."""
    sessions: list[str] = []
    after = 0
    while batch := event_log.read(after, _READ_BATCH):
        sessions.extend(entry.event.user_id for entry in batch
                        if is_merge(entry.event) and entry.event.item_id == user_key)
        after = batch[-1].offset
    return sessions
