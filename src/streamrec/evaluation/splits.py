"""Offline protocols for comparison with batch systems: temporal split and leave-last-out.

A model learns the training events (in replay order), then each test user is asked once for
the top-K, excluding the items they had in training. What they went on to have, and had not
had before, is what it should find.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from streamrec.evaluation.dense_events import DenseEvents
from streamrec.evaluation.peers.base import Recommender
from streamrec.evaluation.prequential import Progress
from streamrec.evaluation.queries import query_positions
from streamrec.evaluation.runs import ModelRun, RunCollector
from streamrec.types import FloatArray, IntArray

_LEARN_CHUNK = 10_000


@dataclass(frozen=True, slots=True)
class Split:
    """Training events and, per test user (ordered by ``positions``), the items to find.

    ``positions``/``now``: position and time of the user's first held-out event (the query is
    made as of then). ``cold_users``: users with held-out events but no training event; they
    are not asked (any model can only answer them with popularity).
    """

    train: DenseEvents
    users: IntArray
    relevant: tuple[IntArray, ...]
    positions: IntArray
    now: FloatArray
    cold_users: int

    @property
    def n_queries(self) -> int:
        return int(self.users.shape[0])


def temporal_split(events: DenseEvents, train_fraction: float) -> Split:
    """Train on the first ``train_fraction`` of events by position (time order, ties in file
    order); test on the rest: each user with training history is asked for the test items
    they had not had in training.

    >>> from streamrec.types import Event
    >>> log = DenseEvents.from_events([Event("a", "x", "view", 0), Event("b", "x", "view", 1),
    ...     Event("a", "y", "view", 2), Event("a", "x", "view", 3), Event("c", "y", "view", 4)])
    >>> split = temporal_split(log, 0.4)
    >>> split.users.tolist(), [r.tolist() for r in split.relevant], split.cold_users
    ([0], [[1]], 1)
    """
    if not 0.0 < train_fraction < 1.0:
        raise ValueError("train_fraction must be between 0 and 1")
    cut = int(round(train_fraction * len(events)))
    train_users, train_items = events.users[:cut], events.items[:cut]
    has_history = np.zeros(events.n_users, dtype=bool)
    has_history[train_users] = True
    n_items = max(events.n_items, 1)
    had = np.unique(train_users * n_items + train_items)
    test_users, test_items = events.users[cut:], events.items[cut:]
    is_new = ~np.isin(test_users * n_items + test_items, had)
    asked = is_new & has_history[test_users]
    cold = np.unique(test_users[~has_history[test_users]]).size
    positions = np.flatnonzero(asked) + cut
    return _group(events, events.slice(0, cut), positions, cold)


def leave_last_out(events: DenseEvents) -> Split:
    """Hold out each user's last event that a prequential query would ask about (the user had
    an earlier event, and the item is new to them); train on every other event except that
    user's later ones. Users without such an event are not asked.
    """
    candidates = query_positions(events.users, events.items)
    last: dict[int, int] = {}
    for position, user in zip(candidates.tolist(), events.users[candidates].tolist(),
                              strict=True):
        last[user] = position
    held_out_at = np.full(events.n_users, len(events), dtype=np.int64)
    for user, position in last.items():
        held_out_at[user] = position
    keep = np.arange(len(events)) < held_out_at[events.users]
    positions = np.array(sorted(last.values()), dtype=np.int64)
    return _group(events, events.take(np.flatnonzero(keep)), positions, 0)


def _group(events: DenseEvents, train: DenseEvents, positions: IntArray, cold: int) -> Split:
    """One query per user among ``positions``, relevant = distinct items, ordered by first."""
    users = events.users[positions]
    order = np.lexsort((positions, users))  # by user, then position
    by_user, at = users[order], positions[order]
    starts = np.flatnonzero(np.r_[True, by_user[1:] != by_user[:-1]] if at.size else at)
    ends = np.r_[starts[1:], at.size][: starts.size]
    firsts = at[starts]
    relevant = [np.unique(events.items[at[s:e]])
                for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
    chronological = np.argsort(firsts, kind="stable")
    return Split(train, by_user[starts][chronological].astype(np.int64),
                 tuple(relevant[i] for i in chronological.tolist()), firsts[chronological],
                 events.timestamps[firsts[chronological]], cold)


def run_split(split: Split, model: Recommender, k: int,
              progress: Progress | None = None) -> ModelRun:
    """Learn the training events (in slices), then ask each test user once.

    Progress counts training events learned, then queries answered."""
    train = split.train
    learn_seconds = 0.0
    for start in range(0, len(train), _LEARN_CHUNK):
        began = time.perf_counter()
        model.learn(train.slice(start, min(start + _LEARN_CHUNK, len(train))))
        learn_seconds += time.perf_counter() - began
        if progress is not None:
            progress(min(start + _LEARN_CHUNK, len(train)))
    had = _items_by_user(train)
    collector = RunCollector(model.name, k)
    for count, (user, relevant, position, now) in enumerate(zip(
            split.users.tolist(), split.relevant, split.positions.tolist(),
            split.now.tolist(), strict=True), 1):
        exclude = had.get(user, np.zeros(0, dtype=np.int64))
        began = time.perf_counter()
        recommended = model.recommend(user, k, exclude, now)
        latency = time.perf_counter() - began
        collector.add(position, user, recommended, relevant.tolist(), latency)
        if progress is not None and count % 500 == 0:
            progress(len(train) + count)
    if progress is not None:
        progress(len(train) + split.n_queries)
    return collector.finish(len(train), learn_seconds)


def _items_by_user(events: DenseEvents) -> dict[int, IntArray]:
    """Each user's distinct items in ``events``."""
    order = np.argsort(events.users, kind="stable")
    users, items = events.users[order], events.items[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]] if users.size else users)
    ends = np.r_[starts[1:], users.size][: starts.size]
    return {int(users[s]): np.unique(items[s:e])
            for s, e in zip(starts.tolist(), ends.tolist(), strict=True)}
