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

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from streamrec.events.vocab import Vocabulary
from streamrec.models.base import grow
from streamrec.models.compiled import Kernels
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
        recent = np.ascontiguousarray(history[-self.window:], dtype=np.int64)
        weights = _HISTORY_DECAY ** np.arange(recent.size - 1, -1, -1, dtype=np.float64)
        _KERNELS.get().shares(self._codes, np.ascontiguousarray(items, dtype=np.int64), recent,
                              weights, float(weights.sum()), out, best)
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


def _shares_kernel(codes: np.ndarray, items: np.ndarray, recent: np.ndarray,
                   weights: np.ndarray, total: float, out: np.ndarray,
                   best: np.ndarray) -> None:
    """Columns 1 and 2 of ``columns`` and the best values, in one compiled pass per query
    (two dozen numpy calls on a few hundred candidates cost ~0.7 ms a read): each value's
    share is the ``weights`` of the ``recent`` items having it, summed in their order, over
    ``total``; a candidate's share is that of its value with the largest (the first slot
    among equals), and its last column says whether it has a value of the newest item."""
    n_rows, slots = codes.shape
    found = np.empty(recent.shape[0] * slots, dtype=np.int64)
    weight_of = np.empty(recent.shape[0] * slots, dtype=np.float64)
    taken = 0
    for i in range(recent.shape[0]):
        item = recent[i]
        if 0 <= item < n_rows:
            for slot in range(slots):
                code = codes[item, slot]
                if code != _NONE:
                    found[taken] = code
                    weight_of[taken] = weights[i]
                    taken += 1
    if taken == 0:
        return
    order = np.argsort(found[:taken], kind="mergesort")  # stable: summed in their order
    values = np.empty(taken, dtype=np.int64)
    shares = np.zeros(taken, dtype=np.float64)
    distinct = 0
    for j in range(taken):
        code = found[order[j]]
        if distinct == 0 or values[distinct - 1] != code:
            values[distinct] = code
            distinct += 1
        shares[distinct - 1] += weight_of[order[j]]
    values, shares = values[:distinct], shares[:distinct] / total
    newest = recent[recent.shape[0] - 1]
    newest_known = 0 <= newest < n_rows
    for i in range(items.shape[0]):
        item = items[i]
        if not 0 <= item < n_rows:
            continue
        share, value, last = 0.0, _NONE, 0.0
        for slot in range(slots):
            code = codes[item, slot]
            if code == _NONE:
                continue
            at = np.searchsorted(values, code)
            if at < distinct and values[at] == code and shares[at] > share:
                share, value = shares[at], code
            if newest_known and last == 0.0:
                for other in range(slots):
                    if codes[newest, other] == code:
                        last = 1.0
                        break
        out[i, 1] = share
        out[i, 2] = last
        if share > 0.0:
            best[i] = value


class _Kernels(NamedTuple):
    shares: Callable[..., None]


def _make(jit: Callable[[Callable[..., Any]], Any]) -> _Kernels:
    return _Kernels(jit(_shares_kernel))


def warm_up() -> None:
    """Run the kernel once on a tiny catalogue (a server's start, not its first read)."""
    facts = ItemFacts()
    facts.learn_items([(0, Item("a", {"genre": "comedy"})), (1, Item("b", {"genre": "comedy"}))])
    facts.columns_and_values(Query(0, np.array([0]), np.array([0]), 0.0), np.array([1, 5]))


_KERNELS = Kernels("item-fact", globals(), _make, warm_up=warm_up)


def compile_kernels() -> None:
    _KERNELS.get()
