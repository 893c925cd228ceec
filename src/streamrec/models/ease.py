"""EASE: item-item weights by one closed-form regression, refit in the background.

Steck, "Embarrassingly Shallow Autoencoders for Sparse Data" (WWW 2019). With X the
users x items matrix of who engaged with what (1 or 0), the weights B minimise
``|X - XB|^2 + l2 |B|^2`` with a zero diagonal: ``P = (X'X + l2 I)^-1``,
``B[i, j] = -P[i, j] / P[j, j]``. A user's score for item j is the sum of ``B[i, j]`` over
the items i they had (their ``query_window`` newest). Unlike co-occurrence's cosine, the
regression explains each item by all the others at once, so a pair that is only there
because both items are popular, or because a third item explains it, weighs little: on
sparse logs (a handful of events per user) that is what leads the peers
(docs/evaluation.md).

A user needs no vector of their own: the score is a sum of rows of B over the user's
history, so every event counts at the next query (the fold-in is exact by construction).
The fit covers the ``max_items`` items most users had (the inverse is items^3), and
``l2`` scales with the data: ``l2_per_user`` times the mean number of users per covered
item, so one setting means the same in a small shop and a large one.

>>> from streamrec.types import EventBatch, Query
>>> model = EASEModel(EASEConfig(refit_min_events=1))
>>> users = np.array([0, 0, 1, 1, 2, 2, 3]); items = np.array([0, 1, 0, 1, 2, 3, 2])
>>> model.learn(EventBatch(users, items, np.ones(7), np.zeros(7)))
>>> model.refit()
>>> model.recommend(Query(4, np.array([0]), np.array([0]), 0.0), 1).items.tolist()
[1]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, Field
from threadpoolctl import ThreadpoolController

from streamrec.models.base import top_k
from streamrec.models.scores import SparseScores
from streamrec.models.sparse_rows import FrozenRows, RefitsOnRows, SparseRows
from streamrec.types import Candidates, EventBatch, FloatArray, IntArray, Query

_THREADPOOLS = ThreadpoolController()


class EASEConfig(BaseModel):
    max_items: int = Field(
        default=2_000, ge=1, le=20_000, description="Items the fit covers: those most users "
        "had (the fit inverts an items x items matrix).")
    l2_per_user: float = Field(
        default=10.0, gt=0.0, description="Regularisation as a multiple of the mean number "
        "of users per covered item (scales with the data).")
    query_window: int = Field(
        default=100, ge=1, le=10_000, description="A user's newest distinct items that their "
        "scores sum over (a read costs this many rows of the fit).")
    refit_min_events: int = Field(default=1_000, ge=1, description="No fit before this many.")
    refit_growth: float = Field(
        default=0.25, gt=0.0, description="Refit when new events reach this share of the fitted.")


@dataclass(frozen=True)
class FittedEASE:
    items: IntArray  # the covered items, sorted
    weights: np.ndarray  # (covered, covered) float32, zero diagonal


def _empty_fit() -> FittedEASE:
    return FittedEASE(np.zeros(0, np.int64), np.zeros((0, 0), np.float32))


class EASEModel(RefitsOnRows):
    name = "ease"

    def __init__(self, config: EASEConfig | None = None) -> None:
        self.config = config or EASEConfig()
        self._rows = SparseRows()  # summed event weight per (user, item)
        self.events = 0
        self.fitted_events = 0
        self._fit = _empty_fit()
        self._slot = np.full(0, -1, dtype=np.int64)  # item -> its row in the fit (-1: none)

    @property
    def is_fitted(self) -> bool:
        return self._fit.items.size > 0

    def refit_due(self) -> bool:
        new = self.events - self.fitted_events
        if self.events < self.config.refit_min_events or new <= 0:
            return False
        return not self.is_fitted or new >= self.config.refit_growth * self.fitted_events

    def learn(self, batch: EventBatch) -> None:
        if len(batch) == 0:
            return
        self._rows.add(batch.users, batch.items, batch.weights)
        self.events += len(batch)

    # -- fitting -------------------------------------------------------------------------
    def begin_refit(self) -> tuple[FrozenRows, int]:
        return self._rows.frozen(), self.events

    def fit(self, data: FrozenRows | sp.csr_matrix) -> FittedEASE:
        """The closed form on ``data`` (users x summed weights); pure, off the lock."""
        if isinstance(data, FrozenRows):
            arrays = data.csr()
            n_items = int(arrays["indices"].max()) + 1 if arrays["indices"].size else 0
            data = sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]),
                                 shape=(arrays["indptr"].size - 1, n_items))
        matrix = data.tocsr(copy=True)
        matrix.sum_duplicates()
        matrix.data = (matrix.data > 0).astype(np.float64)  # who engaged with what
        matrix.eliminate_zeros()
        users_per_item = np.asarray(matrix.sum(axis=0)).ravel()
        had = np.flatnonzero(users_per_item > 0)
        if had.size < 2:
            return _empty_fit()
        # the most-had items, ties to the lower index; kept sorted by index
        order = np.lexsort((had, -users_per_item[had]))
        items = np.sort(had[order[: self.config.max_items]])
        x = matrix[:, items]
        with _THREADPOOLS.limit(limits=1, user_api="blas"):
            gram = (x.T @ x).toarray()
            l2 = self.config.l2_per_user * float(users_per_item[items].mean())
            gram[np.diag_indices_from(gram)] += l2
            inverse = np.linalg.inv(gram)
        weights = -inverse / np.diag(inverse)[None, :]
        np.fill_diagonal(weights, 0.0)
        return FittedEASE(items.astype(np.int64), weights.astype(np.float32))

    def fit_arrays(self, fitted: FittedEASE) -> dict[str, np.ndarray]:
        return {"items": fitted.items, "weights": fitted.weights}

    def fitted_from(self, arrays: Mapping[str, np.ndarray]) -> FittedEASE:
        items = np.array(arrays["items"], dtype=np.int64)
        weights = np.array(arrays["weights"], dtype=np.float32)
        if weights.shape != (items.size, items.size):
            raise ValueError(f"weights of shape {weights.shape} are no fit of {items.size} "
                             "items")
        return FittedEASE(items, weights)

    def swap(self, fitted: FittedEASE, fitted_events: int) -> None:
        self._install(fitted)
        self.fitted_events = fitted_events

    def _install(self, fitted: FittedEASE) -> None:
        # read-only from here: a snapshot holds the fit's arrays themselves, not copies
        fitted.items.flags.writeable = False
        fitted.weights.flags.writeable = False
        self._fit = fitted
        size = int(fitted.items.max()) + 1 if fitted.items.size else 0
        slot = np.full(size, -1, dtype=np.int64)
        slot[fitted.items] = np.arange(fitted.items.size)
        self._slot = slot

    def abort_refit(self) -> None:
        """Nothing to forget: a fit holds no state until swapped in."""

    def refit(self) -> None:
        data, events = self.begin_refit()
        self.swap(self.fit(data), events)

    def merge_users(self, source: int, target: int) -> None:
        """``source``'s summed weights move onto ``target`` (the fit's data; scores read
        the merged history)."""
        cols, vals = self._rows.row(source)
        if cols.size == 0:
            return
        self._rows.add(np.full(cols.size, target, dtype=np.int64), cols, vals.copy())
        self._rows.add(np.full(cols.size, source, dtype=np.int64), cols, -vals)

    def forget_users(self, users: IntArray) -> None:
        """Their rows emptied: the next fit no longer learns from them (scores read the
        history, which the state drops)."""
        self._rows.clear(users)

    def make_room(self) -> Callable[[], None] | None:
        return self._rows.make_room()

    # -- reading -------------------------------------------------------------------------
    def _slots(self, query: Query) -> IntArray:
        """Rows of the fit for the user's distinct items whose latest event is not negative
        (a dislike brings in nothing: ranking/negatives.py)."""
        history = query.history
        if history.size == 0 or not self.is_fitted:
            return np.zeros(0, np.int64)
        recent = history[::-1]
        _, first = np.unique(recent, return_index=True)
        newest = np.sort(first)  # each item at its latest event, newest first
        if query.history_weights.size == history.size:
            newest = newest[query.history_weights[::-1][newest] >= 0]
        distinct = recent[newest][: self.config.query_window]
        distinct = distinct[distinct < self._slot.size]
        slots = self._slot[distinct]
        return slots[slots >= 0]

    def _covered_scores(self, query: Query) -> FloatArray | None:
        slots = self._slots(query)
        if slots.size == 0:
            return None
        return np.asarray(self._fit.weights[slots].sum(axis=0), dtype=np.float64)

    def dense_scores(self, query: Query, n_items: int) -> FloatArray:
        out = np.zeros(n_items, dtype=np.float64)
        scores = self._covered_scores(query)
        if scores is not None:
            items = self._fit.items
            inside = items < n_items
            out[items[inside]] = np.maximum(scores[inside], 0.0)
        return out

    def query_scores(self, query: Query, n_items: int) -> SparseScores:
        scores = self._covered_scores(query)
        if scores is None:
            return SparseScores(np.zeros(0, np.int64), np.zeros(0))
        items = self._fit.items
        keep = (items < n_items) & (scores > 0)
        return SparseScores(items[keep], scores[keep])

    def recommend(self, query: Query, k: int) -> Candidates:
        scores = self._covered_scores(query)
        if scores is None:
            return Candidates.empty()
        dense = np.full(int(self._fit.items.max()) + 1, -np.inf)
        dense[self._fit.items] = np.where(scores > 0, scores, -np.inf)
        return top_k(dense, k, query.exclude)

    def score(self, query: Query, items: IntArray) -> FloatArray:
        out = np.zeros(items.shape[0], dtype=np.float64)
        scores = self._covered_scores(query)
        if scores is None:
            return out
        known = (items >= 0) & (items < self._slot.size)
        slots = np.full(items.shape[0], -1, dtype=np.int64)
        slots[known] = self._slot[items[known]]
        fitted = slots >= 0
        out[fitted] = np.maximum(scores[slots[fitted]], 0.0)
        return out

    # -- persistence ---------------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray]:
        return self._state_with(self._rows.state("rows_"))

    def capture(self, holds: Callable[[str], bool]) -> dict[str, Any]:
        """``state`` for a snapshot: the users' rows by their changes since a base the
        snapshot store ``holds`` (models/sparse_rows.py); ``restore`` reads either."""
        return self._state_with(self._rows.capture("rows_", holds))

    def _state_with(self, rows: Mapping[str, Any]) -> dict[str, Any]:
        # the fit is never changed in place, only replaced (``_install``): its arrays are
        # shared, not copied. A copy of the weights (~100 MB at 100k items) held the GIL
        # long enough to hold reads up by ~30 ms while a snapshot was taken
        return {**rows, "fit_items": self._fit.items, "fit_weights": self._fit.weights,
                "counters": np.array([self.events, self.fitted_events])}

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        self._rows.restore(state, "rows_")
        self.events, self.fitted_events = (int(v) for v in state["counters"])
        self._install(self.fitted_from({"items": state["fit_items"],
                                        "weights": state["fit_weights"]}))
