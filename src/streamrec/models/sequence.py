"""A sequence model: a GRU over the user's latest items, and an item tower that reads content.

The user's vector is a GRU's last state over the embeddings of their latest ``context`` items
(GRU4Rec: Hidasi et al., "Session-based Recommendations with Recurrent Neural Networks",
ICLR 2016), read from ``Query.history`` at request time: every event changes the next answer
at once, with no weight touched. An item's embedding is its own learned vector plus the mean
of the vectors of its content tokens (attribute values and words, hashed: ``item_tokens``),
so an item that only the catalogue knows has an embedding before anyone touches it (id
dropout in training teaches the content part to stand alone). Scores are inner products.

The weights are refit in the background on the positive events of the log, warm-started from
the previous fit (``sequence_training.py``: sampled softmax with a logQ correction, dropout,
early stopping on a held-out tail; seeded, one thread, deterministic on CPU), and swapped in
at a logged ``$refit-end`` like ALS's (engine/refits.py), whose artefact is a safetensors
file named by its SHA-256. Serving needs numpy only: the forward pass is written here (one
pass per request, ~0.1-0.3 ms), so torch is needed to train, never to serve or replay.

Scores are shifted to be positive (a query vector's last entry is ``|u| x max |e|``, an
item's is 1), because only a positive score makes a candidate: the order is the model's.

>>> from streamrec.types import EventBatch, Query
>>> model = SequenceModel()
>>> model.recommend(Query(0, np.array([1, 2]), np.zeros(0, np.int64), 0.0), 3).items.tolist()
[]
"""

from __future__ import annotations

import functools
import importlib.util
import re
import threading
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from streamrec.models.base import FitStopped, own_copy, row_norms, top_k
from streamrec.models.scores import DenseScores, QueryScores, SparseScores
from streamrec.models.sequence_config import EpochReport, Progress, SequenceConfig, TrainingData
from streamrec.models.text_vectors import item_tokens
from streamrec.storage.snapshots import unchanging
from streamrec.types import Candidates, EventBatch, FloatArray, IntArray, Item, Query

Float32Array = npt.NDArray[np.float32]
_WORD = re.compile(r"[^\W_]+")
# the names of a fit's arrays: the artefact's, and a snapshot's under ``WEIGHT_PREFIX``
WEIGHT_NAMES = ("item_embeddings", "content_embeddings", "gru_weight_ih", "gru_weight_hh",
                "gru_bias_ih", "gru_bias_hh", "output_weight", "output_bias")
WEIGHT_PREFIX = "weight_"


@functools.cache
def is_trainable() -> bool:
    """Whether torch is installed (the 'deep' extra): without it there are no refits. Found,
    not imported: the trainer asks under the state's lock, and importing torch there held
    every read ~0.8 s (bench/RESULTS.md, "reads behind a pack"); fits import it in their own
    process. Asked once: the answer holds for the process's life."""
    try:
        return importlib.util.find_spec("torch") is not None
    except ImportError:  # a finder that refuses it (tests/integration/test_without_torch.py)
        return False


def content_token_ids(item: Item, buckets: int, limit: int) -> list[int]:
    """The item's first ``limit`` distinct content tokens, hashed (CRC-32: the same in every
    process, unlike ``hash``) into ``buckets`` rows."""
    found: dict[int, None] = {}
    for token in item_tokens(item, lambda text: _WORD.findall(text.lower()), frozenset()):
        found.setdefault(zlib.crc32(token.encode()) % buckets, None)
        if len(found) >= limit:
            break
    return list(found)


def content_matrix(tokens: npt.NDArray[np.int32], buckets: int) -> sp.csr_matrix:
    """(items, buckets): each row the mean over the item's tokens (-1 is padding)."""
    valid = tokens >= 0
    counts = valid.sum(axis=1)
    indptr = np.zeros(tokens.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    # built as CSR directly (row-major order is the rows' order): half the time of the
    # COO route at 1M items, a restart's largest single step in this model
    values = np.repeat((1.0 / np.maximum(counts, 1)).astype(np.float32), counts)
    matrix = sp.csr_matrix((values, tokens[valid], indptr), shape=(tokens.shape[0], buckets))
    matrix.sort_indices()  # as the COO route left them: the product sums in the same order
    return matrix


def item_vectors_of(weights: Mapping[str, np.ndarray], tokens: npt.NDArray[np.int32],
                    items: IntArray | None = None) -> Float32Array:
    """The embeddings (own vector + mean content vector) of ``items`` (default: 0 to n - 1),
    whose tokens these are, with the shift column: 1 for items the model knows anything
    about, 0 (never a candidate) for the others. Each row is computed alone: the rows of a
    few items equal theirs among every item's, to the bit."""
    own, content = weights["item_embeddings"], weights["content_embeddings"]
    n = tokens.shape[0]
    vectors = np.zeros((n, own.shape[1] + 1), dtype=np.float32)
    if items is None:
        fitted = min(n, own.shape[0])
        vectors[:fitted, :-1] = own[:fitted]
    else:  # items the fit saw have their own vector; those added since, content alone
        trained = items < own.shape[0]
        vectors[trained, :-1] = own[items[trained]]
    vectors[:, :-1] += content_matrix(tokens, content.shape[0]) @ content
    vectors[:, -1] = (vectors[:, :-1] != 0).any(axis=1)
    return vectors


def _sigmoid(x: Float32Array) -> Float32Array:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)), dtype=np.float32)


def encode(weights: Mapping[str, np.ndarray], inputs: Float32Array) -> Float32Array:
    """The user vector for item embeddings ``inputs`` (oldest first): the GRU's last state
    through the output layer. PyTorch's GRU equations (gates r, z, n), in float32."""
    w_hh, b_hh = weights["gru_weight_hh"], weights["gru_bias_hh"]
    hidden = w_hh.shape[1]
    gates_in = inputs @ weights["gru_weight_ih"].T + weights["gru_bias_ih"]
    h = np.zeros(hidden, dtype=np.float32)
    for step in gates_in:
        gates_h = w_hh @ h + b_hh
        r = _sigmoid(step[:hidden] + gates_h[:hidden])
        z = _sigmoid(step[hidden:2 * hidden] + gates_h[hidden:2 * hidden])
        n = np.tanh(step[2 * hidden:] + r * gates_h[2 * hidden:])
        h = (1.0 - z) * n + z * h
    return np.asarray(weights["output_weight"] @ h + weights["output_bias"], dtype=np.float32)


@dataclass(frozen=True)
class FittedSequence:
    weights: Mapping[str, np.ndarray]
    curves: FloatArray  # per epoch: loss, held-out HR@10, NDCG@10




def _unchanging(data: TrainingData) -> TrainingData:
    """A fit's data, and the weights it starts from, are read and never written: a snapshot
    taken while the fit is pending hashes them once (366 MiB at 1M items)."""
    for array in (data.users, data.items, data.tokens, *(data.previous or {}).values()):
        unchanging(array)
    return data


class SequenceModel:
    name = "sequence"
    artefact_format = "safetensors"  # storage/artefacts.py

    def __init__(self, config: SequenceConfig | None = None) -> None:
        self.config = config or SequenceConfig()
        self._users = np.zeros(0, dtype=np.int32)  # positive events, log order (the newest)
        self._items = np.zeros(0, dtype=np.int32)
        self._size = 0
        self._tokens = np.full((0, self.config.content_tokens), -1, dtype=np.int32)
        # declared ``unchanging`` (replaced at a swap, never written): a snapshot takes them
        # as they are and hashes them once per fit
        self._weights: dict[str, np.ndarray] | None = None
        self._vectors: Float32Array = np.zeros((0, self.config.dimensions + 1), np.float32)
        self._max_norm = 0.0
        # counts changes to ``_tokens``' contents (after each), so vectors computed off the
        # lock for a fit (``serving_vectors``) are known to be what ``swap`` would compute
        self._token_changes = 0
        # the token table as ``state`` gives it (read-only), made again only after a change:
        # a snapshot hashes an unchanged one once (156 MiB at 1M items)
        self._saved_tokens: tuple[int, npt.NDArray[np.int32]] | None = None
        self._prepared: tuple[FittedSequence, int, int, Float32Array] | None = None
        self.events = 0
        self.fitted_events = 0
        self.curves: FloatArray = np.zeros((0, 3))
        # told how training goes (``streamrec train``'s bar, TensorBoard): not state
        self.progress: Progress | None = None
        self.epoch_report: EpochReport | None = None
        self.curves_dir: Path | None = None  # TensorBoard runs and PNGs (sequence_curves.py)
        self._stopping = threading.Event()  # set for good by ``stop_fitting``
        # fits in a child process (sequence_process.py): the engine's background refits
        self.fit_in_child = False
        self.fit_dir: Path | None = None  # where a child's job files go (None: temp dir)

    @property
    def is_fitted(self) -> bool:
        return self._weights is not None

    # -- learning ------------------------------------------------------------------------
    def learn(self, batch: EventBatch) -> None:
        liked = batch.weights > 0
        count = int(liked.sum())
        self.events += len(batch)
        self._grow_tokens(int(batch.items.max()) + 1 if len(batch) else 0)
        if count == 0:
            return
        needed = self._size + count
        if needed > self._users.shape[0]:
            capacity = max(needed, 2 * self._users.shape[0], 1024)
            self._users = np.resize(self._users, capacity)
            self._items = np.resize(self._items, capacity)
        self._users[self._size:needed] = batch.users[liked]
        self._items[self._size:needed] = batch.items[liked]
        self._size = needed
        keep = self.config.max_training_events
        if self._size > 2 * keep:  # amortised: drop the oldest once twice as many are held
            self._users = self._users[self._size - keep:self._size].copy()
            self._items = self._items[self._size - keep:self._size].copy()
            self._size = keep

    def learn_items(self, items: Sequence[tuple[int, Item]]) -> None:
        if not items:
            return
        self._grow_tokens(max(index for index, _ in items) + 1)
        config = self.config
        changed = np.array([index for index, _ in items], dtype=np.int64)
        for index, item in items:
            ids = content_token_ids(item, config.content_buckets, config.content_tokens)
            self._tokens[index] = -1
            self._tokens[index, :len(ids)] = ids
        self._token_changes += 1
        if self._weights is not None:  # new array: an index built from the old stays right
            vectors = self._vectors_for(max(self._vectors.shape[0], int(changed.max()) + 1))
            vectors[changed] = item_vectors_of(self._weights, self._tokens[changed], changed)
            self._set_vectors(vectors)

    def _grow_tokens(self, n: int) -> None:
        if n > self._tokens.shape[0]:
            grown = np.full((max(n, 2 * self._tokens.shape[0], 16), self._tokens.shape[1]), -1,
                            dtype=np.int32)
            grown[: self._tokens.shape[0]] = self._tokens
            self._tokens = grown

    def merge_users(self, source: int, target: int) -> None:
        users = self._users[: self._size]
        users[users == source] = target

    def forget_users(self, users: IntArray) -> None:
        """Their training events stay, each user's as a sequence of its own under a label
        no index takes (-1 - the index), so the next user of the index starts a new one. (A
        second forget of the same index joins the two old sequences; both are past.)"""
        held = self._users[: self._size]
        forgotten = np.isin(held, users)
        held[forgotten] = -1 - held[forgotten]

    # -- refits (engine/refits.py) -------------------------------------------------------
    def refit_due(self) -> bool:
        config = self.config
        new = self.events - self.fitted_events
        if not config.enabled or self.events < config.refit_min_events or new <= 0:
            return False
        due = not self.is_fitted or new >= config.refit_growth * self.fitted_events
        return due and is_trainable()

    def begin_refit(self) -> tuple[TrainingData, int]:
        n_items = self._known_items()
        previous = dict(self._weights) if self.config.warm_start and self._weights else None
        # the token table's read-only copy that ``state`` keeps: one copy of it, not one
        # more under the lock at every refit (122 MiB at 1M items)
        data = TrainingData(self._users[: self._size].copy(), self._items[: self._size].copy(),
                            self._tokens_state()[:n_items], previous)
        return _unchanging(data), self.events

    def _known_items(self) -> int:
        seen = int(self._items[: self._size].max()) + 1 if self._size else 0
        with_content = np.flatnonzero((self._tokens >= 0).any(axis=1))
        return max(seen, int(with_content[-1]) + 1 if with_content.size else 0)

    def fit(self, data: TrainingData) -> FittedSequence:
        """Train (torch: the 'deep' extra); pure, so it runs off the state's lock. In a
        child process where ``fit_in_child`` (the server's background refits, unless told
        to be heard per batch: ``sequence_process.py``), else in the calling thread."""
        if self.fit_in_child and self.progress is None and self.epoch_report is None:
            from streamrec.models.sequence_process import fit_in_child

            if self._stopping.is_set():
                raise FitStopped("the sequence fit stopped before it began")
            weights, curves = fit_in_child(data, self.config, self.curves_dir,
                                           self._stopping, self.fit_dir)
            return FittedSequence(weights, curves)
        from streamrec.models.sequence_training import train

        told, stopping = self.progress, self._stopping

        def progress(what: str, done: int, total: int) -> None:  # after every batch
            if stopping.is_set():
                raise FitStopped(f"the sequence fit stopped at {what}, batch {done}")
            if told is not None:
                told(what, done, total)

        weights, curves = train(data, self.config, progress, self.epoch_report,
                                self.curves_dir)
        return FittedSequence(weights, curves)

    def stop_fitting(self) -> None:
        """A fit under way stops after its current batch (a GRU refit takes tens of minutes,
        a batch milliseconds); so does every later one."""
        self._stopping.set()

    def fit_arrays(self, fitted: FittedSequence) -> dict[str, np.ndarray]:
        return {**fitted.weights, "curves": fitted.curves}

    def fitted_from(self, arrays: Mapping[str, np.ndarray]) -> FittedSequence:
        missing = [name for name in WEIGHT_NAMES if name not in arrays]
        if missing:
            raise ValueError(f"a sequence fit lacks {missing}")
        weights = {name: own_copy(arrays[name], np.float32) for name in WEIGHT_NAMES}
        if weights["item_embeddings"].shape[1] != self.config.dimensions:
            raise ValueError("a sequence fit of other dimensions than configured")
        return FittedSequence(weights, np.asarray(arrays.get("curves", np.zeros((0, 3)))))

    def data_arrays(self, data: TrainingData) -> dict[str, np.ndarray]:
        previous = {} if data.previous is None else {
            f"previous_{name}": np.asarray(array) for name, array in data.previous.items()}
        return {"users": data.users, "items": data.items, "tokens": data.tokens, **previous}

    def data_from(self, arrays: Mapping[str, np.ndarray]) -> TrainingData:
        previous = {name.removeprefix("previous_"): own_copy(array, array.dtype)
                    for name, array in arrays.items() if name.startswith("previous_")}
        return _unchanging(TrainingData(own_copy(arrays["users"], np.int32),
                                        own_copy(arrays["items"], np.int32),
                                        own_copy(arrays["tokens"], np.int32),
                                        previous or None))

    def swap(self, fitted: FittedSequence, fitted_events: int) -> None:
        self._take(fitted, fitted_events)
        # rows up to the last item known to the model: the token table's spare capacity
        # would be zero rows in the ANN index (60% more to search at 100k items)
        known = self._known_items()
        prepared, self._prepared = self._prepared, None
        if prepared is not None and prepared[0] is fitted and \
                prepared[1:3] == (self._token_changes, known):
            vectors = prepared[3]  # the same values, and the array an index was built of
        else:
            vectors = item_vectors_of(fitted.weights, self._tokens[:known])
        self._set_vectors(vectors)

    def _take(self, fitted: FittedSequence, fitted_events: int) -> None:
        self._weights = {name: unchanging(array) for name, array in fitted.weights.items()}
        self.curves = np.array(fitted.curves, dtype=np.float64)
        self.fitted_events = fitted_events

    def serving_vectors(self, fitted: FittedSequence) -> Float32Array:
        """The item vectors ``fitted`` will serve once swapped in, computed off the lock so
        their index is built before the swap (engine/state.py ``prepare_swap``): ``swap``
        takes this very array when the items' tokens and the known items are as they were
        here, else computes them again (and the index follows in the background). At 1M
        items, a refit swapped in without one sent queries to the exact product, ~30 ms."""
        changes = self._token_changes
        known = self._known_items()
        vectors = item_vectors_of(fitted.weights, self._tokens[:known])
        self._prepared = (fitted, changes, known, vectors)
        return vectors

    def abort_refit(self) -> None:
        """Nothing was changed by ``begin_refit``: the previous fit keeps serving."""
        self._prepared = None  # vectors made for the failed fit (~260 MB at 1M items)

    def refit(self) -> None:
        data, events = self.begin_refit()
        self.swap(self.fit(data), events)

    def _vectors_for(self, n: int) -> Float32Array:
        vectors = np.zeros((n, self._vectors.shape[1]), dtype=np.float32)
        kept = min(n, self._vectors.shape[0])
        vectors[:kept] = self._vectors[:kept]
        return vectors

    def _set_vectors(self, vectors: Float32Array) -> None:
        vectors.flags.writeable = False  # replaced, never changed: a snapshot keeps this one
        self._vectors = vectors
        norms = row_norms(vectors, vectors.shape[1] - 1) if vectors.size else np.zeros(1)
        self._max_norm = float(norms.max()) if norms.size else 0.0

    # -- reading -------------------------------------------------------------------------
    def _latest(self, query: Query) -> IntArray:
        """The items the encoder reads: the latest positive ones, repeats in a row as one."""
        items = query.history
        if query.history_weights.shape == items.shape:
            items = items[query.history_weights > 0]
        items = items[items >= 0]
        if items.size > 1:
            items = items[np.r_[True, items[1:] != items[:-1]]]
        return np.asarray(items[-self.config.context:], dtype=np.int64)

    def query_vector(self, query: Query) -> Float32Array | None:
        if self._weights is None:
            return None
        items = self._latest(query)
        if items.size == 0:
            return None
        inputs = np.zeros((items.size, self._vectors.shape[1] - 1), dtype=np.float32)
        has_row = items < self._vectors.shape[0]  # an item without one reads as zeros
        inputs[has_row] = self._vectors[items[has_row], :-1]
        user = encode(self._weights, inputs)
        shift = float(np.linalg.norm(user)) * self._max_norm * 1.0001 + 1e-6
        return np.append(user, np.float32(shift)).astype(np.float32)

    def item_vectors(self) -> Float32Array:
        """Replaced, never changed in place (a refit, new content items): ranking/ann.py."""
        return self._vectors

    def query_scores(self, query: Query, n_items: int) -> QueryScores:
        vector = self.query_vector(query)
        if vector is None:
            return SparseScores(np.zeros(0, np.int64), np.zeros(0))
        return DenseScores(self._vectors[:n_items] @ vector)

    def dense_scores(self, query: Query, n_items: int) -> FloatArray:
        out = np.zeros(n_items, dtype=np.float64)
        vector = self.query_vector(query)
        if vector is not None:
            scores = self._vectors[:n_items] @ vector
            out[: scores.shape[0]] = scores
        return out

    def recommend(self, query: Query, k: int) -> Candidates:
        scores = self.dense_scores(query, self._vectors.shape[0])
        found = top_k(np.where(scores > 0, scores, -np.inf), k, query.exclude)
        return found

    def score(self, query: Query, items: IntArray) -> FloatArray:
        scores = self.dense_scores(query, self._vectors.shape[0])
        out = np.zeros(items.shape[0], dtype=np.float64)
        known = (items >= 0) & (items < scores.shape[0])
        out[known] = scores[items[known]]
        return out

    # -- persistence ---------------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray]:
        # the weights as arrays of their own, not copied: a safetensors blob of them (earlier
        # snapshots) held the interpreter's lock ~160 ms at 1M items once per fit, and reads
        # beside it waited; at a restore it cost two more copies
        weights = {} if self._weights is None else {
            **{WEIGHT_PREFIX + name: array for name, array in self._weights.items()},
            "curves": self.curves}
        return {"users": self._users[: self._size].copy(),
                "items": self._items[: self._size].copy(),
                "tokens": self._tokens_state(), **weights,
                # as served (read-only): a restart takes them rather than computing every
                # item's vector from the weights again (~2 s at 1M items)
                "vectors": self._vectors,
                "counters": np.array([self.events, self.fitted_events])}

    def _tokens_state(self) -> npt.NDArray[np.int32]:
        saved = self._saved_tokens
        if saved is None or saved[0] != self._token_changes or \
                saved[1].shape != self._tokens.shape:
            copy = self._tokens.copy()
            copy.flags.writeable = False
            saved = self._saved_tokens = (self._token_changes, copy)
        return saved[1]

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        self._users = np.array(state["users"], dtype=np.int32)
        self._items = np.array(state["items"], dtype=np.int32)
        self._size = self._users.shape[0]
        self._tokens = np.array(state["tokens"], dtype=np.int32)
        self._token_changes += 1
        self.events, self.fitted_events = (int(v) for v in state["counters"])
        self._weights = None
        self._set_vectors(np.zeros((0, self.config.dimensions + 1), np.float32))
        self.curves = np.zeros((0, 3))
        fitted = self._fitted_in(state)
        if fitted is not None:
            vectors = state.get("vectors")
            if vectors is None:  # a snapshot from before the vectors were kept
                self.swap(fitted, self.fitted_events)
                return
            if vectors.ndim != 2 or vectors.shape[1] != self.config.dimensions + 1 or \
                    vectors.shape[0] > self._tokens.shape[0]:
                raise ValueError(f"sequence vectors of shape {vectors.shape} for "
                                 f"{self._tokens.shape[0]} items of "
                                 f"{self.config.dimensions} dimensions")
            self._take(fitted, self.fitted_events)
            self._set_vectors(np.asarray(vectors, dtype=np.float32))

    def _fitted_in(self, state: Mapping[str, np.ndarray]) -> FittedSequence | None:
        """The fit a snapshot holds, if any: its arrays, or (snapshots written before
        them) one safetensors blob of them."""
        if WEIGHT_PREFIX + WEIGHT_NAMES[0] in state:
            return self.fitted_from({
                **{name: state[WEIGHT_PREFIX + name] for name in WEIGHT_NAMES
                   if WEIGHT_PREFIX + name in state},
                "curves": state.get("curves", np.zeros((0, 3)))})
        blob = np.asarray(state.get("weights", np.zeros(0)), dtype=np.uint8)
        if not blob.size:
            return None
        from streamrec.storage.artefacts import safetensors_arrays

        return self.fitted_from(safetensors_arrays(blob.tobytes()))

    def __repr__(self) -> str:
        return f"SequenceModel(fitted={self.is_fitted}, events={self.events})"
