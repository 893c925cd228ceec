"""Items as sparse TF-IDF vectors over hashed tokens, current as soon as an item arrives.

An item's tokens are the words of its text plus one token per attribute value
(``category=jackets``, each of ``tags=wool``, numbers bucketed on a log scale such as
``price~[50,100)``). Tokens are hashed into ``n_features`` columns (the hashing trick,
Weinberger et al., ICML 2009, via scikit-learn's ``HashingVectorizer``), so there is no
vocabulary to fit and a brand-new item gets its vector at once. Columns are weighted by
TF-IDF (Salton & Buckley, 1988) with term counts damped to 1 + log(tf) and BM25's IDF (see
``bm25_idf``), then rows are L2-normalised, so a dot product of two rows is their cosine.

Document frequencies are counted as items arrive. Every row is weighted with one *reference*
IDF, refreshed (all rows reweighted) once ``reweight_fraction`` of the items changed since the
last refresh: amortised O(1) per item, and the vectors are always a function of the counts and
that reference, so a restored copy is bit-for-bit the same.

>>> from streamrec.types import Item
>>> sorted(item_tokens(Item("a", {"category": "Jackets", "price": 79.0}, "Warm wool"),
...                    str.split, frozenset()))
['Warm', 'category=jackets', 'price~[50,100)', 'wool']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from streamrec.models.base import grow
from streamrec.models.compiled import Kernels
from streamrec.models.impact_postings import Cut, ImpactPostings
from streamrec.types import FloatArray, IntArray, Item

Float32Array = npt.NDArray[np.float32]  # throughout: half the memory, a faster matvec
Int32Array = npt.NDArray[np.int32]  # columns, as scipy keeps them
Profile = tuple[Int32Array, Float32Array]  # a sparse vector: sorted columns, their values
_UPPER = {1: 2, 2: 5, 5: 10}  # 1-2-5 steps: bounds a person reads at a glance


def item_tokens(item: Item, analyse: Callable[[str], list[str]],
                ignored: frozenset[str]) -> list[str]:
    """Words of the text, then ``key=value`` tokens of the attributes not ``ignored``."""
    tokens = list(analyse(item.text)) if item.text else []
    for key, value in item.attributes.items():
        if key not in ignored:
            _add_attribute(str(key), value, tokens)
    return tokens


def attribute_tokens(key: str, value: Any) -> list[str]:
    """``key=value`` for strings and booleans, a log-scale bucket for numbers; lists give one
    token per element and mappings flatten to ``key.sub``; None and NaN give none."""
    tokens: list[str] = []
    _add_attribute(key, value, tokens)
    return tokens


def _add_attribute(key: str, value: Any, tokens: list[str]) -> None:
    # appends instead of yielding: this runs for every attribute of every item
    if isinstance(value, str):
        text = value.strip().lower()
        if text:
            tokens.append(f"{key}={text}")
    elif isinstance(value, bool):  # before numbers: True is an int
        tokens.append(f"{key}={str(value).lower()}")
    elif isinstance(value, int | float):
        tokens.extend(numeric_tokens(key, float(value)))
    elif value is None:
        return
    elif isinstance(value, Mapping):
        for sub, inner in value.items():
            _add_attribute(f"{key}.{sub}", inner, tokens)
    elif isinstance(value, list | tuple | set | frozenset):
        for element in value:
            _add_attribute(key, element, tokens)
    else:
        _add_attribute(key, str(value), tokens)


def numeric_tokens(key: str, value: float) -> list[str]:
    """One bucket of a 1-2-5 log scale: 79 and 99 share it, 79 and 120 do not. Nearness in
    ratio, not difference: 5 and 9 are as alike as 500 and 900.

    >>> numeric_tokens("price", 79.0), numeric_tokens("delta", -0.3), numeric_tokens("n", 0)
    (['price~[50,100)'], ['delta~(-0.5,-0.2]'], ['n=0'])
    """
    if not math.isfinite(value):
        return []
    if value == 0:
        return [f"{key}=0"]
    magnitude = abs(value)
    decade = 10.0 ** math.floor(math.log10(magnitude))
    if magnitude < decade:  # log10 can land a hair off at exact powers of ten
        decade /= 10.0
    elif magnitude >= 10.0 * decade:
        decade *= 10.0
    step = 5 if magnitude >= 5 * decade else 2 if magnitude >= 2 * decade else 1
    low, high = step * decade, _UPPER[step] * decade
    return [f"{key}~[{low:g},{high:g})" if value > 0 else f"{key}~(-{high:g},-{low:g}]"]


def _as_given(tokens: list[str]) -> list[str]:
    return tokens


def bm25_idf(df: IntArray, n_documents: int) -> Float32Array:
    """ln(1 + (n - df + 0.5) / (df + 0.5)), Lucene's BM25 IDF (Robertson & Zaragoza, 2009):
    always positive, so a tiny catalogue of look-alikes stays alike, while a token every item
    has (a release year) fades towards 0 as the catalogue grows instead of adding the same
    small similarity between every pair of items, as scikit-learn's ln(...) + 1 would."""
    df64 = df.astype(np.float64)
    return np.log1p((n_documents - df64 + 0.5) / (df64 + 0.5)).astype(np.float32)


def weigh(counts: sp.csr_array, idf: Float32Array) -> sp.csr_array:
    """(1 + log tf) x idf, each row L2-normalised (empty rows stay empty). Row by row, so a
    row's weights never depend on which other rows it is computed with. One compiled pass:
    at 1M items the numpy passes took ~0.5 s of every restart."""
    data = np.empty(counts.data.shape[0], dtype=np.float32)
    _KERNELS.get().weigh(counts.indptr, counts.indices, counts.data, idf, _DAMPED, data)
    return sp.csr_array((data, counts.indices, counts.indptr), shape=counts.shape)


# rows a snapshot's state gathers at a time (``TextVectors._state_now``)
_STATE_ROWS = 1 << 16
# 1 + log tf for the counts most terms have (a word's count in one item's text), looked up:
# a logarithm per entry was most of ``weigh``'s time
_DAMPED = np.ones(256, dtype=np.float32)  # [0] is never read: a term has a count of 1 or more
_DAMPED[1:] += np.log(np.arange(1, 256, dtype=np.float32))


def _weigh_kernel(indptr: np.ndarray, indices: np.ndarray, counts: np.ndarray,
                  idf: np.ndarray, damped: np.ndarray, out: np.ndarray) -> None:
    """``weigh``'s rows into ``out``: float32 weights, the squares summed in float64 in
    the row's order, each weight divided by the row's norm (a row whose weights all
    underflowed stays all zeros). ``damped[c]`` is 1 + log c for whole counts below its
    size (the same float32 value for a count whichever row holds it)."""
    one, known = np.float32(1.0), damped.shape[0]
    for row in range(indptr.shape[0] - 1):
        start, end = indptr[row], indptr[row + 1]
        squares = 0.0
        for j in range(start, end):
            count = counts[j]
            whole = np.int64(count)
            if 0 < whole < known and np.float32(whole) == count:
                weight = damped[whole] * idf[indices[j]]
            else:
                weight = (one + np.log(count)) * idf[indices[j]]
            out[j] = weight
            squares += np.float64(weight) * np.float64(weight)
        norm = np.sqrt(squares)
        if norm == 0.0:
            norm = 1.0
        for j in range(start, end):
            out[j] = np.float32(out[j] / norm)


def take_rows(pieces: Sequence[tuple[sp.csr_array, IntArray, IntArray]], n_rows: int,
              n_columns: int) -> sp.csr_array:
    """A CSR matrix of ``n_rows`` whose row ``slots[i]`` is row ``rows[i]`` of ``source``, for
    each ``(source, rows, slots)`` piece; other rows empty. Plain numpy gathers: scipy's
    fancy indexing and ``vstack`` cost more than the copying when a query takes 50 rows."""
    indptr, indices, data = _gathered(pieces, n_rows)
    return sp.csr_array((data, indices, _narrow(indptr)), shape=(n_rows, n_columns))


def _narrow(indptr: IntArray) -> Int32Array | IntArray:
    """Row pointers as int32 where they fit: scipy widens the columns to int64 otherwise,
    which doubles what a query reads of each row (and a restore copies them)."""
    return indptr.astype(np.int32) if indptr[-1] < 2**31 else indptr


def _gathered(pieces: Sequence[tuple[sp.csr_array, IntArray, IntArray]], n_rows: int
              ) -> tuple[IntArray, Int32Array, Float32Array]:
    """``take_rows``'s arrays (indptr, indices, data), without the matrix: building a scipy
    matrix costs more than the gather itself for a query's few hundred rows."""
    lengths = np.zeros(n_rows, dtype=np.int64)
    for source, rows, slots in pieces:
        lengths[slots] = source.indptr[rows + 1] - source.indptr[rows]
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    indices = np.empty(int(indptr[-1]), dtype=np.int32)
    data = np.empty(int(indptr[-1]), dtype=np.float32)
    for source, rows, slots in pieces:
        counts = lengths[slots]
        within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        to = np.repeat(indptr[slots], counts) + within
        taken = np.repeat(source.indptr[rows], counts) + within
        indices[to], data[to] = source.indices[taken], source.data[taken]
    return indptr, indices, data


def _products_kernel(indptr: IntArray, indices: np.ndarray, data: np.ndarray, rows: IntArray,
                     slots: IntArray, columns: np.ndarray, values: np.ndarray,
                     out: np.ndarray) -> None:
    """``out[slots[i]]``: row ``rows[i]`` times the sparse vector (``columns`` sorted, with
    ``values``). float32 sums in the row's column order: the very sums of a CSR product with
    the vector made dense (a missing column adds a zero there)."""
    m = columns.shape[0]
    for i in range(rows.shape[0]):
        row = rows[i]
        total = np.float32(0.0)
        for j in range(indptr[row], indptr[row + 1]):
            column = indices[j]
            k = np.searchsorted(columns, column)
            if k < m and columns[k] == column:
                total += data[j] * values[k]
        out[slots[i]] = total


class _Kernels(NamedTuple):
    products: Callable[..., None]
    weigh: Callable[..., None]


def _make(jit: Callable[[Callable[..., Any]], Any]) -> _Kernels:
    return _Kernels(jit(_products_kernel), jit(_weigh_kernel))


def warm_up() -> None:
    """Run the kernels once on tiny rows, for each width of row pointers scipy gives a matrix
    (a server's start compiles or loads them, not its first query)."""
    kernels = _KERNELS.get()
    for width in (np.int32, np.int64):
        indptr, indices = np.array([0, 1, 2], dtype=width), np.array([3, 7], dtype=np.int32)
        kernels.products(indptr, indices, np.ones(2, dtype=np.float32),
                         np.array([1], dtype=np.int64), np.array([0], dtype=np.int64),
                         np.array([7], dtype=np.int32), np.ones(1, dtype=np.float32),
                         np.zeros(1, dtype=np.float32))
        kernels.weigh(indptr, indices, np.array([1.0, 2.5], dtype=np.float32),
                      np.ones(8, dtype=np.float32), _DAMPED, np.zeros(2, dtype=np.float32))


_KERNELS = Kernels("text-vector", globals(), _make, warm_up=warm_up)


def compile_kernels() -> None:
    _KERNELS.get()


def _on_columns(matrix: sp.csr_array, columns: IntArray) -> Float32Array:
    """``matrix`` as a dense array over ``columns`` only (which hold all its nonzeros)."""
    out = np.zeros((matrix.shape[0], columns.size), dtype=np.float32)
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    out[rows, np.searchsorted(columns, matrix.indices)] = matrix.data
    return out


class TextVectors:
    """One hashed TF-IDF row per item index; items never upserted have an empty row.

    Rows live in a *base* CSR matrix plus a small *tail* of rows upserted since the last
    reweight (new items and replacements), so an upsert costs O(tail), not O(catalogue);
    the tail is folded into the base when the IDF is refreshed."""

    def __init__(self, n_features: int, text_ngrams: int = 1,
                 ignored_attributes: Sequence[str] = (), reweight_fraction: float = 0.1) -> None:
        self.n_features = n_features
        self.reweight_fraction = reweight_fraction
        self._ignored = frozenset(ignored_attributes)
        self._text_ngrams = text_ngrams
        # made at the first upsert (``_vectorisers``): scikit-learn takes ~1.5 s to import,
        # which every command of the CLI paid through the settings, and a restart paid before
        # serving although a snapshot's rows are already hashed
        self._vectorisers: tuple[Callable[[str], list[str]], Any] | None = None
        self._df: IntArray = np.zeros(n_features, dtype=np.int64)
        self._reference_df: IntArray = np.zeros(n_features, dtype=np.int64)
        self._reference_documents = 0
        self._documents = 0  # items with a non-empty row
        self._touched = 0  # rows upserted since the reference IDF was taken
        self._idf = bm25_idf(self._reference_df, 0)
        self._base_counts = self._empty(0)
        self._base = self._empty(0)
        self._base_by_column: sp.csc_array | None = None  # the base, column by column
        self._tail_items: IntArray = np.zeros(0, dtype=np.int64)
        self._tail_counts = self._empty(0)
        self._tail = self._empty(0)
        self._tail_row: IntArray = np.zeros(0, dtype=np.int64)  # -1: not in the tail
        self.n_rows = 0
        self.impacts = ImpactPostings()  # serving's cut postings (large catalogues)
        # ``state`` as of the last change: a snapshot of an unchanged catalogue took the same
        # copy of every row again (~0.45 s at 100k items, the learner waiting)
        self._state: dict[str, np.ndarray] | None = None

    def _vectorisers_made(self) -> tuple[Callable[[str], list[str]], Any]:
        """The text's analyser (words, n-grams) and the hasher of its tokens."""
        if self._vectorisers is None:
            from sklearn.feature_extraction.text import HashingVectorizer

            analyse = HashingVectorizer(ngram_range=(1, self._text_ngrams),
                                        strip_accents="unicode").build_analyzer()
            hasher = HashingVectorizer(n_features=self.n_features, analyzer=_as_given,
                                       alternate_sign=False, norm=None, dtype=np.float32)
            self._vectorisers = (analyse, hasher)
        return self._vectorisers

    def _empty(self, n_rows: int) -> sp.csr_array:
        return sp.csr_array((n_rows, self.n_features), dtype=np.float32)

    def upsert(self, items: Sequence[tuple[int, Item]]) -> None:
        """Vectorise ``(index, item)`` pairs; a later pair for the same index wins."""
        latest = dict(items)
        if not latest:
            return
        self._state = None
        indices = np.fromiter(latest, dtype=np.int64, count=len(latest))
        analyse, hasher = self._vectorisers_made()
        documents = [item_tokens(item, analyse, self._ignored) for item in latest.values()]
        counts = sp.csr_array(hasher.transform(documents), dtype=np.float32)
        counts.sum_duplicates()  # canonical rows: sorted, unique columns
        old = self.rows(indices, weighted=False)
        self._count(old, -1)
        self._count(counts, +1)
        self.n_rows = max(self.n_rows, int(indices.max()) + 1)
        self._tail_row = grow(self._tail_row, self.n_rows, fill=-1)
        keep = ~np.isin(self._tail_items, indices)
        self._tail_items = np.concatenate((self._tail_items[keep], indices))
        self._tail_counts = sp.vstack((self._tail_counts[keep], counts), format="csr")
        self._tail_row[: self.n_rows] = -1
        self._tail_row[self._tail_items] = np.arange(self._tail_items.size)
        self._touched += indices.size
        if self._touched > self.reweight_fraction * max(self._documents, 1):
            self._reweight()
        else:
            self._tail = sp.vstack((self._tail[keep], weigh(counts, self._idf)), format="csr")

    def _count(self, counts: sp.csr_array, sign: int) -> None:
        np.add.at(self._df, counts.indices, sign)
        self._documents += sign * int(np.count_nonzero(np.diff(counts.indptr)))

    def _reweight(self) -> None:
        """Take the current document frequencies as the reference and reweight every row."""
        self._reference_df = self._df.copy()
        self._reference_documents = self._documents
        self._idf = bm25_idf(self._reference_df, self._documents)
        self._base_counts = self.rows(np.arange(self.n_rows), weighted=False)
        self._base = weigh(self._base_counts, self._idf)
        self._base_by_column = self._base.tocsc()
        self._tail_items = np.zeros(0, dtype=np.int64)
        self._tail_counts, self._tail = self._empty(0), self._empty(0)
        self._tail_row[:] = -1
        self._touched = 0

    def rows(self, items: IntArray, weighted: bool = True) -> sp.csr_array:
        """The current rows of ``items`` (unit vectors, or raw counts); unknown: empty rows."""
        return take_rows(self._pieces(items, weighted), items.shape[0], self.n_features)

    def _pieces(self, items: IntArray, weighted: bool = True
                ) -> tuple[tuple[sp.csr_array, IntArray, IntArray], ...]:
        """Where ``items``' current rows are: ``(matrix, its rows, positions in items)`` for
        the base and for the tail (``take_rows``'s pieces); unknown items in neither."""
        base, tail = (self._base, self._tail) if weighted else (self._base_counts,
                                                                self._tail_counts)
        known = (items >= 0) & (items < self.n_rows)
        tail_row = np.full(items.shape[0], -1, dtype=np.int64)
        tail_row[known] = self._tail_row[items[known]]
        from_tail = np.flatnonzero(tail_row >= 0)
        from_base = np.flatnonzero(known & (tail_row < 0) & (items < base.shape[0]))
        return (base, items[from_base], from_base), (tail, tail_row[from_tail], from_tail)

    def profile(self, items: IntArray, weights: FloatArray) -> Profile | None:
        """The unit vector along the ``weights``-weighted sum of ``items``' rows, sparse:
        its columns (sorted) and values. None when the sum is all zero. Read from the rows'
        arrays alone, never a dense ``n_features`` vector (1 MB at 2^18, per query)."""
        slots, indices, data = self._entries(items)
        if indices.size == 0:
            return None
        columns, where = np.unique(indices, return_inverse=True)
        summed = np.bincount(where, weights=data * weights.astype(np.float32)[slots],
                             minlength=columns.size)
        norm = float(np.sqrt(np.dot(summed, summed)))
        if norm == 0.0:
            return None
        return columns, (summed / norm).astype(np.float32)

    def _entries(self, items: IntArray) -> tuple[IntArray, Int32Array, Float32Array]:
        """``items``' current rows, entry by entry: each entry's position in ``items``, its
        column and its weight."""
        indptr, indices, data = _gathered(self._pieces(items), items.shape[0])
        return np.repeat(np.arange(items.shape[0]), np.diff(indptr)), indices, data

    def products(self, items: IntArray, columns: Int32Array,
                 values: Float32Array) -> Float32Array:
        """Each item's row times the sparse vector ``(columns, values)`` (columns sorted);
        0 for unknown items. One compiled pass over the items' rows: no matrix is built."""
        out = np.zeros(items.shape[0], dtype=np.float32)
        products = _KERNELS.get().products
        for source, rows, slots in self._pieces(items):
            if rows.size:
                products(source.indptr, source.indices, source.data, rows, slots,
                         columns, values, out)
        return out

    def cosines(self, left: IntArray, right: IntArray) -> Float32Array:
        """Cosine of each ``left`` item with each ``right`` item: a small dense matrix. Works
        on the columns the two sets use, so its cost does not grow with ``n_features``."""
        a, b = self.rows(left), self.rows(right)
        columns = np.union1d(a.indices, b.indices)
        return _on_columns(a, columns) @ _on_columns(b, columns).T

    def dot(self, columns: Int32Array, values: Float32Array) -> Float32Array:
        """Every row times the sparse vector ``(columns, values)`` (columns sorted): length
        ``n_rows``. A vector with few nonzeros (a profile of a few items) reads only those
        columns' postings: the same float32 sums, in the same order, as a pass over every
        item's row with the vector made dense."""
        out = np.zeros(self.n_rows, dtype=np.float32)
        nonzero = values != 0
        columns, values = columns[nonzero], values[nonzero]
        by_column = self._base_by_column
        if by_column is not None and by_column.shape == self._base.shape and (
                2 * int((by_column.indptr[columns + 1] - by_column.indptr[columns]).sum())
                < self._base.nnz):
            out[: self._base.shape[0]] = by_column[:, columns] @ values
        else:
            dense = np.zeros(self.n_features, dtype=np.float32)
            dense[columns] = values
            out[: self._base.shape[0]] = self._base @ dense
        if self._tail_items.size:  # the tail replaces stale base rows
            out[self._tail_items] = self.products(self._tail_items, columns, values)
        return out

    def likely_best(self, columns: Int32Array, values: Float32Array, n: int,
                    per_column: int) -> IntArray | None:
        """Up to ``n`` items likely to have the largest products with the sparse vector
        ``(columns, values)``, from each column's ``per_column`` highest-weighted rows
        (``impact_postings.py``); None while those are being cut: use ``dot``."""
        cuts = self.cut_postings(per_column)
        if cuts is None:
            return None
        nonzero = values != 0
        return self.impacts.likely_best(cuts, columns[nonzero], values[nonzero], n)

    def cut_postings(self, per_column: int) -> tuple[Cut, Cut] | None:
        """The current matrices' cut postings, or None after asking for them (built in the
        background; nothing to cut before the base is indexed by column)."""
        by_column = self._base_by_column
        if by_column is None or by_column.shape != self._base.shape:
            return None
        return self.impacts.ready(by_column, self._tail, self._tail_items, per_column)

    def state(self) -> dict[str, np.ndarray]:
        """Arrays of their own, read-only, and the same ones until the next change."""
        if self._state is None:
            self._state = self._state_now()
            for array in self._state.values():
                array.flags.writeable = False
        return dict(self._state)

    def _state_now(self) -> dict[str, np.ndarray]:
        # the rows gathered ``_STATE_ROWS`` at a time: one gather of every row (``np.repeat``
        # keeps the GIL) held it ~100 ms at 1M items, and reads beside the snapshot waited
        parts = [self.rows(np.arange(start, min(start + _STATE_ROWS, self.n_rows)),
                           weighted=False) for start in range(0, self.n_rows, _STATE_ROWS)]
        indptr = np.zeros(self.n_rows + 1, dtype=np.int64)
        if parts:
            np.cumsum(np.concatenate([np.diff(part.indptr) for part in parts]),
                      out=indptr[1:])
        df, reference = np.flatnonzero(self._df), np.flatnonzero(self._reference_df)
        return {
            "n_features": np.array([self.n_features], dtype=np.int64),
            "counts_indptr": indptr,
            "counts_indices": np.concatenate(
                [part.indices for part in parts] or [np.zeros(0)]).astype(np.int32),
            "counts_data": np.concatenate(
                [part.data for part in parts] or [np.zeros(0)]).astype(np.float32),
            "df_columns": df, "df_values": self._df[df],
            "reference_df_columns": reference, "reference_df_values": self._reference_df[reference],
            "documents": np.array([self._documents, self._reference_documents, self._touched],
                                  dtype=np.int64),
        }

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        self._state = None
        if int(state["n_features"][0]) != self.n_features:
            raise ValueError(f"content vectors were saved with n_features="
                             f"{int(state['n_features'][0])}, configured {self.n_features}: "
                             "rebuild them from the catalogue")
        indptr = np.asarray(state["counts_indptr"], dtype=np.int64)
        self.n_rows = indptr.size - 1
        counts = sp.csr_array((np.asarray(state["counts_data"], dtype=np.float32),
                               np.asarray(state["counts_indices"], dtype=np.int32),
                               _narrow(indptr)),
                              shape=(self.n_rows, self.n_features))
        self._df = np.zeros(self.n_features, dtype=np.int64)
        self._df[state["df_columns"]] = state["df_values"]
        self._reference_df = np.zeros(self.n_features, dtype=np.int64)
        self._reference_df[state["reference_df_columns"]] = state["reference_df_values"]
        self._documents, self._reference_documents, self._touched = (
            int(v) for v in state["documents"])
        self._idf = bm25_idf(self._reference_df, self._reference_documents)
        self._base_counts, self._base = counts, weigh(counts, self._idf)
        self._base_by_column = self._base.tocsc()
        self._tail_items = np.zeros(0, dtype=np.int64)
        self._tail_counts, self._tail = self._empty(0), self._empty(0)
        self._tail_row = np.full(self.n_rows, -1, dtype=np.int64)
