"""What each user did, in order: recent items for queries, every item for exclude-seen.

Bounded per user by ``keep`` (``events.history_length``): once a history grows past ``keep``
plus a quarter, its oldest events leave it and only their items stay, in a sorted set of
distinct items (``older``), so exclude-seen still covers everything the user ever touched.
A user then holds at most ~1.25 x ``keep`` events (24 bytes each) and 8 bytes per distinct
older item: in a world of bounded users and items, histories stop growing. Queries and
exports read the last ``keep`` events at most, so they see the same as with every event kept.
Trimming happens at fixed lengths, per event, so the state does not depend on batching.

Histories as a snapshot holds them (flat arrays, one slice per user) are read in place: a
restart builds no per-user object (at 200,000 users that was seconds of every restart), and
a user's history becomes a ``_History`` only when the learner first changes it. Each
snapshot's ``state`` takes the place of both again, so what was copied out since the last
one is not held twice for long. It puts each user's slice in place compiled (numba,
``compiled.py``), outside the interpreter's lock: the learner waits for a snapshot's copies.
At 176,000 users and 12.6M events, 144,000 of them changed, numpy's gathers and scatters
through index arrays (three of 100 MiB at a time) took 0.98-1.04 s, the kernel 0.73-0.90 s
(most of the rest is the new arrays' first touch and joining the changed histories).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import numpy as np

from streamrec.models.change_log import ByChanges, ChangeLog
from streamrec.models.compiled import Kernels
from streamrec.types import EMPTY_INTS, EventBatch, FloatArray, IntArray

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


@dataclass(frozen=True, slots=True)
class _Stored:
    """Histories as ``UserHistories.state`` gives them, read in place; never changed but
    for ``row_of``, in which the learner marks a user it takes out (``_take``)."""

    users: IntArray  # sorted: the user of each row
    # by user index (users are a vocabulary's dense indices): their row, -1 for a user not
    # here or taken out. An array, not a dict: building a dict of 200,000 users held the
    # interpreter's lock ~40 ms in every snapshot's capture, and reads waited on it
    row_of: IntArray
    indptr: IntArray
    items: IntArray
    weights: FloatArray
    times: FloatArray
    older_indptr: IntArray
    older_items: IntArray
    trimmed: IntArray

    @classmethod
    def of(cls, state: Mapping[str, np.ndarray]) -> _Stored:
        users = np.asarray(state["users"], dtype=np.int64)
        older_indptr = state.get("older_indptr")
        row_of = np.full(int(users[-1]) + 1 if users.size else 0, -1, dtype=np.int64)
        row_of[users] = np.arange(users.size, dtype=np.int64)
        return cls(
            users, row_of,
            np.asarray(state["indptr"], dtype=np.int64),
            np.asarray(state["items"], dtype=np.int64),
            np.asarray(state["weights"], dtype=np.float64),
            np.asarray(state["times"], dtype=np.float64),
            # a snapshot from before histories were bounded: nothing trimmed
            np.zeros(users.size + 1, dtype=np.int64) if older_indptr is None
            else np.asarray(older_indptr, dtype=np.int64),
            np.asarray(state.get("older_items", _NO_ITEMS), dtype=np.int64),
            np.zeros(users.size, dtype=np.int64) if older_indptr is None
            else np.asarray(state["trimmed"], dtype=np.int64))

    def row(self, user: int) -> int:
        """The user's row, -1 if their history is not here."""
        return int(self.row_of[user]) if user < self.row_of.shape[0] else -1

    def rows(self) -> IntArray:
        """The rows of the users not taken out, in order."""
        return np.flatnonzero(self.row_of[self.users] >= 0)

    def events(self, row: int) -> tuple[int, int]:
        return int(self.indptr[row]), int(self.indptr[row + 1])

    def older(self, row: int) -> IntArray:
        return self.older_items[int(self.older_indptr[row]):int(self.older_indptr[row + 1])]

    def history(self, row: int) -> _History:
        """A user's events, copied out into a history of their own."""
        start, end = self.events(row)
        older = self.older(row)
        return _History(array("q", self.items[start:end].tobytes()),
                        array("d", self.weights[start:end].tobytes()),
                        array("d", self.times[start:end].tobytes()),
                        older.copy() if older.size else _NO_ITEMS, int(self.trimmed[row]))


# no stored histories (before any snapshot or restore): what ``before`` reads then
_NO_STORED = _Stored.of({"users": _NO_ITEMS, "indptr": np.zeros(1, dtype=np.int64),
                         "items": _NO_ITEMS, "weights": np.zeros(0), "times": np.zeros(0)})


def _place_kernel(out_indptr: IntArray, from_own: IntArray, own_indptr: IntArray,
                  own: np.ndarray, from_stored: IntArray, stored_rows: IntArray,
                  stored_indptr: IntArray, stored: np.ndarray, out: np.ndarray) -> None:
    """Each user's values into their slice of ``out`` (``out_indptr``): the n-th changed
    history's (``own`` by ``own_indptr``) to the user at ``from_own[n]``, the stored row
    ``stored_rows[n]``'s to the user at ``from_stored[n]``."""
    for n in range(from_own.shape[0]):
        start, end = own_indptr[n], own_indptr[n + 1]
        at = out_indptr[from_own[n]]
        out[at:at + end - start] = own[start:end]
    for n in range(from_stored.shape[0]):
        row = stored_rows[n]
        start, end = stored_indptr[row], stored_indptr[row + 1]
        at = out_indptr[from_stored[n]]
        out[at:at + end - start] = stored[start:end]


def _holds(items: IntArray, start: int, end: int, older: IntArray, older_start: int,
           older_end: int, item: int) -> bool:
    """Whether ``item`` is among ``items[start:end]`` or the sorted ``older[older_start:
    older_end]``."""
    for at in range(start, end):
        if items[at] == item:
            return True
    low, high = older_start, older_end
    while low < high:
        middle = (low + high) // 2
        if older[middle] < item:
            low = middle + 1
        else:
            high = middle
    return low < older_end and older[low] == item


def _before_kernel(users: IntArray, items: IntArray, slots: IntArray, own_indptr: IntArray,
                   own_items: IntArray, own_older_indptr: IntArray, own_older: IntArray,
                   own_trimmed: IntArray, row_of: IntArray, indptr: IntArray,
                   stored_items: IntArray, older_indptr: IntArray, older_items: IntArray,
                   trimmed: IntArray, had: np.ndarray, seen: np.ndarray) -> None:
    """``had``/``seen`` of ``UserHistories.before``: pair ``k``'s user is the ``slots[k]``-th
    changed history (flattened as ``own_*``), or when -1 their stored row, if any."""
    for k in range(users.shape[0]):
        slot, item = slots[k], items[k]
        if slot >= 0:
            start, end = own_indptr[slot], own_indptr[slot + 1]
            had[k] = own_trimmed[slot] + end - start > 0
            seen[k] = item >= 0 and _holds(own_items, start, end, own_older,
                                           own_older_indptr[slot],
                                           own_older_indptr[slot + 1], item)
            continue
        user = users[k]
        row = row_of[user] if 0 <= user < row_of.shape[0] else -1
        if row < 0:
            continue
        start, end = indptr[row], indptr[row + 1]
        had[k] = trimmed[row] + end - start > 0
        seen[k] = item >= 0 and _holds(stored_items, start, end, older_items,
                                       older_indptr[row], older_indptr[row + 1], item)


@dataclass(frozen=True, slots=True)
class _Compiled:
    place: Callable[..., None]
    before: Callable[..., None]


def _make(jit: Callable[[Callable[..., Any]], Any]) -> _Compiled:
    return _Compiled(jit(_place_kernel), jit(_before_kernel))


def warm_up() -> None:
    """The kernels for the arrays a state holds (int64 items, float64 weights and times)."""
    histories = UserHistories(2)
    for user in (1, 0, 1, 2):  # a stored user changed, one not, one new
        histories.learn(EventBatch(np.array([user]), np.array([user]), np.ones(1),
                                   np.ones(1)))
        histories.before(np.array([user, 3]), np.array([0, -1]))
        histories.state()


_KERNELS: Kernels[_Compiled] = Kernels("histories", globals(), _make, helpers=("_holds",),
                                       warm_up=warm_up)


def compile_kernels() -> None:
    _KERNELS.get()


_MERGE, _FORGET = 1.0, 2.0  # the changes besides events a capture's log holds
# what ``state`` gives, each array of a base a capture kept
_STATE_KEYS = ("users", "indptr", "items", "weights", "times", "older_indptr", "older_items",
               "trimmed")


def _no_changes() -> ChangeLog:
    """What histories were given since their base: events (user, item, weight, time, in log
    order), and between them merges (source and target) and forgets (the users)."""
    return ChangeLog((("users", np.int64), ("items", np.int64), ("weights", np.float64),
                      ("times", np.float64)), "ids", frozenset({_MERGE, _FORGET}))


class UserHistories:
    def __init__(self, keep: int | None = None) -> None:
        """``keep``: recent events kept per user (None: every event)."""
        self._users: dict[int, _History] = {}  # users the learner changed since ``_stored``
        self._stored: _Stored | None = None  # the others, as the last state or restore had them
        self.keep = keep
        # the last base a capture gave, and what histories were given since (models/
        # change_log.py): histories are a function of their events, merges and forgets in
        # order (trims fall at fixed lengths), so a restore gives those again on the base
        self._by_changes = ByChanges(_no_changes())
        # trim in steps of a quarter: amortised O(1) per event
        self._limit = None if keep is None else keep + max(16, keep // 4)

    def __len__(self) -> int:
        return len(self._users) + (0 if self._stored is None else self._stored.rows().size)

    def _stored_row(self, user: int) -> tuple[_Stored, int] | None:
        """The stored arrays and the user's row in them, when their history is still there.
        Readers side by side read ``_stored`` once: a snapshot's ``state`` may replace it
        meanwhile (rows are only removed under the writer's lock)."""
        stored = self._stored
        row = -1 if stored is None else stored.row(user)
        return None if stored is None or row < 0 else (stored, row)

    def _take(self, user: int) -> _History | None:
        """The learner is about to change the user's history: it becomes their own, out of
        ``_stored``."""
        history = self._users.get(user)
        if history is None and self._stored is not None:
            row = self._stored.row(user)
            if row >= 0:
                history = self._users[user] = self._stored.history(row)
                self._stored.row_of[user] = -1
        return history

    def learn(self, batch: EventBatch) -> None:
        if (log := self._by_changes.log) is not None:
            log.add(batch.users, batch.items, batch.weights, batch.timestamps)
            self._by_changes.keep_in_bounds()
        users, limit = self._users, self._limit
        for user, item, weight, time in zip(
            batch.users.tolist(), batch.items.tolist(), batch.weights.tolist(),
            batch.timestamps.tolist(), strict=True,
        ):
            history = users.get(user)
            if history is None:
                history = self._take(user)
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
            found = self._stored_row(user)
            if found is None:
                return np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
            stored, row = found
            first, end = stored.events(row)
            first = max(first, end - n)
            return (stored.items[first:end].copy(), stored.weights[first:end].copy(),
                    stored.times[first:end].copy())
        start = max(0, len(history.items) - n)
        return (
            np.frombuffer(history.items, dtype=np.int64)[start:].copy(),
            np.frombuffer(history.weights, dtype=np.float64)[start:].copy(),
            np.frombuffer(history.times, dtype=np.float64)[start:].copy(),
        )

    def seen(self, user: int) -> IntArray:
        """Every item the user had an event with, sorted, each once (trimmed events too)."""
        history = self._users.get(user)
        if history is not None:
            recent, older = np.frombuffer(history.items, dtype=np.int64), history.older
        else:
            found = self._stored_row(user)
            if found is None:
                return np.zeros(0, np.int64)
            stored, row = found
            start, end = stored.events(row)
            recent, older = stored.items[start:end], stored.older(row)
        if older.size == 0:
            return np.unique(recent)
        return np.union1d(older, recent)

    def has_seen(self, user: int, item: int) -> bool:
        """Whether the user had an event with ``item`` (a C-level scan of the kept events,
        a binary search of the trimmed ones; no array built)."""
        history = self._users.get(user)
        if history is not None:
            if item in history.items:
                return True
            older = history.older
        else:
            found = self._stored_row(user)
            if found is None:
                return False
            stored, row = found
            start, end = stored.events(row)
            if bool((stored.items[start:end] == item).any()):
                return True
            older = stored.older(row)
        if older.size == 0:
            return False
        at = int(older.searchsorted(item))
        return at < older.size and int(older[at]) == item

    def before(self, users: IntArray, items: IntArray) -> tuple[np.ndarray, np.ndarray]:
        """For each pair, whether the user had any event (``event_count > 0``) and whether
        they had one with the item (``has_seen``; -1: an item never seen), as two boolean
        arrays: a batch's questions at once, compiled. The learner asks it of every event
        (the ranker's eligibility, engine/state.py): one at a time, the Python calls and
        numpy slices were a quarter of ``apply``'s samples at 10M events (py-spy)."""
        users = np.ascontiguousarray(users, dtype=np.int64)
        items = np.ascontiguousarray(items, dtype=np.int64)
        slots = np.full(users.size, -1, dtype=np.int64)
        changed: dict[int, int] = {}  # user -> their slot among ``histories``
        histories: list[_History] = []
        own = self._users
        for k, user in enumerate(users.tolist()):
            history = own.get(user)
            if history is not None:
                slot = changed.get(user)
                if slot is None:
                    slot = changed[user] = len(histories)
                    histories.append(history)
                slots[k] = slot
        stored = self._stored if self._stored is not None else _NO_STORED
        had = np.zeros(users.size, dtype=bool)
        seen = np.zeros(users.size, dtype=bool)
        _KERNELS.get().before(
            users, items, slots, _indptr(_each(histories, "items", len)),
            UserHistories._flat(histories, "items", np.int64),
            _indptr(_each(histories, "older.size")),
            UserHistories._flat(histories, "older", np.int64), _each(histories, "trimmed"),
            stored.row_of, stored.indptr, stored.items, stored.older_indptr,
            stored.older_items, stored.trimmed, had, seen)
        return had, seen

    def event_count(self, user: int) -> int:
        """Every event the user had, trimmed ones included."""
        history = self._users.get(user)
        if history is not None:
            return history.trimmed + len(history.items)
        found = self._stored_row(user)
        if found is None:
            return 0
        stored, row = found
        start, end = stored.events(row)
        return int(stored.trimmed[row]) + end - start

    def merge(self, source: int, target: int) -> None:
        """Move ``source``'s events into ``target``'s history, in time order (events at the
        same second: ``target``'s first); ``source`` is left with none."""
        if (log := self._by_changes.log) is not None:
            log.op_with_ids(_MERGE, np.array([source, target], dtype=np.int64))
        moved = self._take(source)
        if moved is None:
            return
        del self._users[source]
        kept = self._take(target)
        if kept is None:
            kept = self._users[target] = _History()
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

    def forget_users(self, users: IntArray) -> None:
        """These users have no history any more (engine/forgetting.py)."""
        if (log := self._by_changes.log) is not None:
            log.op_with_ids(_FORGET, users)
            self._by_changes.keep_in_bounds()
        for user in users.tolist():
            self._users.pop(user, None)
        stored = self._stored
        if stored is not None:
            stored.row_of[users[users < stored.row_of.shape[0]]] = -1

    def budgets(self) -> dict[str, dict[str, Any]]:
        """The kept events against ``events.history_length`` (``engine/sizes.py``), and the
        items of trimmed events, bounded by the catalogue only (one int64 per distinct item
        a user ever touched, for exclude-seen)."""
        kept = [len(h.items) for h in self._users.values()]
        older = [h.older.size for h in self._users.values()]
        stored = self._stored
        if stored is not None and (rows := stored.rows()).size:
            kept += np.diff(stored.indptr)[rows].tolist()
            older += np.diff(stored.older_indptr)[rows].tolist()
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
        """Flat arrays, users sorted. They also take the place of ``_stored`` and of the
        histories changed since (``_users``), which are dropped: one copy, not two. Readers
        side by side see the user in one or the other (``_stored`` is replaced first), and
        the arrays are never changed in place, so the caller may keep them."""
        stored, changed = self._stored, self._users
        stored_rows = EMPTY_INTS if stored is None else stored.rows()
        if not changed and stored is not None and stored_rows.size == stored.users.size:
            return self._arrays_of(stored)
        if stored is None or not stored_rows.size:  # every history is its own: in order of user
            users = np.array(sorted(changed), dtype=np.int64)
            ordered = [changed[user] for user in users.tolist()]
            result = {"users": users, "indptr": _indptr(_each(ordered, "items", len)),
                      "items": self._flat(ordered, "items", np.int64),
                      "weights": self._flat(ordered, "weights", np.float64),
                      "times": self._flat(ordered, "times", np.float64),
                      "older_indptr": _indptr(_each(ordered, "older.size")),
                      "older_items": self._flat(ordered, "older", np.int64),
                      "trimmed": _each(ordered, "trimmed")}
        else:
            result = self._merged(stored, stored_rows, changed)
        self._stored = _Stored.of(result)
        self._users = {}
        return self._arrays_of(self._stored)

    def capture(self, holds: Callable[[str], bool]) -> dict[str, Any]:
        """``state`` for a snapshot, by its changes (models/change_log.py): the last base,
        while the snapshot store ``holds`` it, and the events, merges and forgets since
        (views, no copies: nothing is repacked), else ``state`` as a new base. At 1M items
        histories were 233 MiB that every snapshot repacked and wrote, the most of any
        part after co-occurrence's pairs were taken by their changes."""
        return self._by_changes.capture(
            "", holds, self.state,
            lambda arrays: int(arrays["items"].size + arrays["older_items"].size))

    @staticmethod
    def _merged(stored: _Stored, stored_rows: IntArray,
                changed: dict[int, _History]) -> dict[str, np.ndarray]:
        """The flat arrays of every user's events, from where they are: the stored rows not
        taken out (``stored_rows``) and the changed histories (flattened in the order of
        ``changed``), placed in order of user."""
        histories = list(changed.values())
        own = {"items": UserHistories._flat(histories, "items", np.int64),
               "weights": UserHistories._flat(histories, "weights", np.float64),
               "times": UserHistories._flat(histories, "times", np.float64),
               "older_items": UserHistories._flat(histories, "older", np.int64)}
        own_indptr = _indptr(_each(histories, "items", len))
        own_older_indptr = _indptr(_each(histories, "older.size"))
        own_trimmed = _each(histories, "trimmed")
        stored_users = stored.users[stored_rows]
        users = np.concatenate((stored_users, np.fromiter(changed, dtype=np.int64,
                                                          count=len(changed))))
        order = np.argsort(users, kind="stable")
        users = users[order]
        n_stored = stored_users.size
        lengths = np.concatenate((np.diff(stored.indptr)[stored_rows],
                                  np.diff(own_indptr)))[order]
        older_lengths = np.concatenate((np.diff(stored.older_indptr)[stored_rows],
                                        np.diff(own_older_indptr)))[order]
        indptr, older_indptr = _indptr(lengths), _indptr(older_lengths)
        # where each source's users went in the order of user
        placed = np.empty(users.size, dtype=np.int64)
        placed[order] = np.arange(users.size, dtype=np.int64)
        from_stored, from_own = placed[:n_stored], placed[n_stored:]
        result: dict[str, np.ndarray] = {"users": users, "indptr": indptr,
                                         "older_indptr": older_indptr}
        place = _KERNELS.get().place
        for names, out_indptr, own_indptr_, stored_indptr in (
                (("items", "weights", "times"), indptr, own_indptr, stored.indptr),
                (("older_items",), older_indptr, own_older_indptr, stored.older_indptr)):
            for name in names:
                values = getattr(stored, name)
                out = np.empty(int(out_indptr[-1]), dtype=values.dtype)
                place(out_indptr, from_own, own_indptr_, own[name], from_stored, stored_rows,
                      stored_indptr, values, out)
                result[name] = out
        trimmed = np.empty(users.size, dtype=np.int64)
        trimmed[from_own] = own_trimmed
        trimmed[from_stored] = stored.trimmed[stored_rows]
        result["trimmed"] = trimmed
        return result

    @staticmethod
    def _flat(histories: list[_History], name: str, dtype: type) -> np.ndarray:
        # one join of the buffers: a numpy view per history cost ~1 us each, and a snapshot
        # of a busy stretch flattens hundreds of thousands of them under the read lock
        joined = bytearray().join(map(attrgetter(name), histories))
        return np.frombuffer(joined, dtype=dtype)

    @staticmethod
    def _arrays_of(stored: _Stored) -> dict[str, np.ndarray]:
        return {key: getattr(stored, key) for key in _STATE_KEYS}

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        """From ``state`` or a ``capture``, read in place (see the module's doc), a
        capture's changes given again on its base; one saved before histories were bounded
        has no ``older`` (every event was kept): trimmed to ``keep`` here."""
        changes = self._by_changes.saved(state, "")
        stored = _Stored.of(state)
        self._users, self._stored = {}, stored
        self._by_changes = ByChanges(_no_changes())  # none logged while they are given
        as_saved = True
        if self._limit is not None:
            for row in np.flatnonzero(np.diff(stored.indptr) > self._limit).tolist():
                history = self._take(int(stored.users[row]))
                assert history is not None
                self._trim(history)
                as_saved = False
        self._give_again(changes)
        if as_saved:  # a capture's: carry on from its base and changes
            self._by_changes.carry_on(state, "", _STATE_KEYS,
                                      int(stored.items.size + stored.older_items.size),
                                      changes)

    def _give_again(self, changes: ChangeLog) -> None:
        """The changes a capture saved after its base, in their order."""
        for step in changes.steps():
            if step.kind is None:
                users, items, weights, times = step.columns
                self.learn(EventBatch(users, items, weights, times))
            elif step.kind == _MERGE:
                self.merge(int(step.ids[0]), int(step.ids[1]))
            elif step.kind == _FORGET:
                self.forget_users(step.ids)
            else:
                raise ValueError(f"unknown change {step.kind} in a snapshot's histories")


def _each(histories: list[_History], attribute: str,
          then: Callable[[Any], int] | None = None) -> IntArray:
    """An int of each history (``attribute``, dotted, then ``then`` of it), gathered by C
    loops: a list comprehension per snapshot ran Python for each of 200,000 users, holding
    the GIL from the reads beside it."""
    values = map(attrgetter(attribute), histories)
    return np.fromiter(values if then is None else map(then, values), dtype=np.int64,
                       count=len(histories))


def _indptr(lengths: list[int] | IntArray) -> IntArray:
    indptr = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    return indptr
