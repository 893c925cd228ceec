"""The blend: exponential weights (Hedge) over the experts' rankings, from what they earned.

The experts are every source ranking by its own score, popularity at the log's pace
(``paced_popularity.py``, never-fading popularity among them), and the learned ranker. Each
online test (``online_quality.py``) pays every expert its NDCG@K for the item the user took;
an expert's weight is ``exp(learning_rate x its earnings + prior)``, normalised, where its
earnings are its decayed mean NDCG over the stream's time times the (decayed) number of
tests behind that mean. A
list is the experts' rankings fused by those weights: each candidate gets, from each expert,
``1 / log2(2 + rank)`` (0 where the expert does not score it; tied items share their places,
so nothing depends on item numbering), and the weighted sum orders the list. So when one
expert is clearly best on a log, the blend is that expert's ranking; where experts are
close, it fuses them, which is where it can beat each of them.

Why Hedge and not only the ranker: the ranker's features are normalised per query and its
weights start from a prior that dense logs shaped; on a stream that says otherwise (a sparse,
slow log where plain popularity is best) it moves too little. Hedge's regret against the best
expert is bounded whatever the stream, and its weights are a function of the measurements,
themselves a function of the log: a replay rebuilds them exactly.

>>> hedge = Hedge(("a", "b"), HedgeConfig(learning_rate=1.0, ranker_prior=0.0), "b")
>>> hedge.weights(np.array([3.0, 1.0])).round(3).tolist()
[0.881, 0.119]
>>> hedge.mix(np.array([[0.9, 0.0], [0.5, 0.7]]), np.array([1.0, 0.0])).round(3).tolist()
[1.0, 0.631]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field

from streamrec.types import FloatArray

_NEGLIGIBLE = 0.01


class HedgeConfig(BaseModel):
    enabled: bool = Field(
        default=True, description="Blend the experts by their measured quality (off: the "
        "learned ranker alone orders lists).")
    learning_rate: float = Field(
        default=1.0, gt=0, description="Hedge's rate: weight = exp(rate x decayed NDCG@K "
        "earned); higher follows the best expert sooner and more completely.")
    ranker_prior: float = Field(
        default=1.0, description="The learned ranker's head start, in log-weight, before any "
        "expert has earned anything.")
    test_stride: int = Field(
        default=500, ge=1, description="Test the experts at every n/test_stride-th eligible "
        "event (n: eligible events so far), never sparser than the ranker's lessons: every "
        "event at first, then thinning, ~500 tests per e-fold of the log, so a small shop's "
        "log is measured densely enough to tell its experts apart.")
    test_until: int = Field(
        default=20_000, ge=0, description="After this many eligible events, test only at the "
        "ranker's lessons (every train_every-th): a test costs a candidate pass, ~10 ms at "
        "100k items with every source on, and a large log has evidence enough.")
    half_life_tests: float = Field(
        default=500.0, gt=0, description="Tests after which a test counts half in the "
        "experts' measured quality, and so in the blend's weights: the weights follow the "
        "last ~700 tests' evidence whatever the shop's size and pace, and what an expert "
        "earned while it had little to learn from (EASE or ALS fit on a shop's first "
        "thousand events) fades as it learns more.")
    probation_half_life: float = Field(
        default=50_000.0, gt=0, description="Eligible events (a user's next item, new to "
        "them) after which a trial of a source on probation counts half.")
    paced_half_lives: list[float | None] = Field(
        default_factory=lambda: [1_000.0, 10_000.0, None],
        description="Popularity experts fading per this many events of the log (null: plain "
        "popularity, never fading).")
    gap_contexts: int = Field(
        default=9, ge=1, le=20, description="Weights kept apart by how long since the user's "
        "previous event, in events of the whole log (0, 1-3, 4-15, ... by powers of 4; the "
        "last context: everything longer). A user in the middle of a visit is answered by "
        "what predicted such users' next item (the item they are looking at), a user back "
        "after months by what predicted returning users' (what is popular, their tastes): on "
        "a slow shop the best experts differ between the two. 1: one set of weights.")
    gap_kernel: float = Field(
        default=0.25, ge=0.0, le=1.0, description="How much a gap context's weights lean on "
        "its neighbours' evidence, per step (so a context with few tests of its own follows "
        "the ones next to it).")
    rate_multipliers: list[float] = Field(
        default_factory=lambda: [1.0],
        description="At each test the blend is also measured as it would rank with "
        "learning_rate times each of these, and lists use the multiple whose blend has done "
        "best on the stream (decayed mean NDCG@K; before any test, or on a tie, 1). Off by "
        "default ([1]): [0.25, 1, 4, 16, 64] measured worse on the sparse MovieLens cuts, "
        "where the multiples' blends differ by less than their tests' noise and the one "
        "chosen (1/4) had the lower hit rate (docs/ranking.md).")
    paced_candidates: int = Field(
        default=20, ge=0, le=1_000, description="Candidates each popularity expert brings.")


class Hedge:
    """Weights over ``names`` (the ranker among them) from their decayed earnings."""

    def __init__(self, names: Sequence[str], config: HedgeConfig, ranker: str) -> None:
        self.names = tuple(names)
        self.config = config
        self.prior = np.array([config.ranker_prior if n == ranker else 0.0 for n in names])

    def weights(self, earned: FloatArray, rate: float | None = None) -> FloatArray:
        """Normalised weights from each expert's decayed earnings (NDCG sums; -inf: no
        record, no weight), at ``rate`` (default the configured learning rate)."""
        rate = self.config.learning_rate if rate is None else rate
        logits = rate * earned + self.prior
        if not np.isfinite(logits).any():  # nobody has a record yet: the prior alone
            logits = self.prior.copy()
        logits = logits - logits.max()
        weights = np.exp(logits)
        return np.asarray(weights / weights.sum(), dtype=np.float64)

    def mix(self, scores: FloatArray, weights: FloatArray) -> FloatArray:
        """(candidates,) fused scores of ``scores`` (candidates x experts), higher first."""
        n = scores.shape[0]
        if n == 0:
            return np.zeros(0)
        used = np.flatnonzero(weights >= _NEGLIGIBLE)  # a hundredth: not worth a sort
        return np.asarray(utilities(scores[:, used]) @ weights[used], dtype=np.float64)

    def mix_many(self, scores: FloatArray, weights: FloatArray) -> FloatArray:
        """(candidates, rows of ``weights``): the fused scores under each row of weights at
        once (one sort per expert), as ``mix`` gives them up to rounding."""
        if scores.shape[0] == 0:
            return np.zeros((0, weights.shape[0]))
        kept = np.where(weights >= _NEGLIGIBLE, weights, 0.0)
        return np.asarray(utilities(scores) @ kept.T, dtype=np.float64)


def utilities(scores: FloatArray) -> FloatArray:
    """Per candidate and expert, ``1 / log2(2 + place)`` in that expert's ranking, 0 where
    it does not score the candidate."""
    return np.where(scores > 0, 1.0 / np.log2(2.0 + shared_places(scores)), 0.0)


def shared_places(scores: FloatArray) -> FloatArray:
    """Per column, each row's place when sorted by score, best first (0), tied rows sharing
    the mean of their places (scipy's ``rankdata(method="average") - 1`` on ``-scores``,
    a few times faster on the blend's ~300 x 9: it sorts contiguous rows).

    >>> shared_places(np.array([[0.5], [0.9], [0.5], [0.1]])).ravel().tolist()
    [1.5, 0.0, 1.5, 3.0]
    """
    columns = np.ascontiguousarray(scores.T)
    n = columns.shape[1]
    order = np.argsort(-columns, axis=1)
    ranked = np.take_along_axis(columns, order, axis=1)
    positions = np.arange(n, dtype=np.float64)
    starts = np.ones_like(ranked, dtype=bool)
    starts[:, 1:] = ranked[:, 1:] != ranked[:, :-1]
    ends = np.ones_like(starts)
    ends[:, :-1] = starts[:, 1:]
    first = np.maximum.accumulate(np.where(starts, positions, 0.0), axis=1)
    last = np.minimum.accumulate(np.where(ends, positions, n)[:, ::-1], axis=1)[:, ::-1]
    places = np.empty_like(first)
    np.put_along_axis(places, order, (first + last) / 2.0, axis=1)
    return places.T
