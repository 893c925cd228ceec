"""Approximate nearest neighbours for the sources scored by an inner product (ALS now, item
embeddings later): their candidates in a fraction of a millisecond, not a pass over every item.

The index is faiss's (Douze et al., "The Faiss library", 2024); by default an inverted file:
the items are split into k-means cells and a query visits the ``probes`` cells whose centroids
have the largest inner product with it (Jégou, Douze and Schmid, "Product quantization for
nearest neighbor search", PAMI 2011). Only *which* items are candidates comes from the index:
each candidate's score is then computed exactly from the vectors, so the ranker sees the same
features as on the exact path. ``factory`` can ask for quantized codes (``IVF{lists},SQ8``,
``IVF{lists},PQ16``) or a graph (``HNSW32``).

- Below ``min_items`` no index is built and the exact product is used: results are exactly
  those of the dense path (a 20k x 64 product costs ~0.2 ms).
- At or above it, the index of a source's current vectors is built in a background thread
  (about a second at 100k items x 64). Until it is ready, for instance just after a refit
  swapped new vectors in, queries use the exact product: serving never waits for an index.
- A query visits ``probes`` cells, or for a source in ``probe_shares`` that share of the
  cells if more (the sequence model's: a sixth, so that its recall holds as the catalogue
  and its number of cells grow). 8-bit codes (``SQ8``) are padded with zero columns to a
  multiple of 8 dimensions, which faiss reads with SIMD (4x faster at 65 dimensions).
- Serving only: the ranker's lessons in the learner use the exact path, so what is learned
  does not depend on when an index happened to be ready.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from streamrec.models.scores import Float32Array
from streamrec.types import FloatArray, IntArray

log = logging.getLogger(__name__)

_FAISS: Any = None
_TRAIN_PER_CELL = 64
# measured (bench/RESULTS.md, synthetic clustered vectors): 64 of 506 cells (100k items)
# found 0.98 of the exact top 10 with 8-bit codes, 64 of 1,600 (1M) only 0.87
PROBE_SHARE = 1 / 6
# faiss's SIMD scalar quantizer reads codes 8 dimensions at a time; other widths take a
# scalar loop, 4x slower (65 dimensions: the sequence model's 64 and its shift column)
_SQ_WIDTH = 8
_FAISS_LOCK = threading.Lock()
# up to this many items left out per item asked for, a search asks for more and drops them
# after; beyond (a catalogue with many items out of stock), faiss leaves them out as it goes
_FILTERED_AFTER = 10


def _faiss() -> Any:
    """faiss, imported on first use (it is not needed below ``min_items``), with OpenMP at
    one thread *in the calling thread*: OpenMP keeps the setting per thread, and a build in a
    background thread left at the default took both cores (its k-means BLAS too), starving
    serving. A single query does not gain from more threads either."""
    global _FAISS
    with _FAISS_LOCK:
        if _FAISS is None:
            import faiss

            _FAISS = faiss
    _FAISS.omp_set_num_threads(1)
    return _FAISS


class ANNConfig(BaseModel):
    min_items: int = Field(
        default=20_000, ge=1,
        description="Catalogues smaller than this are scored exactly (identical results).")
    factory: str = Field(
        default="IVF{lists},Flat",
        description="faiss index_factory string, {lists} replaced by the number of cells; "
        "e.g. 'IVF{lists},SQ8' (8-bit codes), 'IVF{lists},PQ16', 'HNSW32'.")
    factories: dict[str, str] = Field(
        default_factory=lambda: {"sequence": "IVF{lists},SQ8"},
        description="factory per source, instead of 'factory': the sequence model's item "
        "embeddings in 8-bit scalar-quantized codes (with the ids, 3.2x less memory than "
        "float32; bench/sequence.py measures the recall).")
    lists: int | None = Field(
        default=None, ge=1, description="k-means cells of an IVF index; null: 1.6 x sqrt(items), "
        "about 500 at 100k items.")
    probes: int = Field(
        default=64, ge=1, description="Cells a query visits (IVF), at least, or the HNSW "
        "search breadth: more finds more of the exact top, and costs more.")
    probe_shares: dict[str, float] = Field(
        default_factory=lambda: {"sequence": PROBE_SHARE},
        description="Per source: its IVF queries visit at least this share of the cells. The "
        "cells grow with the catalogue (``lists``), so a fixed number of probes finds less of "
        "the exact top in a larger one: the sequence model's 8-bit codes need a sixth of the "
        "cells for 0.95 of the exact top 10 at 1M items (bench/sequence.py).")

    exact_rows: int = Field(
        default=40_000, ge=0, description="A source whose exact top reads only some rows "
        "(ALS: its items by falling factor norm) is served by that exact pass, with no index "
        "built, when a top 100 reads at most this many rows (the median over a sample of its "
        "users, measured at each fit). ALS on the synthetic shop read 15,360 rows at 100k "
        "and at 1M items: 0.73 and 0.52 ms a top, where its IVF index took 0.60 and 0.44 ms, "
        "found 0.95 and 0.66 of the exact top 100, and took 2 and 15-21 s to build at each "
        "start and refit. 0: always an index.")
    content_postings: int = Field(
        default=1_000, ge=1, description="In catalogues of min_items or more, content's "
        "candidates come from each token's this many highest-weighted items (impact-ordered "
        "postings, models/impact_postings.py), their scores exact: at 1M items a profile's "
        "common tokens are shared by tens of thousands of items, and reading all of them "
        "took ~20 ms a query.")

    def factory_for(self, source: str) -> str:
        return self.factories.get(source, self.factory)

    def lists_for(self, n_items: int) -> int:
        return self.lists or max(1, round(1.6 * math.sqrt(n_items)))

    def wants_index(self, exact_reads: int | None) -> bool:
        """Whether a source is served from an index rather than exactly: always, unless its
        exact top reads at most ``exact_rows`` (``exact_reads``; None: it reads every row)."""
        return exact_reads is None or exact_reads > self.exact_rows

    def probes_for(self, lists: int, share: float = 0.0) -> int:
        """Cells an IVF query visits among ``lists``: ``probes``, or ``share`` of them."""
        return min(lists, max(self.probes, math.ceil(share * lists)))


class VectorIndex:
    """An inner-product index over one matrix of item vectors (row = item index)."""

    def __init__(self, vectors: Float32Array, config: ANNConfig,
                 factory: str | None = None, probe_share: float = 0.0) -> None:
        """``probe_share``: an IVF query visits at least this share of the cells."""
        faiss = _faiss()
        n, dim = vectors.shape
        lists = min(config.lists_for(n), n)
        spec = (factory or config.factory).format(lists=lists)
        # zero columns change no inner product; they let SQ codes take the SIMD path
        self._width = dim + (-dim % _SQ_WIDTH if "SQ" in spec else 0)
        index = faiss.index_factory(self._width, spec, faiss.METRIC_INNER_PRODUCT)
        data = self._padded(vectors)
        ivf = faiss.try_extract_index_ivf(index)
        if ivf is not None:
            # k-means on 64 items per cell (faiss samples them): 3x faster than its default
            # 256 at 100k items, and the same recall (0.92 of the exact top 100 either way)
            ivf.cp.max_points_per_centroid = _TRAIN_PER_CELL
        if not index.is_trained:
            index.train(data)
        index.add(data)
        self.size = n
        self._index = index
        self._memory: int | None = None
        self._is_ivf = ivf is not None
        self._is_hnsw = hasattr(index, "hnsw")
        self._probes = (config.probes_for(ivf.nlist, probe_share) if ivf is not None
                        else config.probes)

    def _padded(self, vectors: Float32Array) -> Float32Array:
        rows = vectors.reshape(-1, vectors.shape[-1])
        if rows.shape[1] == self._width:
            return np.ascontiguousarray(rows, dtype=np.float32)
        out = np.zeros((rows.shape[0], self._width), dtype=np.float32)
        out[:, : rows.shape[1]] = rows
        return out

    @property
    def probes(self) -> int:
        """Cells a query visits (IVF), or the HNSW search breadth."""
        return self._probes

    @property
    def memory(self) -> int:
        """Bytes of the index as faiss serialises it (its codes, ids and centroids). An index
        never changes once built: measured once."""
        if self._memory is None:
            self._memory = int(_faiss().serialize_index(self._index).nbytes)
        return self._memory

    def __sizeof__(self) -> int:
        # faiss's memory is C++'s, out of the interpreter's sight: without it the state's
        # size report (engine/sizes.py) counted an index of 100k items as a few bytes
        return object.__sizeof__(self) + self.memory

    def search(self, vector: Float32Array, k: int, exclude: IntArray) -> IntArray:
        """Up to ``k`` items with the largest inner product with ``vector`` (above 0), not in
        ``exclude``, best first as the index sees them."""
        faiss = _faiss()
        k = min(k, self.size)
        if k <= 0:
            return np.zeros(0, dtype=np.int64)
        if exclude.size and (self._is_hnsw or exclude.size > _FILTERED_AFTER * k):
            return self._search(faiss, vector, k, exclude)
        # a few items to leave out (a user's history): the best k + their number, then
        # those left out: the same items as a selector gives, which faiss asks about every
        # vector it visits (a quarter of a search at 100k items)
        found = self._search(faiss, vector, k + exclude.size, exclude[:0])
        if exclude.size:
            found = found[~np.isin(found, exclude)][:k]
        return found

    def _search(self, faiss: Any, vector: Float32Array, k: int, exclude: IntArray) -> IntArray:
        # the objects a search parameter points to must outlive the search
        selector = inner = None
        if exclude.size:
            inner = faiss.IDSelectorBatch(np.ascontiguousarray(exclude, dtype=np.int64))
            selector = faiss.IDSelectorNot(inner)
        if self._is_ivf:
            params = faiss.SearchParametersIVF(nprobe=self._probes, sel=selector)
        elif self._is_hnsw:
            params = faiss.SearchParametersHNSW(efSearch=max(self._probes, k), sel=selector)
        else:
            params = faiss.SearchParameters(sel=selector)
        query = self._padded(vector)
        distances, labels = self._index.search(query, min(k, self.size), params=params)
        found = (labels[0] >= 0) & (distances[0] > 0)
        return np.asarray(labels[0][found], dtype=np.int64)


@dataclass(frozen=True, slots=True)
class IndexedScores:
    """A ``QueryScores`` whose candidates come from the index and whose scores are exact."""

    vectors: Float32Array
    vector: Float32Array
    index: VectorIndex

    def top(self, k: int, exclude: IntArray) -> IntArray:
        return self.index.search(self.vector, k, exclude)

    def at(self, items: IntArray) -> FloatArray:
        out = np.zeros(items.shape[0], dtype=np.float64)
        known = (items >= 0) & (items < self.vectors.shape[0])
        out[known] = self.vectors[items[known]] @ self.vector
        return out


class VectorIndexes:
    """Per source, the index of its current item vectors, built off the serving thread.

    ``ready`` answers at once: the index if one was built from exactly these vectors (the same
    array), else None, after asking for one to be built in the background. One build per
    source at a time; vectors replaced during a build are indexed next, and the ones in
    between never are. ``prepare`` builds in the caller's thread instead: a trainer that
    calls it right after a fit, off the state lock, has the index ready when the fit's
    vectors are swapped in, so no query runs on the exact path in between."""

    _KEPT = 2  # per source: the serving vectors' index, and one prepared for the next fit

    def __init__(self, config: ANNConfig | None = None, background: bool = True) -> None:
        self.config = config or ANNConfig()
        self.background = background
        self.builds = 0
        self._lock = threading.Lock()
        self._built: dict[str, list[tuple[Float32Array, VectorIndex | None]]] = {}
        self._wanted: dict[str, Float32Array] = {}
        self._builders: dict[str, threading.Thread] = {}

    def _find(self, name: str, vectors: Float32Array) -> tuple[bool, VectorIndex | None]:
        for built, index in self._built.get(name, ()):
            if built is vectors:
                return True, index
        return False, None

    def ready(self, name: str, vectors: Float32Array) -> VectorIndex | None:
        if vectors.shape[0] < self.config.min_items:
            return None
        found, index = self._find(name, vectors)
        if found:
            return index  # None: the build failed for these vectors (logged); stay exact
        with self._lock:
            self._wanted[name] = vectors
            if name in self._builders:
                return None
            if not self.background:
                self._builders[name] = threading.current_thread()
            else:
                builder = threading.Thread(target=self._build, args=(name,),
                                           name=f"ann-{name}", daemon=True)
                self._builders[name] = builder
                builder.start()
                return None
        self._build(name)
        return self._find(name, vectors)[1]

    def prepare(self, name: str, vectors: Float32Array) -> None:
        """Build the index of ``vectors`` now, in this thread, unless there is one."""
        if vectors.shape[0] >= self.config.min_items and not self._find(name, vectors)[0]:
            self._keep(name, vectors, self._index_of(name, vectors))

    def _index_of(self, name: str, vectors: Float32Array) -> VectorIndex | None:
        try:
            return VectorIndex(vectors, self.config, self.config.factory_for(name),
                               self.config.probe_shares.get(name, 0.0))
        except Exception:  # faiss missing or failing: the exact path keeps serving
            log.exception("building the %s index failed; scoring %s exactly", name, name)
            return None

    def _keep(self, name: str, vectors: Float32Array, index: VectorIndex | None) -> None:
        with self._lock:
            kept = [entry for entry in self._built.get(name, []) if entry[0] is not vectors]
            self._built[name] = [*kept, (vectors, index)][-self._KEPT:]
            self.builds += 1

    def _build(self, name: str) -> None:
        while True:
            with self._lock:
                vectors = self._wanted.pop(name, None)
                if vectors is None:
                    del self._builders[name]
                    return
            if not self._find(name, vectors)[0]:  # prepared meanwhile
                self._keep(name, vectors, self._index_of(name, vectors))

    def wait(self, timeout_s: float | None = None) -> bool:
        """Until no build is running (tests, benchmarks); False if one still is."""
        with self._lock:
            builders = [b for b in self._builders.values() if b is not threading.current_thread()]
        for builder in builders:
            builder.join(timeout_s)
        return not any(b.is_alive() for b in builders)
