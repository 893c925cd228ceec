"""What the ranker knows of items besides the sources' scores: their attribute values and when
anyone last engaged with them.

Three features come from here, each scale-free so one set of weights fits every catalogue:

- ``recency``: how fresh the candidate's last event (anyone's) is among this query's
  candidates, as a percentile (1 the freshest, 0 never engaged with). A percentile, not an age
  in seconds: a news site's "recent" is minutes, a furniture shop's is weeks.
- ``attribute_share``: the share of the user's recent items (newer weigh more) that have one
  of the candidate's attribute values, at its best value (a comedy for a user whose recent
  items are 60% comedies: 0.6).
- ``attribute_last``: the candidate shares a value with the user's latest item (the intent of
  the moment: the category they are browsing now).

Attribute values are the categorical ones (strings, booleans, lists of them), at most
``_VALUES_PER_ITEM`` per item; numbers are left out, they are rarely a taste on their own.

>>> from streamrec.types import EventBatch, Item, Query
>>> facts = ItemFacts()
>>> facts.learn_items([(0, Item("a", {"genre": ["comedy", "drama"]})),
...                    (1, Item("b", {"genre": "comedy"})), (2, Item("c", {"genre": "horror"}))])
>>> history = np.array([0])
>>> query = Query(0, history, history, now=10.0)
>>> facts.columns(query, np.array([1, 2])).tolist()
[[0.0, 1.0, 1.0], [0.0, 0.0, 0.0]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from streamrec.events.vocab import Vocabulary
from streamrec.models.base import grow
from streamrec.types import EventBatch, FloatArray, IntArray, Item, Query

FACT_FEATURES = ("recency", "attribute_share", "attribute_last")
_VALUES_PER_ITEM = 8
_NONE = -1  # an empty value slot
_HISTORY_DECAY = 0.9  # weight of the n-th newest recent item: decay^n


class ItemFacts:
    def __init__(self, window: int = 50, ignored_attributes: Sequence[str] = ()) -> None:
        self.window = window
        self._ignored = frozenset(ignored_attributes)
        self._values = Vocabulary()  # "key=value" -> code
        self._codes = np.full((0, _VALUES_PER_ITEM), _NONE, dtype=np.int32)
        self._last_seen: FloatArray = np.zeros(0, dtype=np.float64)  # -inf: never engaged
        self._n_items = 0  # items events named (the array above has spare room)

    # -- learning ------------------------------------------------------------------------
    def learn(self, batch: EventBatch) -> None:
        engaged = batch.weights > 0  # a dislike does not make an item current
        items = batch.items[engaged]
        if items.size == 0:
            return
        size = int(items.max()) + 1
        self._last_seen = grow(self._last_seen, size, fill=-np.inf)
        np.maximum.at(self._last_seen, items, batch.timestamps[engaged])
        self._n_items = max(self._n_items, size)

    def learn_items(self, indexed: Sequence[tuple[int, Item]]) -> None:
        if not indexed:
            return
        self._codes = grow(self._codes, max(index for index, _ in indexed) + 1, fill=_NONE)
        for index, item in indexed:
            codes = [self._values.index(v) for v in self._categorical(item.attributes)]
            row = self._codes[index]
            row[:] = _NONE
            row[: len(codes)] = codes[:_VALUES_PER_ITEM]

    def _categorical(self, attributes: Mapping[str, Any]) -> list[str]:
        values: dict[str, None] = {}  # ordered, without repeats
        for key, value in attributes.items():
            if key in self._ignored:
                continue
            for element in value if isinstance(value, list | tuple) else (value,):
                if isinstance(element, bool):
                    values[f"{key}={str(element).lower()}"] = None
                elif isinstance(element, str) and (text := element.strip().lower()):
                    values[f"{key}={text}"] = None
                if len(values) >= _VALUES_PER_ITEM:
                    return list(values)
        return list(values)

    # -- features ------------------------------------------------------------------------
    def columns(self, query: Query, items: IntArray) -> FloatArray:
        """One row per item, one column per ``FACT_FEATURES`` name."""
        return self.columns_and_values(query, items)[0]

    def columns_and_values(self, query: Query, items: IntArray) -> tuple[FloatArray, IntArray]:
        """``columns``, and per item the code of its value most of the user's recent items
        have (``value_name``), -1 when it shares none: what a reason names."""
        out = np.zeros((items.shape[0], len(FACT_FEATURES)), dtype=np.float64)
        best = np.full(items.shape[0], _NONE, dtype=np.int64)
        if items.size == 0:
            return out, best
        out[:, 0] = self._recency(items)
        history = query.history
        if history.size == 0 or len(self._values) == 0:
            return out, best
        rows, shares, recent_rows = self._value_shares(history, items)
        slot = shares.argmax(axis=1)
        out[:, 1] = shares[np.arange(rows.shape[0]), slot]
        shared = out[:, 1] > 0
        best[shared] = rows[shared, slot[shared]]
        latest = recent_rows[-1][recent_rows[-1] != _NONE]
        out[:, 2] = (np.isin(rows, latest) & (rows != _NONE)).any(axis=1)
        return out, best

    def value_name(self, code: int) -> tuple[str, str]:
        """(key, value) of a value code."""
        key, _, value = self._values.id_of(code).partition("=")
        return key, value

    def _recency(self, items: IntArray) -> FloatArray:
        known = items < self._n_items
        seen = np.zeros(items.shape[0], dtype=bool)
        seen[known] = self._last_seen[items[known]] > -np.inf
        out = np.zeros(items.shape[0], dtype=np.float64)
        if not seen.any():
            return out
        times = self._last_seen[items[seen]]
        # the rank among candidates, ties sharing the better one: 1 is the freshest
        later = np.sort(times)
        older_or_same = np.searchsorted(later, times, side="right")
        out[seen] = older_or_same / times.shape[0]
        return out

    def _rows(self, items: IntArray) -> np.ndarray:
        known = (items >= 0) & (items < self._codes.shape[0])
        rows = np.full((items.shape[0], _VALUES_PER_ITEM), _NONE, dtype=np.int32)
        rows[known] = self._codes[items[known]]
        return rows

    def _value_shares(self, history: IntArray, items: IntArray) -> tuple[np.ndarray, FloatArray,
                                                                         np.ndarray]:
        """Per item and value slot: the share of the user's recent items having that value;
        the items' value rows; the recent items' rows (newest last)."""
        rows = self._rows(items)
        recent_rows = self._rows(history[-self.window:])
        shares = np.zeros(rows.shape, dtype=np.float64)
        valued = recent_rows != _NONE
        if not valued.any():
            return rows, shares, recent_rows
        n = recent_rows.shape[0]
        weights = _HISTORY_DECAY ** np.arange(n - 1, -1, -1, dtype=np.float64)
        codes, inverse = np.unique(recent_rows[valued], return_inverse=True)
        share = np.bincount(inverse, weights=np.broadcast_to(weights[:, None],
                                                             recent_rows.shape)[valued],
                            minlength=codes.size) / weights.sum()
        at = np.minimum(np.searchsorted(codes, rows), codes.size - 1)
        matched = (rows != _NONE) & (codes[at] == rows)
        shares[matched] = share[at[matched]]
        return rows, shares, recent_rows

    # -- state ---------------------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray]:
        """What events taught, and the items' attribute values (catalogue changes are in the
        log, so a restored state is not given the catalogue again)."""
        n = self._n_items
        valued = np.flatnonzero((self._codes != _NONE).any(axis=1))
        rows = int(valued[-1]) + 1 if valued.size else 0  # not the spare room after them
        return {"facts_last_seen": self._last_seen[:n].copy(),
                "facts_codes": self._codes[:rows].copy(), "facts_values": self._values.state()}

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        self._last_seen = np.array(state["facts_last_seen"], dtype=np.float64)
        self._n_items = int(self._last_seen.shape[0])
        self._values = Vocabulary.restore(state["facts_values"])
        self._codes = np.array(state["facts_codes"], dtype=np.int32).reshape(
            -1, _VALUES_PER_ITEM)
