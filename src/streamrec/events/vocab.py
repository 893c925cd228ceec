"""String ids <-> dense indices, one vocabulary per entity, owned by the engine.

Indices are handed out in first-seen order. Lookups never add; only the single learner adds
(``index``). A forgotten id (``forget``: users past ``events.max_users``, engine/forgetting.py)
leaves its index free, and the next new id takes the lowest free index before any new one,
so arrays indexed by the vocabulary stop growing once ids come and go at the same pace. Who
takes which index depends only on the order of ``index`` and ``forget`` calls, so a replay of
the log hands out the same ones. A free index's id is the empty string (never an id).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from itertools import repeat

import numpy as np

from streamrec.text_arrays import text_array
from streamrec.types import IntArray


class Vocabulary:
    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._ids: list[str] = []
        self._index: dict[str, int] = {}
        self._saved: np.ndarray | None = None  # ``state`` as last made (read-only)
        self._free: list[int] = []  # forgotten indices, a heap: the lowest is taken first
        self._changed: set[int] = set()  # indices forgotten or taken again since ``_saved``
        for id_ in ids:
            self.index(id_)

    def __len__(self) -> int:
        """Indices handed out, free ones included: the length of arrays indexed by them."""
        return len(self._ids)

    @property
    def live(self) -> int:
        """Ids held (free indices not counted)."""
        return len(self._index)

    def __contains__(self, id_: object) -> bool:
        return id_ in self._index

    def __iter__(self) -> Iterator[str]:
        """The ids, in index order ("" at a free index)."""
        return iter(self._ids)

    def index(self, id_: str) -> int:
        """The index of ``id_``, adding it when new (at the lowest free index, if any)."""
        found = self._index.get(id_)
        if found is None:
            if self._free:
                found = heapq.heappop(self._free)
                self._ids[found] = id_
                self._changed.add(found)
            else:
                found = len(self._ids)
                self._ids.append(id_)
            self._index[id_] = found
        return found

    def forget(self, indices: Iterable[int]) -> list[int]:
        """Free these indices (those held); returns the ones freed, in order."""
        freed = []
        for index in sorted(set(indices)):
            id_ = self._ids[index] if 0 <= index < len(self._ids) else ""
            if id_:
                del self._index[id_]
                self._ids[index] = ""
                heapq.heappush(self._free, index)
                self._changed.add(index)
                freed.append(index)
        return freed

    def held(self) -> np.ndarray:
        """Per index, whether an id holds it (False: free)."""
        held = np.ones(len(self._ids), dtype=bool)
        held[self._free] = False
        return held

    def indices(self, ids: Iterable[str]) -> IntArray:
        return np.fromiter((self.index(i) for i in ids), dtype=np.int64)

    def lookup(self, id_: str) -> int | None:
        return self._index.get(id_)

    def lookups(self, ids: Iterable[str]) -> IntArray:
        """``lookup`` of each id, -1 for one not known."""
        return np.fromiter(map(self._index.get, ids, repeat(-1)), dtype=np.int64)

    def id_of(self, index: int) -> str:
        return self._ids[index]

    def ids_of(self, indices: IntArray) -> list[str]:
        ids = self._ids
        return [ids[i] for i in indices.tolist()]

    def state(self) -> np.ndarray:
        """The ids in index order, "" at a free index, as text (read-only). Each snapshot
        converts only the ids added at the end and the indices forgotten or taken again since
        the last one."""
        saved, changed = self._saved, self._changed
        if saved is None or len(saved) != len(self._ids) or changed:
            ids = self._ids
            rewritten = sorted(changed)
            wide = saved is not None and any(
                len(ids[i]) > saved.dtype.itemsize // 4 for i in rewritten)
            saved = text_array(ids, None if wide else saved)  # a new array either way
            if rewritten and not wide:
                saved[rewritten] = [ids[i] for i in rewritten]
            saved.flags.writeable = False
            self._saved = saved
            self._changed = set()
        return saved

    @classmethod
    def restore(cls, ids: np.ndarray) -> Vocabulary:
        vocabulary = cls()
        listed = ids.tolist()  # a saved vocabulary's unicode array gives str already
        vocabulary._ids = listed if ids.dtype.kind == "U" else [str(i) for i in listed]
        free = np.flatnonzero(np.asarray(ids) == "").tolist() if len(ids) else []
        # ids are unique in a saved vocabulary: one dict built at once (a restart at 1M
        # items spent seconds adding them one by one)
        vocabulary._index = dict(zip(vocabulary._ids, range(len(vocabulary._ids)), strict=True))
        if free:
            vocabulary._index.pop("")
            vocabulary._free = free  # ascending: already a heap
        if len(vocabulary._index) + len(free) != len(vocabulary._ids):
            return cls(vocabulary._ids)  # not a saved vocabulary: first index of each wins
        if ids.dtype.kind == "U":  # ``state`` as it was saved: the first snapshot after a
            # restart converted every id to text again (1.2M ids: ~115 ms holding the GIL)
            saved = np.array(ids)
            saved.flags.writeable = False
            vocabulary._saved = saved
        return vocabulary
