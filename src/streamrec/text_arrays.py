"""Python strings to numpy text arrays a slice at a time, so other threads run in between.

One ``np.array(texts, dtype=np.str_)`` holds the interpreter's lock from start to end: for a
snapshot's 100k item ids that was ~12 ms, and every recommendation served beside the
snapshot waited for it (the attributes of 100k items: ~17 ms more). Made in slices of a
few thousand, each wait is well under a millisecond; the array is the same.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SLICE = 4096  # texts converted per hold of the lock (~0.5 ms for short ids)


def text_array(texts: Sequence[str], done: np.ndarray | None = None) -> np.ndarray:
    """``texts`` as a numpy text array, equal to ``np.array(texts, dtype=np.str_)``.
    ``done``: that array for the first ``len(done)`` texts, already made (a vocabulary only
    grows): only the rest is converted."""
    start = 0 if done is None else len(done)
    width = max(1 if done is None else done.dtype.itemsize // 4, 1)
    for at in range(start, len(texts), SLICE):
        width = max(width, max(map(len, texts[at:at + SLICE]), default=1))
    out = np.empty(len(texts), dtype=f"<U{width}")
    if done is not None:
        out[:start] = done
    for at in range(start, len(texts), SLICE):
        out[at:at + SLICE] = texts[at:at + SLICE]
    return out
