"""What each user did, in order: recent items for queries, every item for exclude-seen.

Bounded per user by ``keep`` (``events.history_length``): once a history grows past ``keep``
plus a quarter, its oldest events leave it and only their items stay, in a sorted set of
distinct items (``older``), so exclude-seen still covers everything the user ever touched.
A user then holds at most ~1.25 x ``keep`` events (24 bytes each) and 8 bytes per distinct
older item: in a world of bounded users and items, histories stop growing. Queries and
exports read the last ``keep`` events at most, so they see the same as with every event kept.
Trimming happens at fixed lengths, per event, so the state does not depend on batching.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streamrec.types import EventBatch, FloatArray, IntArray

_NO_ITEMS: IntArray = np.zeros(0, dtype=np.int64)
_NO_ITEMS.flags.writeable = False


@dataclass(slots=True)
class _History:
    items: array[int] = field(default_factory=lambda: array("q"))
    weights: array[float] = field(default_factory=lambda: array("d"))
    times: array[float] = field(default_factory=lambda: array("d"))
    # the distinct items of the events trimmed off, sorted; and how many events those were
    older: IntArray = field(default_factory=lambda: _NO_ITEMS)
    trimmed: int = 0


class UserHistories:
    def __init__(self, keep: int | None = None) -> None:
        """``keep``: recent events kept per user (None: every event)."""
        self._users: dict[int, _History] = {}
        self.keep = keep
        # trim in steps of a quarter: amortised O(1) per event
        self._limit = None if keep is None else keep + max(16, keep // 4)

    def __len__(self) -> int:
        return len(self._users)

    def learn(self, batch: EventBatch) -> None:
        users, limit = self._users, self._limit
        for user, item, weight, time in zip(
            batch.users.tolist(), batch.items.tolist(), batch.weights.tolist(),
            batch.timestamps.tolist(), strict=True,
        ):
            history = users.get(user)
            if history is None:
                history = users[user] = _History()
            history.items.append(item)
            history.weights.append(weight)
            history.times.append(time)
            if limit is not None and len(history.items) > limit:
                self._trim(history)

    def _trim(self, history: _History) -> None:
        """Drop all but the last ``keep`` events; their items join ``older``."""
        assert self.keep is not None
        cut = len(history.items) - self.keep
        if cut <= 0:
            return
        history.older = np.union1d(history.older,
                                   np.frombuffer(history.items, dtype=np.int64)[:cut])
        # slices are new arrays, sized to what is kept
        history.items = history.items[cut:]
        history.weights = history.weights[cut:]
        history.times = history.times[cut:]
        history.trimmed += cut

    def recent(self, user: int, n: int) -> tuple[IntArray, FloatArray, FloatArray]:
        """The user's last ``n`` events (items, weights, times), oldest first."""
        history = self._users.get(user)
        if history is None:
            return np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
        start = max(0, len(history.items) - n)
        return (
            np.frombuffer(history.items, dtype=np.int64)[start:].copy(),
            np.frombuffer(history.weights, dtype=np.float64)[start:].copy(),
            np.frombuffer(history.times, dtype=np.float64)[start:].copy(),
        )

    def seen(self, user: int) -> IntArray:
        """Every item the user had an event with, sorted, each once (trimmed events too)."""
        history = self._users.get(user)
        if history is None:
            return np.zeros(0, np.int64)
        recent = np.frombuffer(history.items, dtype=np.int64)
        if history.older.size == 0:
            return np.unique(recent)
        return np.union1d(history.older, recent)

    def has_seen(self, user: int, item: int) -> bool:
        """Whether the user had an event with ``item`` (a C-level scan of the kept events,
        a binary search of the trimmed ones; no array built)."""
        history = self._users.get(user)
        if history is None:
            return False
        if item in history.items:
            return True
        older = history.older
        if older.size == 0:
            return False
        at = int(older.searchsorted(item))
        return at < older.size and int(older[at]) == item

    def event_count(self, user: int) -> int:
        """Every event the user had, trimmed ones included."""
        history = self._users.get(user)
        return 0 if history is None else history.trimmed + len(history.items)

    def merge(self, source: int, target: int) -> None:
        """Move ``source``'s events into ``target``'s history, in time order (events at the
        same second: ``target``'s first); ``source`` is left with none."""
        moved = self._users.pop(source, None)
        if moved is None:
            return
        kept = self._users.setdefault(target, _History())
        times = np.concatenate((np.frombuffer(kept.times), np.frombuffer(moved.times)))
        order = np.argsort(times, kind="stable")
        for name, code in (("items", "q"), ("weights", "d"), ("times", "d")):
            joined = np.concatenate((np.frombuffer(getattr(kept, name), dtype=code),
                                     np.frombuffer(getattr(moved, name), dtype=code)))
            setattr(kept, name, array(code, joined[order].tobytes()))
        if moved.older.size:
            kept.older = np.union1d(kept.older, moved.older)
        kept.trimmed += moved.trimmed
        if self._limit is not None and len(kept.items) > self._limit:
            self._trim(kept)

    def budgets(self) -> dict[str, dict[str, Any]]:
        """The kept events against ``events.history_length`` (``engine/sizes.py``), and the
        items of trimmed events, bounded by the catalogue only (one int64 per distinct item
        a user ever touched, for exclude-seen)."""
        kept = [len(h.items) for h in self._users.values()]
        older = [h.older.size for h in self._users.values()]
        return {
            "histories.events": {
                "setting": "events.history_length", "budget": self.keep, "per": "user",
                "count": len(kept), "largest": max(kept, default=0), "most": self._limit,
                "bytes": 24 * sum(kept),
                "most_bytes": None if self._limit is None else 24 * self._limit * len(kept)},
            "histories.older_items": {
                "setting": None, "budget": None, "per": "user", "count": len(older),
                "largest": max(older, default=0), "most": None, "bytes": 8 * sum(older),
                "most_bytes": None},
        }

    def state(self) -> dict[str, np.ndarray]:
        users = np.array(sorted(self._users), dtype=np.int64)
        histories = [self._users[u] for u in users.tolist()]

        def offsets(lengths: list[int]) -> np.ndarray:
            indptr = np.zeros(users.size + 1, dtype=np.int64)
            np.cumsum(lengths, out=indptr[1:])
            return indptr

        def flat(name: str, dtype: type) -> np.ndarray:
            parts: list[np.ndarray] = [np.frombuffer(getattr(h, name), dtype=dtype)
                                       for h in histories]
            return np.concatenate(parts) if parts else np.zeros(0, dtype)

        return {
            "users": users, "indptr": offsets([len(h.items) for h in histories]),
            "items": flat("items", np.int64), "weights": flat("weights", np.float64),
            "times": flat("times", np.float64),
            "older_indptr": offsets([h.older.size for h in histories]),
            "older_items": flat("older", np.int64),
            "trimmed": np.array([h.trimmed for h in histories], dtype=np.int64),
        }

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        """From ``state``; one saved before histories were bounded has no ``older`` (every
        event was kept): trimmed to ``keep`` here."""
        indptr = state["indptr"].tolist()
        older_indptr = state.get("older_indptr")
        # as bytes: array("q", bytes) copies them, no Python int per event
        items = np.ascontiguousarray(state["items"], dtype=np.int64)
        weights = np.ascontiguousarray(state["weights"], dtype=np.float64)
        times = np.ascontiguousarray(state["times"], dtype=np.float64)
        self._users = {}
        for position, user in enumerate(state["users"].tolist()):
            start, end = int(indptr[position]), int(indptr[position + 1])
            history = _History(
                array("q", items[start:end].tobytes()),
                array("d", weights[start:end].tobytes()),
                array("d", times[start:end].tobytes()),
            )
            if older_indptr is not None:
                begin, stop = int(older_indptr[position]), int(older_indptr[position + 1])
                if stop > begin:
                    history.older = np.array(state["older_items"][begin:stop], dtype=np.int64)
                history.trimmed = int(state["trimmed"][position])
            if self._limit is not None and len(history.items) > self._limit:
                self._trim(history)
            self._users[user] = history
