"""Which variant a user is in: a hash of the experiment's name and the user's stored key.

``bucket`` maps (experiment, user) to a number in [0, 1): the first 8 bytes of
``sha256(experiment + NUL + user key)`` over 2^64. The variants split [0, 1) in their order,
each by its share of the weights. So the assignment is a function of the experiment's
definition (logged with its start) and the user's key alone: the same on every replica, after
every restart and in every replay, with no table of who is where; and a user's bucket in one
experiment says nothing about their bucket in another.

>>> bucket("colours", "alice") == bucket("colours", "alice")
True
>>> pick((1.0, 1.0), 0.49), pick((1.0, 1.0), 0.5), pick((1.0, 3.0), 0.3)
(0, 1, 1)
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Sequence
from itertools import accumulate

RULE = "sha256(experiment NUL user key)[:8] / 2^64, split by weight in variant order"
_SCALE = 2.0**64


def bucket(experiment: str, user_key: str) -> float:
    """Where the user falls in the experiment, uniform in [0, 1)."""
    digest = hashlib.sha256(f"{experiment}\0{user_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def thresholds(weights: Sequence[float]) -> tuple[float, ...]:
    """The variants' upper bounds in [0, 1], in order (the last is 1)."""
    total = sum(weights)
    bounds = [share / total for share in accumulate(weights)]
    bounds[-1] = 1.0  # no bucket falls past the last variant through rounding
    return tuple(bounds)


def pick(weights: Sequence[float], at: float) -> int:
    """The variant whose share of [0, 1) holds ``at``."""
    return pick_from(thresholds(weights), at)


def pick_from(bounds: Sequence[float], at: float) -> int:
    return min(bisect.bisect_right(bounds, at), len(bounds) - 1)
