"""Sparse variants of a log: what a small shop's stream looks like, cut from a dense one.

A shop that installs streamrec may have few events per user, a catalogue of hundreds, and a
tempo of months; the dense logs we tune on have hundreds of events per user. Two cuts, applied
in this order to any log ``evaluate`` reads:

- ``max_per_user``: N of each user's events, drawn at random (seeded), so a user's few events
  stay spread over their time as a reviewer's are (the first N would put them all at the
  user's start, where MovieLens users rate in bulk, and leave a temporal split nothing to ask);
- ``kcore``: then users and items with fewer than K events are dropped, again and again until
  every one left has at least K (the usual "K-core" of review data sets).

Explicit ratings stay what they are (a rating's value is its stars), so a cut of MovieLens is
a sparse explicit-ratings log. Dense ids are given again in replay order, as every protocol
expects.

>>> from streamrec.types import Event
>>> events = DenseEvents.from_events([Event("a", "x", "view", 0), Event("a", "y", "view", 1),
...     Event("b", "x", "view", 2), Event("a", "z", "view", 3), Event("b", "y", "view", 4)])
>>> cut = sparsify(events, kcore=2)
>>> [cut.user_ids[u] + cut.item_ids[i] for u, i in zip(cut.users, cut.items)]
['ax', 'ay', 'bx', 'by']
>>> np.bincount(sparsify(events, max_per_user=2).users).tolist()
[2, 2]
"""

from __future__ import annotations

import numpy as np

from streamrec.evaluation.datasets import first_seen
from streamrec.evaluation.dense_events import DenseEvents
from streamrec.types import IntArray

_MAX_ROUNDS = 1_000  # k-core converges in a handful of rounds on real logs


def sparsify(events: DenseEvents, max_per_user: int | None = None,
             kcore: int | None = None, seed: int = 0) -> DenseEvents:
    """``events`` cut to ``max_per_user`` random events of each user, then to its ``kcore``."""
    keep = np.ones(len(events), dtype=bool)
    if max_per_user is not None:
        draw = np.random.default_rng(seed).permutation(len(events))
        keep &= _rank_within_user(events.users, draw) < max_per_user
    if kcore is not None and kcore > 1:
        keep = _kcore(events.users, events.items, keep, kcore)
    if keep.all():
        return events
    return _renumbered(events, np.flatnonzero(keep))


def _rank_within_user(users: IntArray, draw: IntArray) -> IntArray:
    """For each event, how many events of its user come before it in ``draw``'s order."""
    order = draw[np.argsort(users[draw], kind="stable")]
    sorted_users = users[order]
    starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
    counts = np.diff(np.r_[starts, sorted_users.size])
    within = np.arange(sorted_users.size) - np.repeat(starts, counts)
    rank = np.empty_like(within)
    rank[order] = within
    return rank


def _kcore(users: IntArray, items: IntArray, keep: np.ndarray, k: int) -> np.ndarray:
    keep = keep.copy()
    for _ in range(_MAX_ROUNDS):
        user_counts = np.bincount(users[keep], minlength=int(users.max()) + 1)
        item_counts = np.bincount(items[keep], minlength=int(items.max()) + 1)
        thinner = keep & ((user_counts[users] < k) | (item_counts[items] < k))
        if not thinner.any():
            break
        keep &= ~thinner
    return keep


def _renumbered(events: DenseEvents, rows: IntArray) -> DenseEvents:
    kept = events.take(rows)
    users, user_codes = first_seen(kept.users)
    items, item_codes = first_seen(kept.items)
    return DenseEvents(
        users, items, kept.timestamps, kept.weights, kept.types, kept.values,
        tuple(events.user_ids[c] for c in user_codes.tolist()),
        tuple(events.item_ids[c] for c in item_codes.tolist()), events.type_names)
