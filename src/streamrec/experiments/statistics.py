"""Rates with confidence intervals, the difference between two variants, and how many more
lists would tell them apart.

- A rate (lists with a click over lists shown) gets Wilson's score interval (Wilson 1927),
  which stays inside [0, 1] and keeps its coverage at small counts and rates near 0 or 1,
  where the normal approximation fails.
- The difference of two rates gets Newcombe's hybrid score interval (Newcombe 1998, method
  10), built from the two Wilson intervals: good coverage where the plain Wald interval of
  the difference is too narrow (few clicks).
- More lists needed: per variant, ``(z_a + z_b)^2 (p1 q1 + p2 q2) / d^2`` (a two-sided test
  at level a with power 1 - b = 0.8), for the difference seen so far, or at least a tenth of
  the control's rate when none is seen yet.

Newcombe's own worked examples (Statistics in Medicine 17, 1998, tables I and II):

>>> low, high = wilson(81, 263)
>>> round(low, 4), round(high, 4)
(0.2553, 0.3662)
>>> low, high = difference(56, 70, 48, 80)
>>> round(low, 4), round(high, 4)
(0.0524, 0.3339)
"""

from __future__ import annotations

import math
from statistics import NormalDist

_POWER = 0.8
_SMALLEST_LIFT = 0.1  # with no difference seen yet: the lift worth detecting, relative


def z_of(confidence: float) -> float:
    """The two-sided normal quantile: 1.96 at 0.95."""
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def wilson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval of ``successes / trials``; (0, 1) without trials."""
    if trials <= 0:
        return 0.0, 1.0
    z = z_of(confidence)
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z / (1 + z * z / trials) * math.sqrt(p * (1 - p) / trials
                                                 + z * z / (4 * trials * trials))
    # exact at the ends, where rounding would leave 0 or 1 just outside the interval
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= trials else min(1.0, centre + half)
    return min(low, p), max(high, p)


def difference(successes_b: int, trials_b: int, successes_a: int, trials_a: int,
               confidence: float = 0.95) -> tuple[float, float]:
    """Newcombe's interval of ``rate_b - rate_a``; (-1, 1) when either has no trials."""
    if trials_a <= 0 or trials_b <= 0:
        return -1.0, 1.0
    pa, pb = successes_a / trials_a, successes_b / trials_b
    la, ua = wilson(successes_a, trials_a, confidence)
    lb, ub = wilson(successes_b, trials_b, confidence)
    d = pb - pa
    return (d - math.sqrt((pb - lb) ** 2 + (ua - pa) ** 2),
            d + math.sqrt((ub - pb) ** 2 + (pa - la) ** 2))


def lists_needed(rate_a: float, rate_b: float, confidence: float = 0.95) -> int | None:
    """Lists per variant to tell ``rate_a`` from ``rate_b`` at ``confidence`` with power 0.8
    (the difference seen, or a tenth of ``rate_a`` at least); None while both are 0."""
    smallest = _SMALLEST_LIFT * max(rate_a, rate_b)
    if smallest <= 0:
        return None
    d = max(abs(rate_b - rate_a), smallest)
    spread = rate_a * (1 - rate_a) + rate_b * (1 - rate_b)
    z = z_of(confidence) + NormalDist().inv_cdf(_POWER)
    return math.ceil(z * z * max(spread, 1e-9) / (d * d))
