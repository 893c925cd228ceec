"""Which events the prequential protocol asks about: computed once, shared by every model.

An event is a query when it is sampled, its user has history, and its item is new to that
user. With blocks, "before" means before the block that holds the event: a batch system sees
nothing of its current block.
"""

from __future__ import annotations

import numpy as np

from streamrec.types import IntArray


def query_positions(users: IntArray, items: IntArray, sample: int = 1,
                    block: int = 1) -> IntArray:
    """0-based positions p (ascending) with ``p % sample == 0`` whose user has an event
    before ``start(p)`` and whose item that user has not had before ``start(p)``, where
    ``start(p) = p - p % block`` (``p`` itself when ``block == 1``).

    O(n log n); ``users`` and ``items`` are dense non-negative ids in replay order.

    >>> query_positions(np.array([0, 0, 0, 1, 1]), np.array([5, 6, 5, 5, 7])).tolist()
    [1, 4]
    >>> query_positions(np.array([0, 0, 0]), np.array([5, 6, 7]), block=2).tolist()
    [2]
    """
    if sample < 1 or block < 1:
        raise ValueError("sample and block must be at least 1")
    n = int(users.shape[0])
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    positions = np.arange(n, dtype=np.int64)
    starts = positions - positions % block
    first_of_user = _first_positions(users)
    n_items = int(items.max()) + 1
    first_of_pair = _first_positions(users.astype(np.int64) * n_items + items)
    chosen = (
        (positions % sample == 0) & (first_of_user < starts) & (first_of_pair >= starts)
    )
    found: IntArray = positions[chosen]
    return found


def _first_positions(keys: IntArray) -> IntArray:
    """For each entry, the position of the first entry with the same key."""
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    found: IntArray = np.take(first, inverse.reshape(-1)).astype(np.int64)
    return found
