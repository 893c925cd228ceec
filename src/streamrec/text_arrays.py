"""Python strings to numpy arrays: text arrays a slice at a time, so other threads run in
between, or UTF-8 bytes one after another (``utf8_joined``).

One ``np.array(texts, dtype=np.str_)`` holds the interpreter's lock from start to end: for a
snapshot's 100k item ids that was ~12 ms, and every recommendation served beside the
snapshot waited for it (the attributes of 100k items: ~17 ms more). Made in slices of a
few thousand, each wait is well under a millisecond; the array is the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

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


def utf8_joined(texts: Sequence[str | bytes]) -> tuple[np.ndarray, np.ndarray]:
    """``texts`` as one array of their UTF-8 bytes (bytes: taken as they are), one text
    after another, and where each ends: as long as the texts themselves. A text array is as
    wide as its longest text for every row (the attributes of 100k items: 47 MiB as text, 11
    MiB as bytes), and making one beside reads held one of them ~10 ms at each snapshot
    (bench/RESULTS.md, "a snapshot's attributes")."""
    encoded = [text.encode() if isinstance(text, str) else text for text in texts]
    ends = np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)))
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), ends


def utf8_split(joined: np.ndarray, ends: np.ndarray) -> list[str]:
    """The texts ``utf8_joined`` made these arrays of."""
    raw = joined.tobytes()
    return [raw[start:end].decode() for start, end in pairwise([0, *ends.tolist()])]
