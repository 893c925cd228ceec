"""Popularity at the log's own pace: counts fading per events learned, not per day.

The popularity source fades with a half-life in seconds (a week by default): right for a
shop whose tempo is days, wrong for one whose tempo is months, where a week holds a handful
of events. These counters fade with a half-life counted in *events of the whole log*, so the
same settings mean "the last few thousand events" in a busy shop and in a slow one, plus one
that never fades (plain popularity, the baseline every recommender must beat: it counts each
positive event once, whatever its type or stars, as that baseline does). They are
experts of the blend (``hedge.py``), which learns online which one this log rewards; each
brings its best items as candidates.

Each counter is a ``PopularityModel`` fed the events' positions in the log in place of their
timestamps, so a replay rebuilds the same counts. Plain popularity fades too, by half in
10^12 events (0.07% over a billion): so that equal counts are not equal, the more recent item
goes first, and which items a counter brings never depends on how items are numbered (a
replay that met the catalogue first numbers them differently).

>>> from streamrec.types import EventBatch
>>> paced = PacedPopularity((2.0, None))
>>> paced.learn(EventBatch(np.array([0, 1, 2, 3]), np.array([5, 5, 3, 3]), np.ones(4),
...                        np.zeros(4)))
>>> paced.names, paced.scores(np.array([3, 5])).round(3).tolist()
(('popularity_2_events', 'popularity_all'), [[1.707, 2.0], [0.854, 2.0]])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from streamrec.models.popularity import PopularityConfig, PopularityModel
from streamrec.types import EMPTY_INTS, EventBatch, FloatArray, IntArray, Query

_PLAIN = 1e12  # "never fades": a half-life of 10^12 events, which breaks ties by recency


class PacedPopularity:
    """One popularity counter per half-life in events (None: never fades)."""

    def __init__(self, half_lives: Sequence[float | None]) -> None:
        self.half_lives = tuple(half_lives)
        self.counters = [PopularityModel(PopularityConfig(half_life_s=h or _PLAIN))
                         for h in self.half_lives]
        self.names = tuple("popularity_all" if h is None else f"popularity_{h:g}_events"
                           for h in self.half_lives)
        self.learned = 0  # events learned: the clock of every counter

    def learn(self, batch: EventBatch) -> None:
        if len(batch) == 0:
            return
        positions = self.learned + np.arange(len(batch), dtype=np.float64)
        paced = EventBatch(batch.users, batch.items, batch.weights, positions)
        # plain popularity counts each positive event once, as the baseline does: a rating's
        # stars say how much a user liked an item, not how likely the next user takes it
        counted = EventBatch(batch.users, batch.items,
                             (batch.weights > 0).astype(np.float64), positions)
        for counter, half_life in zip(self.counters, self.half_lives, strict=True):
            counter.learn(counted if half_life is None else paced)
        self.learned += len(batch)

    def top(self, per_counter: int, exclude: IntArray, n_items: int) -> IntArray:
        """Each counter's best ``per_counter`` items not in ``exclude``, together."""
        if not self.counters or per_counter == 0:
            return EMPTY_INTS
        anyone = Query(None, EMPTY_INTS, exclude, 0.0)
        found = [counter.query_scores(anyone, n_items).top(per_counter, exclude)
                 for counter in self.counters]
        return np.concatenate(found).astype(np.int64)

    def scores(self, items: IntArray) -> FloatArray:
        """(items, counters): each counter's count of each item (0 for unknown items)."""
        anyone = Query(None, EMPTY_INTS, EMPTY_INTS, 0.0)
        out = np.zeros((items.size, len(self.counters)), dtype=np.float64)
        for column, counter in enumerate(self.counters):
            out[:, column] = np.maximum(counter.score(anyone, items), 0.0)
        return out

    def state(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {"paced_learned": np.array([self.learned])}
        for name, counter in zip(self.names, self.counters, strict=True):
            out.update({f"{name}.{key}": value for key, value in counter.state().items()})
        return out

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        if "paced_learned" not in state:
            return
        self.learned = int(state["paced_learned"][0])
        for name, counter in zip(self.names, self.counters, strict=True):
            prefix = f"{name}."
            counter.restore({key.removeprefix(prefix): value for key, value in state.items()
                             if key.startswith(prefix)})
