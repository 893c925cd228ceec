"""Matrix factorisation for implicit feedback: implicit's ALS, refit in the background,
with every new event folded into its user's vector in between.

Hu, Koren and Volinsky, "Collaborative Filtering for Implicit Feedback Datasets" (ICDM 2008).
Confidence of a user-item pair is ``1 + alpha * w`` where ``w`` is the summed event weight;
a negative sum means "not this" with that confidence. Fold-in is the exact least-squares
solve for one user with the item factors fixed (implicit's ``recalculate_user``), so a new
user has a vector from their first event.

The fold-in is lazy: learning only marks the user's row as changed since the serving fit's
data was taken, and the solve runs when their vector is read (a query, a test), once per
change. A user's vector is a function of the fit and their row now: the fit's own vector
while their row is what the fit saw, the solve of their row once it changed. So the value is
the same whenever it is computed, and the state holds what defines it (the fit's vectors and
which rows changed, ``changed_users``), never the solves. At scale most learning users are
not asked for in between two of their events: an eager solve per learning user was 15% of
the learner's time at 4M events (issue 18), and a fit's swap re-folded every user touched
during the fit under the state lock.

``algorithm="bpr"`` fits implicit's BPR instead (Rendle et al., UAI 2009) on the liked pairs.
BPR has no closed-form fold-in, and the least-squares one fits its factors badly (they are not
scaled to predict 0 for every other item: a new user's list came out as noise), so between
refits a user's vector is the confidence-weighted mean of their items' vectors, with 1 in
BPR's bias column, as its own user vectors have: every event still counts at once.

>>> from streamrec.types import EventBatch, Query
>>> model = ALSModel(ALSConfig(factors=4, iterations=5))
>>> users = np.array([0, 0, 1, 1, 2, 2]); items = np.array([0, 1, 0, 1, 2, 3])
>>> model.learn(EventBatch(users, items, np.ones(6), np.zeros(6)))
>>> model.refit()
>>> model.learn(EventBatch(np.array([3]), np.array([0]), np.ones(1), np.zeros(1)))
>>> model.recommend(Query(3, np.array([0]), np.array([0]), 0.0), 1).items.tolist()
[1]
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from implicit.cpu.bpr import BayesianPersonalizedRanking
from pydantic import BaseModel, Field
from threadpoolctl import ThreadpoolController

from streamrec.models.base import FitStopped, grow, own_copy, row_norms, top_k
from streamrec.models.scores import (
    BoundedScores,
    DenseScores,
    NormOrder,
    QueryScores,
    SparseScores,
    bounded_reads,
)
from streamrec.models.sparse_rows import FrozenRows, RefitsOnRows, SparseRows
from streamrec.storage.snapshots import unchanging
from streamrec.types import Candidates, EventBatch, FloatArray, IntArray, Query

# found once: discovering the loaded BLAS libraries reads /proc and costs milliseconds
_THREADPOOLS = ThreadpoolController()


class ALSConfig(BaseModel):
    factors: int = Field(default=64, ge=1, le=1024)
    regularization: float = Field(default=0.05, ge=0.0)
    alpha: float = Field(default=2.0, gt=0.0, description="Confidence per unit of event weight.")
    iterations: int = Field(default=15, ge=1)
    algorithm: Literal["als", "bpr"] = Field(
        default="als", description="'bpr': implicit's BPR for the refits (fold-in between "
        "them: the weighted mean of the user's item vectors).")
    bpr_learning_rate: float = Field(default=0.05, gt=0.0)
    bpr_regularization: float = Field(default=0.01, ge=0.0)
    bpr_iterations: int = Field(default=100, ge=1)
    refit_min_events: int = Field(default=5_000, ge=1, description="No refit before this many.")
    refit_growth: float = Field(
        default=0.25, gt=0.0, description="Refit when new events reach this share of the fitted."
    )
    seed: int = 0
    max_items_per_user: int = Field(
        default=1000, ge=0,
        description="Items kept per user for fold-ins and refits: after every this many new "
        "events, a user keeps the items they weigh most (summed event weight, either sign), "
        "so fold-in costs the same however long a user stays; 0: every item ever touched.")


def confidence(weights: FloatArray, alpha: float) -> FloatArray:
    """``1 + alpha * w`` for liked pairs, ``-(1 + alpha * |w|)`` for disliked ones."""
    return np.sign(weights) * (1.0 + alpha * np.abs(weights))


def _csr_matrix(rows: FrozenRows) -> sp.csr_matrix:
    arrays = rows.csr()
    n_items = int(arrays["indices"].max()) + 1 if arrays["indices"].size else 0
    return sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]),
                         shape=(arrays["indptr"].size - 1, n_items))


def _folding_solver(item_factors: np.ndarray, user_factors: np.ndarray,
                    regularization: float) -> AlternatingLeastSquares:
    """An ALS solver holding fixed factors: ALS folds users in with it
    (``recalculate_user``); for BPR it only holds them."""
    solver = AlternatingLeastSquares(factors=item_factors.shape[1],
                                     regularization=regularization, alpha=1.0, num_threads=1)
    solver.item_factors = item_factors
    solver.user_factors = user_factors
    return solver


def _norms_of(item_factors: np.ndarray, user_factors: np.ndarray
              ) -> tuple[FloatArray, NormOrder, int]:
    """Each row's norm, in float64 (1 where it is 0: ``similar``'s cosines), a block of
    rows at a time (``row_norms``: one pass's temporary the size of all the factors was most
    of a restart's time here, 0.2 s at 100k items, 4x the blocked loop); the rows by
    falling norm, for exact candidates without a pass over every item (``BoundedScores``);
    and how many rows such a top 100 reads for the fit's users (``bounded_reads``)."""
    norms = row_norms(item_factors)
    order = NormOrder.of(item_factors, norms)
    return np.where(norms > 0, norms, 1.0), order, bounded_reads(order, user_factors)


@dataclass(frozen=True)
class FittedALS:
    """A fit ready to swap in, with what costs time (item norms) computed off the lock."""

    solver: AlternatingLeastSquares
    item_factors: np.ndarray  # the array that serves, and that an ANN index is built from
    item_norms: FloatArray
    order: NormOrder
    exact_reads: int  # rows an exact top 100 reads (``bounded_reads``)

    @classmethod
    def of(cls, solver: AlternatingLeastSquares, folds_in: bool = True) -> FittedALS:
        """``folds_in``: ALS's solver, whose fold-ins need the item factors' Gram matrix
        (``squared``); BPR's only holds its factors."""
        factors = np.asarray(solver.item_factors)
        if folds_in:
            squared(solver)
        return cls(solver, factors, *_norms_of(factors, np.asarray(solver.user_factors)))


def squared(solver: AlternatingLeastSquares) -> None:
    """Compute the Gram matrix of the item factors that every fold-in solves against
    (implicit's ``YtY``) now, where a fit or a restore is made. implicit computes it on the
    first ``recalculate_user`` and keeps it: that was the first read after each refit or
    restart, which waited ~80 ms for it at 1M items (a 1M x 64 product on one BLAS thread);
    readers only read it afterwards."""
    solver.YtY  # noqa: B018  (implicit's cached property: computed and kept on first use)


class ALSModel(RefitsOnRows):
    name = "als"

    def __init__(self, config: ALSConfig | None = None) -> None:
        self.config = config or ALSConfig()
        # summed event weight per (user, item), each user's strongest items within the budget
        self._rows = SparseRows(self.config.max_items_per_user or None)
        self._user_factors = np.zeros((0, self.config.factors), dtype=np.float32)
        # the serving fit's user vectors, as it gave them (``_user_factors`` starts as a copy)
        self._fit_users = self._user_factors
        self._item_factors = np.zeros((0, self.config.factors), dtype=np.float32)
        self._solver: AlternatingLeastSquares | None = None
        self.events = 0
        self.fitted_events = 0
        self._item_norms: FloatArray = np.zeros(0)
        self._order: NormOrder | None = None  # of the item factors
        self._exact_reads = 0  # rows its exact top 100 reads (``exact_reads``)
        # users who learned while a fit was running: re-folded once it is swapped in
        self._touched_during_fit: set[int] | None = None
        # per user: their row changed since the serving fit's data was taken, so their vector
        # is the solve of their row (state); and that solve is in ``_user_factors`` (a cache,
        # filled by readers). Both as long as ``_user_factors``.
        self._changed = np.zeros(0, dtype=bool)
        self._solved = np.zeros(0, dtype=bool)
        self._stopping = threading.Event()  # set for good by ``stop_fitting``

    @property
    def is_fitted(self) -> bool:
        return self._solver is not None

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
        users = np.unique(batch.users)
        if self._touched_during_fit is not None:
            self._touched_during_fit.update(users.tolist())
        if self._solver is not None:
            self.fold_in(users)

    # -- fitting -------------------------------------------------------------------------
    def matrix(self) -> sp.csr_matrix:
        """Summed event weights, users x items (a consistent copy; take it under the lock)."""
        return _csr_matrix(self._rows.frozen())

    def fit(self, weights: sp.csr_matrix | FrozenRows) -> FittedALS:
        """A full fit on ``weights`` (users x items); pure, so it can run off the lock."""
        if isinstance(weights, FrozenRows):
            weights = _csr_matrix(weights)
        config = self.config
        if self._stopping.is_set():
            raise FitStopped("the ALS fit stopped before it began")
        matrix = weights.tocsr(copy=True).astype(np.float32)
        matrix.sum_duplicates()
        matrix.data = confidence(matrix.data, config.alpha).astype(np.float32)
        matrix.eliminate_zeros()
        # threaded BLAS inside a fit that runs beside serving only fights for the same cores
        with _THREADPOOLS.limit(limits=1, user_api="blas"):
            if config.algorithm == "bpr":
                return FittedALS.of(self._fit_bpr(matrix), folds_in=False)
            solver = AlternatingLeastSquares(
                factors=config.factors, regularization=config.regularization, alpha=1.0,
                iterations=config.iterations, random_state=config.seed, num_threads=1,
            )
            solver.fit(matrix, show_progress=False, callback=self._stop_if_asked)
        return FittedALS.of(solver)

    def _stop_if_asked(self, iteration: int, *_: Any) -> None:
        """Called by implicit after each iteration (seconds each at 1M items)."""
        if self._stopping.is_set():
            raise FitStopped(f"the ALS fit stopped after iteration {iteration + 1}")

    def stop_fitting(self) -> None:
        """A fit under way stops after its current iteration, and so does every later one:
        a thread left inside implicit's solver when the process exits crashed it (OpenBLAS:
        "Bad memory unallocation", then SIGSEGV) after a clean shutdown."""
        self._stopping.set()

    def _fit_bpr(self, confidences: sp.csr_matrix) -> AlternatingLeastSquares:
        """BPR on the liked pairs (it reads any stored pair as liked), returned as the solver
        that folds users in against its item factors."""
        config = self.config
        liked = confidences.copy()
        liked.data = (liked.data > 0).astype(np.float32)
        liked.eliminate_zeros()
        bpr = BayesianPersonalizedRanking(
            factors=config.factors, learning_rate=config.bpr_learning_rate,
            regularization=config.bpr_regularization, iterations=config.bpr_iterations,
            random_state=config.seed, num_threads=1)
        bpr.fit(liked, show_progress=False, callback=self._stop_if_asked)
        return _folding_solver(np.asarray(bpr.item_factors), np.asarray(bpr.user_factors),
                               config.regularization)

    def fit_arrays(self, fitted: FittedALS) -> dict[str, np.ndarray]:
        return {"item_factors": np.asarray(fitted.item_factors),
                "user_factors": np.asarray(fitted.solver.user_factors)}

    def fitted_from(self, arrays: Mapping[str, np.ndarray]) -> FittedALS:
        """The fit these factors are, folding users in as a fit or a restored snapshot
        does: one path for the live engine, a replay and a restart."""
        items = np.array(arrays["item_factors"], dtype=np.float32)
        users = np.array(arrays["user_factors"], dtype=np.float32)
        if items.ndim != 2 or users.ndim != 2 or items.shape[1] != users.shape[1]:
            raise ValueError(f"factors of shapes {items.shape} and {users.shape} are no fit")
        return FittedALS.of(_folding_solver(items, users, self.config.regularization),
                            folds_in=self.config.algorithm != "bpr")

    def serving_vectors(self, fitted: FittedALS) -> np.ndarray:
        """The item vectors ``fitted`` will serve once swapped in (``item_vectors()`` then
        returns this very array), so an index of them can be built before the swap."""
        return fitted.item_factors

    def begin_refit(self) -> tuple[FrozenRows, int]:
        """The data to fit (a frozen copy: its matrix is built in the fit's thread) and how
        many events it holds; from now on learning users are remembered so ``swap`` can
        re-fold them. Call under the state lock."""
        self._touched_during_fit = set()
        return self._rows.frozen(), self.events

    def swap(self, fitted: FittedALS, fitted_events: int) -> None:
        """Serve from a new fit, then re-fold users whose events came after it was taken.
        Call under the state lock."""
        refold = np.array(sorted(self._touched_during_fit or ()), dtype=np.int64)
        self._touched_during_fit = None
        self._solver = fitted.solver
        self._item_factors = unchanging(fitted.item_factors)
        self._item_norms, self._order = fitted.item_norms, fitted.order
        self._exact_reads = fitted.exact_reads
        self._fit_users = unchanging(np.asarray(fitted.solver.user_factors))
        self._user_factors = self._fit_users.copy()
        self._changed = np.zeros(self._user_factors.shape[0], dtype=bool)
        self._solved = np.zeros(self._user_factors.shape[0], dtype=bool)
        self.fitted_events = fitted_events
        self.fold_in(refold)

    def abort_refit(self) -> None:
        """The fit begun last failed: keep serving the previous one. Under the state lock."""
        self._touched_during_fit = None

    def refit(self) -> None:
        """Fit and swap in one step (evaluation and tests; the engine's trainer splits it)."""
        matrix, events = self.begin_refit()
        self.swap(self.fit(matrix), events)

    def fold_in(self, users: IntArray) -> None:
        """Mark ``users``' rows changed: their vectors are solved again when next read
        (``_solve``). Under the state lock (a writer)."""
        if self._solver is None or users.size == 0:
            return
        self._user_factors = grow(self._user_factors, int(users.max()) + 1)
        self._changed = grow(self._changed, self._user_factors.shape[0])
        self._solved = grow(self._solved, self._user_factors.shape[0])
        self._changed[users] = True
        self._solved[users] = False

    def _solve(self, users: IntArray) -> None:
        """The vectors of ``users`` (rows changed since the fit) with the item factors fixed:
        the exact least-squares solve (ALS), or the weighted mean of their items' vectors
        (BPR); 0 for a row whose weights all cancel out (a merged-away user). Readers may call
        it side by side: each writes the same values (a function of the fit and the rows,
        which only writers change), the vector before the flag that says it is there."""
        assert self._solver is not None
        matrix, cancelled = self._summed_rows(users, self._item_factors.shape[0])
        if self.config.algorithm == "bpr":
            vectors = self._mean_item_vectors(matrix)
        else:
            vectors = self._solver.recalculate_user(users, matrix)
        vectors[cancelled] = 0.0
        self._user_factors[users] = vectors
        self._solved[users] = True

    def _mean_item_vectors(self, confidences: sp.csr_matrix) -> np.ndarray:
        """BPR's fold-in: per row, the confidence-weighted mean of the items' factor vectors
        (a disliked item's weight is negative), and 1 in the bias column."""
        # the product with every column, bias too, then the bias dropped: slicing or
        # converting the factors first would copy all of them on every batch
        sums = np.asarray(confidences @ self._item_factors)[:, :-1]
        totals = np.asarray(abs(confidences).sum(axis=1)).ravel()
        vectors = np.ones((confidences.shape[0], self._item_factors.shape[1]), dtype=np.float32)
        vectors[:, :-1] = sums / np.where(totals > 0, totals, 1.0)[:, None]
        return vectors

    def _summed_rows(self, users: IntArray, n_items: int) -> tuple[sp.csr_matrix, np.ndarray]:
        """Confidence rows of ``users`` over the fitted items: one compiled pass gathers
        them (each row's columns sorted and unique, its pending additions summed in); and
        which rows hold entries whose weights all cancel out (summed from the arrays: the
        matrix's own sums cost more than the solve of one user on a read)."""
        cols, vals, lengths = self._rows.gather(users)
        known = cols < n_items
        rows = np.repeat(np.arange(users.size, dtype=np.int64), lengths)[known]
        weights = confidence(vals[known], self.config.alpha).astype(np.float32)
        held = np.bincount(rows, minlength=users.size)
        cancelled = (held > 0) & (np.bincount(rows, weights=np.abs(weights),
                                              minlength=users.size) == 0)
        indptr = np.zeros(users.size + 1, dtype=np.int64)
        np.cumsum(held, out=indptr[1:])
        matrix = sp.csr_matrix((weights, cols[known], indptr), shape=(users.size, n_items))
        return matrix, cancelled

    def merge_users(self, source: int, target: int) -> None:
        """Move ``source``'s summed weights onto ``target`` and fold ``target`` in again.
        ``source``'s entries become exact zeros (fits drop them) and its vector is cleared."""
        cols, vals = self._rows.row(source)
        if cols.size == 0:
            return
        self._rows.add(np.full(cols.size, target, dtype=np.int64), cols, vals.copy())
        self._rows.add(np.full(cols.size, source, dtype=np.int64), cols, -vals)
        if self._touched_during_fit is not None:
            self._touched_during_fit.update((source, target))
        self.fold_in(np.array([source, target], dtype=np.int64))

    def forget_users(self, users: IntArray) -> None:
        """Their rows emptied: a fit no longer learns from them, and their vectors are
        solved again (to zeros) when read, or at a fit's swap if one is under way."""
        self._rows.clear(users)
        if self._touched_during_fit is not None:
            self._touched_during_fit.update(users.tolist())
        self.fold_in(users)

    def make_room(self) -> Callable[[], None] | None:
        return self._rows.make_room()

    def budgets(self) -> dict[str, dict[str, Any]]:
        """Each bounded part against its setting (``engine/sizes.py``)."""
        return {"models.als.items_per_user": self._rows.budget("models.als.max_items_per_user",
                                                                "user")}

    # -- reading -------------------------------------------------------------------------
    # Reads multiply in float32, as the factors are stored: converting a 100k x 64 matrix
    # to float64 on every query cost more than the product itself.
    def _user_vector(self, query: Query) -> np.ndarray | None:
        user = query.user
        if user is None or user >= self._user_factors.shape[0]:
            return None
        if self._changed[user] and not self._solved[user]:
            self._solve(np.array([user], dtype=np.int64))
        vector = self._user_factors[user]
        return None if not vector.any() else vector

    def dense_scores(self, query: Query, n_items: int) -> FloatArray:
        out = np.zeros(n_items, dtype=np.float64)
        vector = self._user_vector(query)
        if vector is not None:
            scores = self._item_factors[:n_items] @ vector
            out[: scores.shape[0]] = scores
        return out

    def query_scores(self, query: Query, n_items: int) -> QueryScores:
        """Exact, in float32 as stored: the items by falling factor norm until no item left
        can beat the best found (``BoundedScores``: at 1M items, 0.4-1.5% of the product)."""
        vector = self._user_vector(query)
        if vector is None:
            return SparseScores(np.zeros(0, np.int64), np.zeros(0))
        order = self._order
        if order is None or order.matrix is not self._item_factors:
            return DenseScores(self._item_factors[:n_items] @ vector)
        return BoundedScores(order, vector, n_items)

    def exact_reads(self) -> int:
        """Rows an exact top 100 reads (``BoundedQueries``), measured at the fit on its users:
        serving takes the exact pass over an ANN index where that is few (ranking/ann.py)."""
        return self._exact_reads if self._order is not None else self._item_factors.shape[0]

    def exact_reads_of(self, fitted: FittedALS) -> int:
        """``exact_reads`` once ``fitted`` serves (``prepare_swap``)."""
        return fitted.exact_reads

    def item_vectors(self) -> np.ndarray:
        """The item factors: a refit replaces the array, nothing changes it in place (an ANN
        index built from it stays right while it serves, ``ranking/ann.py``)."""
        return self._item_factors

    def query_vector(self, query: Query) -> np.ndarray | None:
        return self._user_vector(query)

    def recommend(self, query: Query, k: int) -> Candidates:
        vector = self._user_vector(query)
        if vector is None:
            return Candidates.empty()
        scores = (self._item_factors @ vector).astype(np.float64)
        return top_k(scores, k, query.exclude)

    def score(self, query: Query, items: IntArray) -> FloatArray:
        out = np.zeros(items.shape[0], dtype=np.float64)
        vector = self._user_vector(query)
        if vector is None:
            return out
        known = (items >= 0) & (items < self._item_factors.shape[0])
        # the product recommend takes, then its entries: a product with only these rows
        # rounds differently in float32, and score must agree with recommend exactly
        out[known] = (self._item_factors @ vector)[items[known]]
        return out

    def similar(self, item: int, k: int, exclude: IntArray) -> Candidates:
        if item >= self._item_factors.shape[0]:
            return Candidates.empty()
        factors = self._item_factors
        norms = self._item_norms
        scores = (factors @ factors[item]).astype(np.float64) / (norms * norms[item])
        found = top_k(scores, k, np.r_[exclude, item])
        return Candidates(found.items, found.scores, np.full(len(found), item, dtype=np.int64))

    # -- persistence ---------------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray]:
        return self._state_with(self._rows.state("rows_"))

    def capture(self, holds: Callable[[str], bool]) -> dict[str, Any]:
        """``state`` for a snapshot: the users' rows by their changes since a base the
        snapshot store ``holds`` (models/sparse_rows.py); ``restore`` reads either."""
        return self._state_with(self._rows.capture("rows_", holds))

    def _state_with(self, rows: Mapping[str, Any]) -> dict[str, Any]:
        """The rows, the fit's factors, and which users' rows changed since the fit: their
        vectors are solves of their rows, made again when read. The users' vectors are the
        fit's as it gave them (replaced at a swap, never changed: a snapshot hashes and
        writes them once a fit), not the vectors readers solved since: at 200,000 users
        their copy was 0.5-0.7 s of every snapshot's copies, and 50-100 MiB it wrote."""
        state = {
            **rows,
            "fit_user_factors": self._fit_users,
            "user_rows": np.array([self._user_factors.shape[0]]),
            "changed_users": np.flatnonzero(self._changed),
            "item_factors": self._item_factors,  # replaced at a swap, never changed
            "counters": np.array([self.events, self.fitted_events, int(self.is_fitted)]),
        }
        if self._touched_during_fit is not None:  # a fit is pending: who to re-fold at its swap
            state["touched_during_fit"] = np.array(sorted(self._touched_during_fit),
                                                   dtype=np.int64)
        return state

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        self._rows.restore(state, "rows_")
        self.events, self.fitted_events, fitted = (int(v) for v in state["counters"])
        self._item_factors = unchanging(own_copy(state["item_factors"], np.float32))
        # a snapshot from before lazy fold-ins holds every vector solved: none changed
        changed = np.asarray(state.get("changed_users", ()), dtype=np.int64)
        if "fit_user_factors" in state:
            self._fit_users = unchanging(own_copy(state["fit_user_factors"], np.float32))
            self._user_factors = np.zeros((int(state["user_rows"][0]),
                                           self._fit_users.shape[1]), dtype=np.float32)
            self._user_factors[: self._fit_users.shape[0]] = self._fit_users
            self._user_factors[changed] = 0.0
        else:  # before the fit's vectors were kept: the changed users' are 0 (never read;
            # the same vectors served, in arrays as long as the saved ones)
            self._user_factors = np.array(state["user_factors"], dtype=np.float32)
            self._fit_users = unchanging(self._user_factors.copy())
        self._changed = np.zeros(self._user_factors.shape[0], dtype=bool)
        self._changed[changed] = True
        self._solved = np.zeros(self._user_factors.shape[0], dtype=bool)
        touched = state.get("touched_during_fit")
        self._touched_during_fit = None if touched is None else set(touched.tolist())
        self._solver = None
        if fitted:
            self._solver = _folding_solver(self._item_factors, self._fit_users,
                                           self.config.regularization)
            if self.config.algorithm != "bpr":
                squared(self._solver)
            self._item_norms, self._order, self._exact_reads = _norms_of(
                self._item_factors, self._fit_users)
