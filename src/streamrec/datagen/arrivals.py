"""When sessions start: a Poisson process with a daily rhythm, drawn lazily in blocks.

Sessions of all users arrive at one shared rate, chosen so that ``n_events`` events take about
``duration_s``, and modulated by ``1 + daily_cycle * cos(2 pi (t - peak) / day)``. Starts are
drawn on a uniform clock and mapped through the inverse of the cumulative rate, so the block
sizes never depend on the rhythm.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from streamrec.datagen.config import DAY_S, GeneratorConfig
from streamrec.types import FloatArray

_STREAM = 3  # this module's own random stream, so other modules' draws never shift it
_BLOCKS_PER_SPAN = 256  # popularity and releases are refreshed once per block
_MAX_EVENTS_PER_BLOCK = 100_000
_SOLVE_TOLERANCE_S = 1e-6


def expected_events_per_session(config: GeneratorConfig) -> float:
    """Mean number of events a session yields (views, funnel steps, ratings)."""
    fresh = 1.0 - config.related_probability * (1.0 - 1.0 / config.mean_session_views)
    favourite_share = fresh * (1.0 - config.exploration_probability) * config.affinity_probability
    click = min(
        1.0, config.click_probability * (1.0 + favourite_share * (config.affinity_click_boost - 1))
    )
    funnel = click * (1.0 + config.cart_probability * (1.0 + config.purchase_probability))
    return config.mean_session_views * (1.0 + funnel + config.rating_fraction)


def session_starts(config: GeneratorConfig) -> Iterator[FloatArray]:
    """Endless blocks of session start times: unix seconds, whole milliseconds, and
    non-decreasing within and across blocks. Identical for the same configuration."""
    rng = np.random.default_rng((config.seed, _STREAM))
    per_session = expected_events_per_session(config)
    expected_sessions = max(config.n_events / per_session, 1.0)
    mean_gap_s = config.duration_s / expected_sessions
    block = int(
        min(
            math.ceil(expected_sessions / _BLOCKS_PER_SPAN),
            max(1, _MAX_EVENTS_PER_BLOCK // math.ceil(per_session)),
        )
    )
    uniform_elapsed_s = 0.0
    latest = config.start_time
    while True:
        uniform = uniform_elapsed_s + np.cumsum(rng.exponential(mean_gap_s, block))
        uniform_elapsed_s = float(uniform[-1])
        starts = (config.start_time + _follow_daily_rhythm(uniform, config)).round(3)
        # the rhythm is solved to a microsecond; never let that reorder nearby starts
        starts = np.maximum.accumulate(np.maximum(starts, latest))
        latest = float(starts[-1])
        yield starts


def _follow_daily_rhythm(uniform_s: FloatArray, config: GeneratorConfig) -> FloatArray:
    """Elapsed real time x at which the cumulative rate reaches each ``uniform_s``.

    Solves x + A (sin(w (start + x) - phase) - sin(w start - phase)) = u by fixed-point
    iteration, a contraction with factor ``daily_cycle`` < 1.
    """
    if config.daily_cycle == 0:
        return uniform_s
    omega = 2 * math.pi / DAY_S
    amplitude = config.daily_cycle / omega
    phase = omega * config.peak_hour_utc * 3600.0
    at_start = math.sin(omega * config.start_time - phase)
    elapsed = uniform_s.copy()
    for _ in range(1_000):
        previous = elapsed
        elapsed = uniform_s - amplitude * (
            np.sin(omega * (config.start_time + previous) - phase) - at_start
        )
        if float(np.max(np.abs(elapsed - previous))) < _SOLVE_TOLERANCE_S:
            break
    return elapsed
