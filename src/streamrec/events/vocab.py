"""String ids <-> dense indices, one vocabulary per entity, owned by the engine.

Indices are handed out in first-seen order and never reused, so arrays indexed by them only
grow. Lookups never add; only the single learner adds (``index``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from streamrec.text_arrays import text_array
from streamrec.types import IntArray


class Vocabulary:
    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._ids: list[str] = []
        self._index: dict[str, int] = {}
        self._saved: np.ndarray | None = None  # ``state`` as last made (read-only)
        for id_ in ids:
            self.index(id_)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, id_: object) -> bool:
        return id_ in self._index

    def __iter__(self) -> Iterator[str]:
        """The ids, in index order."""
        return iter(self._ids)

    def index(self, id_: str) -> int:
        """The index of ``id_``, adding it when new."""
        found = self._index.get(id_)
        if found is None:
            found = len(self._ids)
            self._ids.append(id_)
            self._index[id_] = found
        return found

    def indices(self, ids: Iterable[str]) -> IntArray:
        return np.fromiter((self.index(i) for i in ids), dtype=np.int64)

    def lookup(self, id_: str) -> int | None:
        return self._index.get(id_)

    def id_of(self, index: int) -> str:
        return self._ids[index]

    def ids_of(self, indices: IntArray) -> list[str]:
        ids = self._ids
        return [ids[i] for i in indices.tolist()]

    def state(self) -> np.ndarray:
        """The ids in index order, as text (read-only). Ids are only ever added at the end,
        so each snapshot converts only those added since the last one."""
        saved = self._saved
        if saved is None or len(saved) != len(self._ids):
            saved = text_array(self._ids, saved)
            saved.flags.writeable = False
            self._saved = saved
        return saved

    @classmethod
    def restore(cls, ids: np.ndarray) -> Vocabulary:
        vocabulary = cls()
        vocabulary._ids = [str(i) for i in ids.tolist()]
        # ids are unique in a saved vocabulary: one dict built at once (a restart at 1M
        # items spent seconds adding them one by one)
        vocabulary._index = dict(zip(vocabulary._ids, range(len(vocabulary._ids)), strict=True))
        if len(vocabulary._index) != len(vocabulary._ids):
            return cls(vocabulary._ids)  # not a saved vocabulary: first index of each wins
        return vocabulary
