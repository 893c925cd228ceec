"""Item popularity as time passes, and drawing items by it.

An item's popularity at time t is its Zipf base weight, times ``exp(popularity_drift * p *
trend)`` where p is the share of the time span gone by, times a freshness boost that fades
after release; it is exactly 0 before release. Items are drawn from ranges of positions (a
category, a collection, the whole catalogue) through one cumulative array per refresh.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from streamrec.datagen.catalogue import SyntheticCatalogue
from streamrec.datagen.config import GeneratorConfig
from streamrec.types import FloatArray, IntArray

_FADED = 40.0  # freshness decay times after which the boost (e**-40) no longer registers


class Popularity:
    """Popularity of every item over time for one catalogue, read as cumulative arrays."""

    def __init__(self, catalogue: SyntheticCatalogue, config: GeneratorConfig) -> None:
        order = catalogue.order
        # kept in position order, so each refresh is one pass with no gather
        self._base = catalogue.base_weight[order]
        self._trend = config.popularity_drift * catalogue.trend[order]
        released_at = catalogue.released_at[order]
        # only items released lately (or not yet) need their freshness or release recomputed
        self._recent = np.flatnonzero(
            released_at > config.start_time - _FADED * config.freshness_decay_s
        )
        self._recent_released_at = released_at[self._recent]
        self._config = config

    def cumulative_at(self, now: float) -> FloatArray:
        """Popularity at ``now`` summed over positions: entry ``p`` covers positions ``< p``.

        Length ``n_items + 1``, starting at 0. Unreleased items weigh exactly 0, so
        :func:`sample_positions` never draws them. Cost O(n_items).
        """
        config = self._config
        progress = min(max((now - config.start_time) / config.duration_s, 0.0), 1.0)
        weight = self._base * np.exp(progress * self._trend)
        age_s = now - self._recent_released_at
        fresh = 1.0 + config.freshness_boost * np.exp(
            -np.maximum(age_s, 0.0) / config.freshness_decay_s
        )
        weight[self._recent] *= np.where(age_s < 0, 0.0, fresh)
        cumulative = np.zeros(weight.shape[0] + 1, dtype=np.float64)
        np.cumsum(weight, out=cumulative[1:])
        return cumulative


def sample_positions(
    cumulative: FloatArray,
    low: IntArray,
    high: IntArray,
    fallback: IntArray,
    rng: np.random.Generator,
) -> IntArray:
    """One position per row, drawn by weight from positions ``[low, high)`` of ``cumulative``.

    Only positions of positive weight are drawn; a row whose range weighs nothing (or too
    little to register in floating point) gets its ``fallback`` position instead.
    """
    floor = cumulative[low]
    ceiling = cumulative[high]
    target = floor + rng.random(len(low)) * (ceiling - floor)
    target = np.minimum(target, np.nextafter(ceiling, -np.inf))  # rounding must not reach it
    drawn = np.searchsorted(cumulative[1:], target, side="right").astype(np.int64)
    return np.where(ceiling > floor, drawn, fallback)


def is_released(
    cumulative: FloatArray, catalogue: SyntheticCatalogue, items: IntArray
) -> npt.NDArray[np.bool_]:
    """Whether each item weighs anything in ``cumulative``, i.e. is released by then."""
    position = catalogue.position[items]
    released: npt.NDArray[np.bool_] = cumulative[position + 1] > cumulative[position]
    return released
