"""A budget of users: past ``events.max_users``, the engine forgets the longest idle ones.

Every user the engine has seen holds state: a history, co-occurrence's recent window, ALS's
and EASE's rows, a place in the sequence model's training events and the blend's clock, an
entry in the vocabulary. A shop whose visitors come and go (most never come back) would grow
all of it for ever. So the number of users with state is bounded: when more than
``events.max_users`` are held, the engine logs one ``$forget`` event, and every model drops
the per-user state of the users idle longest, down to ``keep_share`` of the budget (7/8: a
forget per eighth of the budget of new users, not one per new user). Their vocabulary
indices are taken again by the next new users (events/vocab.py), so per-user arrays stop
growing. What users taught the shared parts (co-occurrence's pairs, popularity, the item
vectors of fits already made) stays: forgetting is not erasure (engine/erasures.py), which
removes a user's events from the log itself. A forgotten user who comes back starts afresh.

The event names nobody: it carries a point on the engine's clock of client events learned,
and applies to every user whose latest event came before it (``last_active``, kept per user
by the state). Which users that is follows from the log up to the event, so a replay, an
erasure's rebuild (which holds fewer users) and every replica forget the same ones, and the
event holds no id that an erasure would have to remove.

The decision is the trainer's (the engine's background decisions, engine/trainer.py; on
replicas, the refit leader's), checked at each of its polls, so the budget can be passed by
what arrives in one poll; a forget brings it back to ``keep_share`` of it.

>>> event = forget_event(1_000, 10.0)
>>> is_forget(event), forgotten_before(event)
(True, 1000)
>>> last_active = np.array([5, 0, 9, 2, 7])  # user 1's index is free
>>> held = np.array([True, False, True, True, True])
>>> forget_point(last_active, held, max_users=3, keep_share=0.5)  # keep 1: the latest
9
>>> idle_users(last_active, held, 9).tolist()
[0, 3, 4]
"""

from __future__ import annotations

import numpy as np

from streamrec.types import Event, IntArray

FORGET_TYPE = "$forget"
KEEP_SHARE = 0.875  # a forget leaves this share of the budget's users


def forget_event(before: int, timestamp: float) -> Event:
    """Forget every user whose latest event came before ``before`` (the clock of client
    events learned: see ``EngineState.last_active``)."""
    return Event(user_id="", item_id="", type=FORGET_TYPE, timestamp=timestamp,
                 context={"before": int(before)})


def is_forget(event: Event) -> bool:
    return event.type == FORGET_TYPE


def forgotten_before(event: Event) -> int:
    return int((event.context or {}).get("before", 0))


def forget_point(last_active: IntArray, held: np.ndarray, max_users: int,
                 keep_share: float = KEEP_SHARE) -> int | None:
    """The point before which users are forgotten so that ``keep_share`` of ``max_users`` are
    left, or None while the users held are within ``max_users``. ``last_active`` and ``held``:
    per user index."""
    users = int(held.sum())
    if users <= max_users:
        return None
    keep = max(1, int(max_users * keep_share))
    times = last_active[: held.size][held]
    # the latest ``keep`` users stay: the point is the earliest of them
    return int(np.partition(times, users - keep)[users - keep])


def idle_users(last_active: IntArray, held: np.ndarray, before: int) -> IntArray:
    """The held users whose latest event came before ``before``."""
    n = min(last_active.size, held.size)
    return np.flatnonzero(held[:n] & (last_active[:n] < before))
