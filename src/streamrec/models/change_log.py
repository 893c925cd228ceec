"""State a snapshot takes by its changes: whole now and then, and in between what changed.

Some state changes a little in very many places: at 1M items, 20,000 events touched nearly
every 4 MiB chunk of co-occurrence's 1.26 GiB, all of which each snapshot hashed and wrote;
users' histories, repacked whole by every snapshot, were 233 MiB there. Such state is
given to a snapshot whole now and then (a base, which the snapshot store keeps under a
token per array: storage/snapshots.py's ``Kept``), and in between the snapshot names that
base again (``AsSaved``) and adds what the state was given since, in order (a
``ChangeLog``): a restore gives those changes again on top of the base.

The owner's state must be a function of the changes in their order (whatever batches they
came in), so that what a restore rebuilds is what the owner held at the capture. A new base
is given once the changes pass ``share`` of the base's entries (they are dropped then, so
they are bounded even when no snapshot comes), or when the store does not hold the last
base (a failed save, an erasure, a start that restored none of this store's snapshots).
Owners: models/sparse_rows.py (co-occurrence, ALS's and EASE's users' rows) and
engine/histories.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from streamrec.models.base import grow
from streamrec.storage.snapshots import AsSaved, Kept
from streamrec.types import IntArray

# a restore gives the changes again at several million entries a second (sparse rows: the
# budget's cuts included; histories: a Python loop per event, ~1M a second), against a
# base read back at hundreds of MiB a second: a sixteenth of the base bounds a restart's
# extra work at about a second at 1M items, and the changes held in memory at a few per cent
# of the state's own bytes (bench/RESULTS.md, 2026-12-07, night)
SHARE = 1 / 16


class Step(NamedTuple):
    """One step of a ``ChangeLog`` given again: additions (``kind`` None, ``columns``), or
    another change (``kind``, its ``argument``, and the ids it took, if it takes ids)."""

    kind: float | None
    columns: tuple[np.ndarray, ...]
    argument: float
    ids: IntArray


_NO_IDS: IntArray = np.zeros(0, dtype=np.int64)


class ChangeLog:
    """What a state was given since its base, in order: additions, appended side by side in
    named ``columns`` (arrays only ever appended to, so a snapshot takes views of them, not
    copies), and between them other changes (``ops``: kind, additions before it, argument).
    The kinds in ``with_ids`` take the ids appended for them (the argument is the ids' end)."""

    def __init__(self, columns: Sequence[tuple[str, type]], ids: str,
                 with_ids: frozenset[float]) -> None:
        self.names = [name for name, _ in columns]
        self.columns: list[np.ndarray] = [np.zeros(0, dtype=dtype) for _, dtype in columns]
        self.added = 0
        self.ids_name = ids
        self.ids = np.zeros(0, dtype=np.int64)
        self.n_ids = 0
        self.with_ids = with_ids
        self.ops: list[tuple[float, float, float]] = []

    def like(self) -> ChangeLog:
        """An empty log of the same shape."""
        columns = [(name, column.dtype.type) for name, column in zip(self.names, self.columns,
                                                                      strict=True)]
        return ChangeLog(columns, self.ids_name, self.with_ids)

    def add(self, *values: np.ndarray) -> None:
        end = self.added + values[0].shape[0]
        if end > self.columns[0].shape[0]:
            self.columns = [grow(column, end) for column in self.columns]
        for column, value in zip(self.columns, values, strict=True):
            column[self.added:end] = value
        self.added = end

    def op(self, kind: float, argument: float) -> None:
        self.ops.append((kind, self.added, argument))

    def op_with_ids(self, kind: float, ids: IntArray) -> None:
        end = self.n_ids + ids.shape[0]
        self.ids = grow(self.ids, end)
        self.ids[self.n_ids:end] = ids
        self.n_ids = end
        self.op(kind, end)

    def size(self) -> int:
        return self.added + self.n_ids

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """Views of what was given so far: later changes append past them (or to new
        arrays), never into them."""
        arrays = {f"{prefix}log_{name}": column[: self.added]
                  for name, column in zip(self.names, self.columns, strict=True)}
        arrays[f"{prefix}log_{self.ids_name}"] = self.ids[: self.n_ids]
        arrays[f"{prefix}log_ops"] = np.array(self.ops, dtype=np.float64).reshape(-1, 3)
        return arrays

    def read(self, state: Mapping[str, np.ndarray], prefix: str) -> ChangeLog:
        """A log of this shape holding what a capture saved under ``prefix`` (an empty one
        for a base's or a ``state``'s arrays, which hold none)."""
        log = self.like()
        if f"{prefix}log_ops" not in state:
            return log
        log.columns = [np.asarray(state[f"{prefix}log_{name}"], dtype=column.dtype)
                       for name, column in zip(self.names, self.columns, strict=True)]
        log.ids = np.asarray(state[f"{prefix}log_{self.ids_name}"], dtype=np.int64)
        log.added, log.n_ids = int(log.columns[0].shape[0]), int(log.ids.shape[0])
        log.ops = [(float(kind), float(added), float(argument)) for kind, added, argument
                   in np.asarray(state[f"{prefix}log_ops"]).reshape(-1, 3).tolist()]
        return log

    def steps(self) -> Iterator[Step]:
        """The changes in their order: the additions between two other changes as one step."""
        done = ids_done = 0
        for kind, added, argument in self.ops:
            end = int(added)
            if end > done:
                yield Step(None, tuple(column[done:end] for column in self.columns), 0.0,
                           _NO_IDS)
            done = end
            ids = _NO_IDS
            if kind in self.with_ids:
                ids = self.ids[ids_done:int(argument)]
                ids_done = int(argument)
            yield Step(kind, (), argument, ids)
        if self.added > done:
            yield Step(None, tuple(column[done:self.added] for column in self.columns), 0.0,
                       _NO_IDS)


class Base:
    """A state as a capture gave it whole: the tokens it was kept under (each array's) and
    how many entries it held."""

    def __init__(self, keys: list[str], entries: int, name: str | None = None) -> None:
        # unique beyond the process: a store outlives it (``SnapshotStore.adopt``)
        self.name = uuid.uuid4().hex if name is None else name
        self.tokens = {key: f"rows-{self.name}-{key}" for key in keys}
        self.entries = entries


class ByChanges:
    """An owner's base and the changes since (``log``, None when none is kept: before the
    first capture, past ``share``, after a restore that changed what it read)."""

    def __init__(self, empty: ChangeLog) -> None:
        self._empty = empty
        self.base: Base | None = None
        self.log: ChangeLog | None = None

    def keep_in_bounds(self) -> None:
        """Changes past ``SHARE`` of the base are not kept: the next capture is a base."""
        if self.log is not None and self.base is not None and \
                self.log.size() > SHARE * self.base.entries:
            self.base = self.log = None

    def capture(self, prefix: str, holds: Callable[[str], bool],
                whole: Callable[[], dict[str, np.ndarray]],
                entries: Callable[[dict[str, np.ndarray]], int]) -> dict[str, Any]:
        """While the store ``holds`` the last base and the changes since are kept, that base
        (``AsSaved``) and the changes (views); else ``whole()`` as a new base (``Kept``),
        with ``entries`` of it, the changes counted from it. Either names its base."""
        base, log = self.base, self.log
        if base is not None and log is not None and \
                all(holds(token) for token in base.tokens.values()):
            return {**{key: AsSaved(token) for key, token in base.tokens.items()},
                    **log.arrays(prefix), f"{prefix}base": np.array([base.name])}
        arrays = whole()
        self.base = base = Base(list(arrays), entries(arrays))
        self.log = self._empty.like()
        return {**{key: Kept(value, base.tokens[key]) for key, value in arrays.items()},
                f"{prefix}base": np.array([base.name])}

    def saved(self, state: Mapping[str, np.ndarray], prefix: str) -> ChangeLog:
        """The changes a capture saved under ``prefix`` (none: a base, or a ``state``)."""
        return self._empty.read(state, prefix)

    def carry_on(self, state: Mapping[str, np.ndarray], prefix: str, keys: Sequence[str],
                 entries: int, log: ChangeLog) -> None:
        """After a restore that gave the state exactly as a capture saved it (its base, then
        ``log``): go on from that base (named in ``state``, kept under ``keys``) and log."""
        name = state.get(f"{prefix}base")
        self.base = self.log = None
        if name is not None:
            self.base = Base([key for key in state if key in keys], entries, str(name[0]))
            self.log = log


def gives_changes_again(components: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether a snapshot's parts hold changes that a restore gives again on a base (a
    capture by changes), rather than every part whole."""
    return any(name.endswith("log_ops") for arrays in components.values() for name in arrays)
