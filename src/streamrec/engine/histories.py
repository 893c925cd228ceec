"""What each user did, in order: recent items for queries, every item for exclude-seen."""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from streamrec.types import EventBatch, FloatArray, IntArray


@dataclass(slots=True)
class _History:
    items: array[int] = field(default_factory=lambda: array("q"))
    weights: array[float] = field(default_factory=lambda: array("d"))
    times: array[float] = field(default_factory=lambda: array("d"))


class UserHistories:
    def __init__(self) -> None:
        self._users: dict[int, _History] = {}

    def __len__(self) -> int:
        return len(self._users)

    def learn(self, batch: EventBatch) -> None:
        users = self._users
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
        """Every item the user had an event with, sorted, each once."""
        history = self._users.get(user)
        if history is None:
            return np.zeros(0, np.int64)
        return np.unique(np.frombuffer(history.items, dtype=np.int64))

    def has_seen(self, user: int, item: int) -> bool:
        """Whether the user had an event with ``item`` (a C-level scan, no array built)."""
        history = self._users.get(user)
        return history is not None and item in history.items

    def event_count(self, user: int) -> int:
        history = self._users.get(user)
        return 0 if history is None else len(history.items)

    def forget(self, user: int) -> None:
        self._users.pop(user, None)

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

    def state(self) -> dict[str, np.ndarray]:
        users = np.array(sorted(self._users), dtype=np.int64)
        lengths = [len(self._users[u].items) for u in users.tolist()]
        indptr = np.zeros(users.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])

        def flat(name: str, dtype: type) -> np.ndarray:
            parts: list[np.ndarray] = [np.frombuffer(getattr(self._users[u], name), dtype=dtype)
                     for u in users.tolist()]
            return np.concatenate(parts) if parts else np.zeros(0, dtype)

        return {
            "users": users, "indptr": indptr, "items": flat("items", np.int64),
            "weights": flat("weights", np.float64), "times": flat("times", np.float64),
        }

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        indptr = state["indptr"]
        self._users = {}
        for position, user in enumerate(state["users"].tolist()):
            start, end = int(indptr[position]), int(indptr[position + 1])
            self._users[user] = _History(
                array("q", state["items"][start:end].tolist()),
                array("d", state["weights"][start:end].tolist()),
                array("d", state["times"][start:end].tolist()),
            )
