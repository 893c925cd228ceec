"""Which attributes the catalogue's items carry, counted as items change: the default for
diversity, and telling a caller that a filter names an attribute no item has.

>>> names = AttributeNames()
>>> names.change({}, {"genres": ["Comedy"], "year": 1995})
>>> names.change({}, {"genres": ["Drama"], "title": "Heat"})
>>> "year" in names, "price" in names, names.default_grouping()
(True, False, 'genres')
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np


def _is_categorical(value: Any) -> bool:
    """A value a list can be diversified over: a string, or a list of strings."""
    if isinstance(value, list):
        return bool(value) and all(isinstance(v, str) for v in value)
    return isinstance(value, str)


def _count(counter: Counter[str], name: str, sign: int) -> None:
    """Add ``sign`` to ``name``'s count, dropping a name no item carries any more. In place:
    rebuilding the counters per change made a restart at 100k items spend seconds here."""
    count = counter[name] + sign
    if count > 0:
        counter[name] = count
    else:
        counter.pop(name, None)


class AttributeNames:
    """How many items carry each attribute, and each categorical one (strings, lists of
    strings). O(attributes of the item) per change; every question O(1) or O(names)."""

    _PREFERRED = "category"
    # free text is categorical by type but names each item apart: never a default group
    _NOT_GROUPS = frozenset({"title", "name", "description", "text", "url", "image"})

    def __init__(self) -> None:
        self._all: Counter[str] = Counter()
        self._categorical: Counter[str] = Counter()

    def change(self, before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
        """An item's attributes went from ``before`` to ``after`` (``{}``: it was new)."""
        for attributes, sign in ((before, -1), (after, 1)):
            for name, value in attributes.items():
                _count(self._all, name, sign)
                if _is_categorical(value):
                    _count(self._categorical, name, sign)


    def state(self) -> dict[str, np.ndarray]:
        """The counts, names sorted (for a snapshot: counting again at a restart cost ~8 us
        per item, 8 s at 1M items)."""
        names = sorted(self._all)
        counts = [(self._all[name], self._categorical.get(name, 0)) for name in names]
        return {"attribute_names": np.array(names, dtype=np.str_),
                "attribute_counts": np.array(counts, dtype=np.int64).reshape(-1, 2)}

    @classmethod
    def restore(cls, state: Mapping[str, np.ndarray]) -> AttributeNames | None:
        """The counts ``state`` holds; None when it holds none (an older snapshot)."""
        if "attribute_names" not in state or "attribute_counts" not in state:
            return None
        names = cls()
        for name, (every, categorical) in zip(state["attribute_names"].tolist(),
                                               state["attribute_counts"].tolist(), strict=True):
            names._all[str(name)] = int(every)
            if categorical:
                names._categorical[str(name)] = int(categorical)
        return names

    def __contains__(self, name: object) -> bool:
        return name in self._all

    def default_grouping(self) -> str | None:
        """``category`` when items carry it as a category, else the categorical attribute
        most items carry (e.g. MovieLens' ``genres``); None when there is none."""
        if self._categorical[self._PREFERRED] > 0:
            return self._PREFERRED
        ranked = [(-count, name) for name, count in self._categorical.items()
                  if name not in self._NOT_GROUPS]
        return min(ranked)[1] if ranked else None  # ties: the first name alphabetically
