"""How sure a difference between two models is, on the same queries.

Two models asked the same queries differ on few of them (on a sparse log, HR@10 0.105
against 0.107 is 6 hits in 3,167 questions), and a ratio alone does not say whether that is
a difference or noise. ``paired`` takes the per-query difference of a metric and gives its
mean with a standard error and a 95% interval.

The standard error is by **batch means**: the queries, in the order the protocol asked them,
are cut into ``blocks`` contiguous blocks of equal size, and the spread of the blocks' mean
differences gives the error (Student's t with ``blocks - 1`` degrees of freedom for the
interval). A stream's queries are not independent (a model has good and bad stretches: a
drifting shop, a refit), and treating them as independent would make every interval too
narrow; blocks of consecutive queries keep those stretches inside a block. With fewer than
two queries per block there is nothing to cut, and the error is that of independent queries.

>>> ours = np.array([1.0, 0, 1, 1, 0, 1, 1, 0] * 10)
>>> theirs = np.array([1.0, 0, 0, 1, 0, 1, 0, 0] * 10)
>>> found = paired(ours, theirs, blocks=8)
>>> round(found.difference, 3), bool(found.low > 0)
(0.25, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from streamrec.types import FloatArray

BLOCKS = 20
# the figure each protocol's tables lead with: the next item found (prequential), or the
# ranking of everything the user went on to have (temporal split, leave-last-out)
MAIN_METRIC = {"prequential": "hit", "temporal": "ndcg", "leave-last-out": "ndcg"}


@dataclass(frozen=True, slots=True)
class Paired:
    """The mean of ``ours - theirs`` per query, its standard error and 95% interval."""

    difference: float
    standard_error: float
    low: float
    high: float
    queries: int
    blocks: int

    def as_dict(self) -> dict[str, Any]:
        return {"difference": round(self.difference, 5),
                "standard_error": round(self.standard_error, 5),
                "low": round(self.low, 5), "high": round(self.high, 5),
                "queries": self.queries, "blocks": self.blocks}


def paired(ours: FloatArray, theirs: FloatArray, blocks: int = BLOCKS) -> Paired:
    """``ours`` and ``theirs``: one metric per query, the same queries in the same order."""
    if ours.shape != theirs.shape:
        raise ValueError(f"paired figures need the same queries: {ours.shape} against "
                         f"{theirs.shape}")
    differences = np.asarray(ours, dtype=np.float64) - np.asarray(theirs, dtype=np.float64)
    n = differences.size
    if n < 2:
        mean = float(differences.mean()) if n else 0.0
        return Paired(mean, float("inf"), float("-inf"), float("inf"), n, 0)
    if n >= 2 * blocks and blocks >= 2:
        edges = np.linspace(0, n, blocks + 1).round().astype(np.int64)
        means = np.add.reduceat(differences, edges[:-1]) / np.diff(edges)
        weights = np.diff(edges) / n
        mean = float(differences.mean())
        # blocks differ in size by at most one query: their means weigh by their size
        variance = float((weights * (means - mean) ** 2).sum()) * blocks / (blocks - 1)
        error, freedom, used = np.sqrt(variance / blocks), blocks - 1, blocks
    else:
        mean = float(differences.mean())
        error, freedom, used = float(differences.std(ddof=1) / np.sqrt(n)), n - 1, 0
    from scipy import stats  # here: 0.4 s to import, which every CLI command paid

    half = float(stats.t.ppf(0.975, freedom)) * error
    return Paired(mean, float(error), mean - half, mean + half, n, used)
