"""The one small protocol every model speaks, and the optional ones only some models have."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from streamrec.types import Candidates, EventBatch, FloatArray, IntArray, Item, Query


@runtime_checkable
class Model(Protocol):
    """Learns from every batch of events; answers for one query at a time.

    ``state``/``restore`` round-trip exactly: a restored model scores identically.
    """

    name: str

    def learn(self, batch: EventBatch) -> None: ...

    def recommend(self, query: Query, k: int) -> Candidates: ...

    def score(self, query: Query, items: IntArray) -> FloatArray: ...

    def state(self) -> dict[str, np.ndarray]: ...

    def restore(self, state: Mapping[str, np.ndarray]) -> None: ...


@runtime_checkable
class SimilarItems(Protocol):
    """Models that can say which items are like a given one."""

    def similar(self, item: int, k: int, exclude: IntArray) -> Candidates: ...


@runtime_checkable
class DenseScorer(Protocol):
    """Models that score every item at once for a query: the hybrid ranker's input.

    Returns an array of length ``n_items``; 0 means "no opinion", higher is better."""

    def dense_scores(self, query: Query, n_items: int) -> FloatArray: ...


@runtime_checkable
class LearnsItems(Protocol):
    """Models that learn from the catalogue (attributes, text), not only from events."""

    def learn_items(self, items: Sequence[tuple[int, Item]]) -> None: ...


@runtime_checkable
class MergesUsers(Protocol):
    """Models that keep per-user state: told when one user turns out to be another (an
    anonymous session merged into its user), so ``target`` holds what ``source`` had."""

    def merge_users(self, source: int, target: int) -> None: ...


@runtime_checkable
class ForgetsUsers(Protocol):
    """Models that keep per-user state: told when users are forgotten (idle longest, past
    ``events.max_users``: engine/forgetting.py). Their indices go to the next new users, who
    must find none of it."""

    def forget_users(self, users: IntArray) -> None: ...


@runtime_checkable
class CapturesChanges(Protocol):
    """A model whose snapshot may name what an older snapshot holds and add the changes
    since (engine/state.py's ``capture``)."""

    def capture(self, holds: Callable[[str], bool]) -> dict[str, Any]:
        """``state`` for a snapshot; ``holds``: whether the snapshot store holds an array
        kept under a token (storage/snapshots.py's ``Kept``, ``AsSaved``)."""
        ...


@runtime_checkable
class MakesRoom(Protocol):
    """Models whose storage moves, now and then, to a larger block (a slab packed when it is
    full: ``sparse_rows.py``, ``windows.py``). ``make_room``: None, or that move made ahead,
    reading only, and the cheap step that puts it in place. The engine makes room before it
    takes the state's lock to learn a batch and puts it in place under the lock, so reads do
    not wait for the copying."""

    def make_room(self) -> Callable[[], None] | None: ...


def made_room(*parts: Callable[[], None] | None) -> Callable[[], None] | None:
    """One step that puts in place each part's room made ahead (None: no part made any)."""
    steps = [step for step in parts if step is not None]
    if not steps:
        return None

    def put_in_place() -> None:
        for step in steps:
            step()

    return put_in_place


class FitStopped(Exception):
    """A fit given up part way (``StopsFitting``): there is no result."""


@runtime_checkable
class StopsFitting(Protocol):
    """Refittable models whose fit can stop part way, between its steps: a shutdown gives a
    fit under way up (engine/trainer.py) and waits only until it has stopped."""

    def stop_fitting(self) -> None:
        """From now on, a fit under way or to come raises ``FitStopped`` at its next step
        (for good: the model's process is shutting down)."""
        ...


@runtime_checkable
class Refittable(Protocol):
    """Models with a heavy full fit that runs off the learner's thread.

    ``begin_refit`` (under the state lock) returns the data to fit and how many events it
    holds; ``fit`` is pure and may run in another thread; ``fit_arrays`` and ``fitted_from``
    turn its result into arrays and back (an artefact that a replay loads); ``swap`` (under
    the lock) installs the result and brings it up to date with what was learned meanwhile;
    ``abort_refit`` (under the lock) forgets a begun refit whose fit failed."""

    name: str

    def refit_due(self) -> bool: ...

    def begin_refit(self) -> tuple[Any, int]: ...

    def fit(self, data: Any) -> Any: ...

    def fit_arrays(self, fitted: Any) -> dict[str, np.ndarray]:
        """A fit as plain arrays, to save as an artefact (storage/artefacts.py)."""
        ...

    def fitted_from(self, arrays: Mapping[str, np.ndarray]) -> Any:
        """The fit that ``fit_arrays`` gave these arrays of, ready for ``swap``."""
        ...

    def data_arrays(self, data: Any) -> dict[str, Any]:
        """``begin_refit``'s data as plain arrays (or placeholders that numpy turns into
        arrays when a snapshot writer reads them)."""
        ...

    def data_from(self, arrays: Mapping[str, np.ndarray]) -> Any:
        """The data that ``data_arrays`` gave these arrays of: its fit is the same fit."""
        ...

    def swap(self, fitted: Any, fitted_events: int) -> None: ...

    def abort_refit(self) -> None: ...

    def refit(self) -> None: ...


def top_k(scores: FloatArray, k: int, exclude: IntArray | None = None) -> Candidates:
    """Best ``k`` of a dense score vector, best first; excluded and -inf entries dropped.

    Ties are broken by the lower item index so results are deterministic.

    >>> top_k(np.array([0.1, 0.9, 0.5, 0.9]), 2).items.tolist()
    [1, 3]
    """
    if exclude is not None and exclude.size:
        scores = scores.copy()
        valid = exclude[(exclude >= 0) & (exclude < scores.shape[0])]
        scores[valid] = -np.inf
    finite = np.flatnonzero(np.isfinite(scores))
    chosen = best(finite, scores[finite], k)
    if chosen.size == 0:
        return Candidates.empty()
    return Candidates(chosen, scores[chosen].astype(np.float64))


def best(items: IntArray, scores: npt.NDArray[np.floating[Any]], k: int) -> IntArray:
    """The ``k`` of ``items`` with the highest ``scores``, best first, ties to the lower item.

    >>> best(np.array([4, 1, 3]), np.array([0.2, 0.7, 0.7]), 2).tolist()
    [1, 3]
    """
    if k <= 0 or items.size == 0:
        return np.zeros(0, dtype=np.int64)
    if items.size > k:
        # argpartition then a stable sort of the survivors: O(n + k log k)
        part = np.argpartition(-scores, k - 1)[:k]
        threshold = scores[part].min()
        # every tie at the threshold, so the tie-break by item index is exact
        keep = np.flatnonzero(scores >= threshold)
        items, scores = items[keep], scores[keep]
    order = np.lexsort((items, -scores))[:k]
    return items[order].astype(np.int64)


def ranges(starts: IntArray, lengths: IntArray) -> IntArray:
    """The indices ``starts[n] .. starts[n] + lengths[n] - 1`` for each ``n``, concatenated."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(lengths) - lengths
    indices: IntArray = np.arange(total, dtype=np.int64) + np.repeat(starts - offsets, lengths)
    return indices


def doubled_rooms(sizes: IntArray, least: int, most: int = 0) -> IntArray:
    """The room that doubling from ``least`` gives a slab's rows of ``sizes`` entries: the
    power of two above each size (at least ``least``), at most ``most`` (0: no cap) but
    never below the size. A restore gives rows this room, as learning would have: with just
    their entries as room, every row the log's tail touched moved at its first addition."""
    sizes = np.asarray(sizes, dtype=np.int64)
    rooms: IntArray = 2 ** np.ceil(np.log2(np.maximum(sizes + 1, least))).astype(np.int64)
    if most > 0:
        rooms = np.maximum(np.minimum(rooms, most), sizes)
    return rooms


def own_copy(array: np.ndarray, dtype: npt.DTypeLike) -> np.ndarray:
    """``array`` itself where it is already an array of its own (no base), writeable, of
    ``dtype``, as one read back from a snapshot is; else a copy. For arrays a model keeps
    and never changes: kept as read back, a start's first snapshot knows their digests
    (storage/snapshots.py's ``adopt``) and need not hash them again."""
    if isinstance(array, np.ndarray) and array.base is None and array.flags.writeable and \
            array.flags.c_contiguous and array.dtype == np.dtype(dtype):
        return array
    return np.array(array, dtype=dtype)


def grow(array: np.ndarray, size: int, fill: float | int = 0) -> np.ndarray:
    """Return ``array`` with room for ``size`` entries (doubling), new entries set to ``fill``.

    Returns a new array when it grows, so readers holding the old one are never disturbed.
    """
    if size <= array.shape[0]:
        return array
    capacity = max(size, 2 * array.shape[0], 16)
    bigger = np.full((capacity, *array.shape[1:]), fill, dtype=array.dtype)
    bigger[: array.shape[0]] = array
    return bigger


_NORM_ROWS = 4096  # rows whose norms ``row_norms`` computes at a time


def row_norms(matrix: np.ndarray, width: int | None = None) -> FloatArray:
    """Each row's L2 norm over its first ``width`` columns (None: all), in float64, a few
    thousand rows at a time: the same sums as one pass, but the float64 copies stay small
    and in cache instead of a temporary the size of the matrix (1M items x 64: 256 MB)."""
    width = matrix.shape[1] if width is None else width
    norms = np.empty(matrix.shape[0], dtype=np.float64)
    for start in range(0, matrix.shape[0], _NORM_ROWS):
        block = matrix[start:start + _NORM_ROWS, :width].astype(np.float64)
        norms[start:start + _NORM_ROWS] = np.linalg.norm(block, axis=1)
    return norms
