"""The generated users: how active each one is, what they like, and their personal favourites.

Each user (indices ``0..n_users-1``, ids ``"u{n}"``) has two tastes over categories, both drawn
from a Dirichlet whose mean follows category sizes: an early one, and a late one that takes
over a growing share of sessions (``taste_drift``) as time passes. Each user also has a few
favourite items, drawn uniformly (not by popularity) from categories they like, so they are
personal rather than hits. Memory: about ``8 * n_users * n_categories`` bytes for the tastes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from streamrec.datagen.catalogue import SyntheticCatalogue
from streamrec.datagen.config import GeneratorConfig
from streamrec.types import FloatArray, IntArray

_STREAM = 2  # this module's own random stream, so other modules' draws never shift it
_SAMPLING_CELLS = 1 << 22  # taste cells held at once while drawing favourites

Float32Array = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class SyntheticUsers:
    """Ground truth about every user; rows indexed by user."""

    activity: FloatArray  # relative rate at which the user starts sessions
    early_taste: Float32Array  # (n_users, n_categories), rows sum to 1
    late_taste: Float32Array  # the taste that drift moves towards
    favourites: IntArray  # (n_users, affinity_items) item indices, repeats possible

    @property
    def n_users(self) -> int:
        return int(self.activity.shape[0])

    def sample_users(self, count: int, rng: np.random.Generator) -> IntArray:
        """``count`` users drawn in proportion to their activity."""
        cumulative = np.cumsum(self.activity)
        target = rng.random(count) * float(cumulative[-1])
        drawn = np.searchsorted(cumulative, target, side="right")
        return np.minimum(drawn, self.n_users - 1).astype(np.int64)

    def sample_categories(
        self, users: IntArray, is_late: npt.NDArray[np.bool_], rng: np.random.Generator
    ) -> IntArray:
        """One category per row from that user's early taste, or late taste where ``is_late``.

        Drawing from the late taste with probability w is drawing from the mixture
        (1-w) early + w late, so drift needs no per-time taste matrix.
        """
        tastes = np.where(is_late[:, None], self.late_taste[users], self.early_taste[users])
        return sample_rows(tastes, rng)


def sample_rows(weights: Float32Array, rng: np.random.Generator) -> IntArray:
    """One column per row of ``weights``, drawn in proportion to the row's (non-negative)
    entries. Cost O(rows x columns)."""
    if weights.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    cumulative: FloatArray = np.cumsum(weights, axis=1, dtype=np.float64)
    target = rng.random(len(weights)) * cumulative[:, -1]
    drawn: IntArray = (cumulative <= target[:, None]).sum(axis=1, dtype=np.int64)
    return np.minimum(drawn, int(weights.shape[1]) - 1)


def build_users(config: GeneratorConfig, catalogue: SyntheticCatalogue) -> SyntheticUsers:
    """The users for ``config``: identical for the same configuration."""
    rng = np.random.default_rng((config.seed, _STREAM))
    sizes = np.diff(catalogue.category_bounds).astype(np.float64)
    alpha = config.taste_concentration * sizes / sizes.sum()
    early = _tastes(alpha, config.n_users, rng)
    return SyntheticUsers(
        activity=rng.lognormal(0.0, config.activity_sigma, config.n_users),
        early_taste=early,
        late_taste=_tastes(alpha, config.n_users, rng),
        favourites=_favourites(early, catalogue, config.affinity_items, rng),
    )


def _tastes(alpha: FloatArray, n_users: int, rng: np.random.Generator) -> Float32Array:
    taste = rng.dirichlet(alpha, n_users)
    totals = taste.sum(axis=1, keepdims=True)
    # a very small alpha can underflow a whole row; such a user likes everything a little
    taste = np.where(totals > 0, taste / np.where(totals > 0, totals, 1.0), 1.0 / alpha.size)
    return taste.astype(np.float32)


def _favourites(
    taste: Float32Array, catalogue: SyntheticCatalogue, count: int, rng: np.random.Generator
) -> IntArray:
    """Items drawn uniformly within categories drawn from each user's early taste."""
    n_users = taste.shape[0]
    categories = np.empty((n_users, count), dtype=np.int64)
    rows_per_slice = max(1, _SAMPLING_CELLS // (count * taste.shape[1]))
    for first in range(0, n_users, rows_per_slice):  # bounded memory at a million users
        rows = taste[first : first + rows_per_slice]
        categories[first : first + rows.shape[0]] = sample_rows(
            np.repeat(rows, count, axis=0), rng
        ).reshape(rows.shape[0], count)
    low = catalogue.category_bounds[categories]
    size = catalogue.category_bounds[categories + 1] - low
    positions = low + (rng.random(categories.shape) * size).astype(np.int64)
    return catalogue.order[positions]
