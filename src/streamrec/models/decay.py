"""Exponential time decay without touching every stored value.

Instead of multiplying all counts by 2^(-dt/h) as time passes, each new contribution is
*inflated* by 2^((t - t_ref)/h). Relative order of the stored values is then the order of the
decayed values at any moment, and ratios of two inflated quantities are already decayed. When
the inflation grows large the owner rescales everything once and moves ``t_ref``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamrec.types import FloatArray

# 2^256 ~ 1e77: far from float64 overflow even when millions of such terms are summed
_MAX_EXPONENT = 256.0


@dataclass(slots=True)
class DecayClock:
    """Inflation factors for half-life ``half_life_s``; ``None`` means no decay at all.

    Owners call ``advance`` with a batch's timestamps *before* ``inflate``: it moves the
    reference time forward when inflation would grow too large and returns the factor by
    which every stored value must then be multiplied. The reference starts at the first
    event in log order, so the result does not depend on how the log is split into batches.

    >>> clock = DecayClock(half_life_s=10.0)
    >>> clock.advance(np.array([0.0, 10.0])) is None
    True
    >>> clock.inflate(np.array([0.0, 10.0])).tolist()
    [1.0, 2.0]
    """

    half_life_s: float | None
    t_ref: float | None = None
    latest: float = -np.inf  # newest event time seen: the model's own notion of "now"

    def advance(self, timestamps: FloatArray) -> float | None:
        """Take note of a batch; the rescale factor for stored values, or ``None``."""
        if timestamps.size == 0:
            return None
        self.latest = max(self.latest, float(timestamps.max()))
        if self.half_life_s is None:
            return None
        if self.t_ref is None:
            self.t_ref = float(timestamps[0])
        exponent = (self.latest - self.t_ref) / self.half_life_s
        if exponent < _MAX_EXPONENT:
            return None
        self.t_ref = self.latest
        # values older than ~1000 half-lives underflow to 0: they have decayed away
        return float(np.exp2(-exponent))

    def inflate(self, timestamps: FloatArray) -> FloatArray:
        """Factor 2^((t - t_ref)/h) for each timestamp (ones without decay); call ``advance``
        with these timestamps first so no factor can overflow."""
        if self.half_life_s is None or self.t_ref is None or timestamps.size == 0:
            return np.ones(timestamps.shape[0], dtype=np.float64)
        exponent = (timestamps - self.t_ref) / self.half_life_s
        return np.exp2(np.clip(exponent, -1074.0, _MAX_EXPONENT))

    def deflation(self) -> float:
        """Factor turning stored inflated values into values decayed to ``latest``."""
        if self.half_life_s is None or self.t_ref is None or not np.isfinite(self.latest):
            return 1.0
        return float(np.exp2(-(self.latest - self.t_ref) / self.half_life_s))

    def state(self) -> dict[str, np.ndarray]:
        t_ref = np.nan if self.t_ref is None else self.t_ref
        return {"clock": np.array([t_ref, self.latest], dtype=np.float64)}

    def restore(self, clock: np.ndarray) -> None:
        self.t_ref = None if np.isnan(clock[0]) else float(clock[0])
        self.latest = float(clock[1])
