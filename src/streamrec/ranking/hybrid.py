"""The hybrid ranker: candidates from every source, scored by a logistic model trained online.

It learns from two signals. Feedback on what was shown: an event whose
``context.recommendation_id`` names a recommendation is a positive for that item and the
other shown items are negatives. And the stream itself: for a sample of events, before they
are learned, the ranker is asked to rank the candidates for that user and told which one the
user actually took next, the same test-then-train question the prequential evaluation asks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import BaseModel, Field, field_validator

from streamrec.models.base import DenseScorer
from streamrec.ranking.ann import ANNConfig, VectorIndexes
from streamrec.ranking.blend import RANKER, Blend, LeftOut
from streamrec.ranking.features import CandidateSet, featurise, gather, layout
from streamrec.ranking.ftrl import FTRLConfig, FTRLRanker
from streamrec.ranking.hedge import Hedge, HedgeConfig
from streamrec.ranking.item_facts import ItemFacts
from streamrec.ranking.negatives import NegativesConfig
from streamrec.ranking.plan import ServingPlan
from streamrec.types import FloatArray, IntArray, Query


class HybridConfig(BaseModel):
    per_source: int = Field(default=100, ge=1, le=10_000, description="Candidates per source.")
    train_every: int = Field(
        default=200, ge=1, description="After warm-up, learn from every n-th eligible event."
    )
    thin_after: int = Field(
        default=250_000, ge=0, description="Lessons (and the tests at them) thin out with "
        "the log past this many eligible events: every train_every x 2-th from twice as many, "
        "x 4-th from four times, and so on, so each doubling of the log brings the same "
        "thin_after / train_every lessons (1,250). A test is a candidate pass over every item "
        "(~5-7 ms at 100k items with every source on): thinning from 1M, lessons were 75% of "
        "the learner's time over 3M events and 35% at 9M. 0: never thin.")
    warmup_events: int = Field(default=500, ge=0,
                               description="Learn from every eligible event until this many.")
    negatives: int = Field(default=10, ge=1, description="Negatives per positive.")
    stream_lessons: bool = Field(
        default=True, description="Learn from the stream's next items (off: only from feedback "
        "on what was shown, e.g. when the prior was fit offline to another question).")
    prior: dict[str, float] | None = Field(
        default=None, description="Starting weights by feature name (e.g. fit offline on a "
        "validation replay, see ranking/offline.py); features not named keep the built-in prior.")
    attribute_window: int = Field(
        default=50, ge=1, le=1000,
        description="Recent items of the user that attribute-match features compare with.")
    ftrl: FTRLConfig = Field(default_factory=FTRLConfig)
    hedge: HedgeConfig = Field(
        default_factory=HedgeConfig, description="The blend over the sources, popularity at "
        "the log's pace and the ranker, weighted by their measured quality (ranking/hedge.py).")
    only_source: str | None = Field(
        default=None, description="Candidates from this one source, ranked by its own score: "
        "the source alone, no blend (what `streamrec evaluate --models streamrec-<source>` "
        "measures against the blend).")
    # serving only, like ann: not in the model fingerprint
    disabled_sources: list[str] = Field(
        default_factory=list, exclude=True,
        description="Sources left out of the lists served: they bring no candidates and score "
        "none (their models still learn, and the ranker's lessons and online tests still ask "
        "them); e.g. an experiment's variant without co-occurrence.")
    # serving only (lessons are taught from exact candidates): not in the model fingerprint,
    # so tuning it does not make a snapshot unusable
    ann: ANNConfig = Field(
        default_factory=ANNConfig, exclude=True,
        description="Approximate nearest-neighbour candidates for vector sources (ALS) in large "
        "catalogues.")

    @field_validator("prior")
    @classmethod
    def _known_features(cls, prior: dict[str, float] | None) -> dict[str, float] | None:
        features = layout().features
        unknown = sorted(set(prior or ()) - set(features))
        if unknown:
            raise ValueError(f"unknown ranker features {unknown}; known: {list(features)}")
        return prior

    @field_validator("only_source")
    @classmethod
    def _known_source(cls, only: str | None) -> str | None:
        names = layout().names
        if only is not None and only not in names:
            raise ValueError(f"unknown source {only!r}; known: {', '.join(names)}")
        return only

    @field_validator("disabled_sources")
    @classmethod
    def _known_sources(cls, disabled: list[str]) -> list[str]:
        names = layout().names
        unknown = [name for name in disabled if name not in names]
        if unknown:
            raise ValueError(f"unknown sources {unknown}; known: {', '.join(names)}")
        return disabled

    def prior_weights(self) -> FloatArray:
        lay = layout()
        weights = lay.prior.copy()
        for name, value in (self.prior or {}).items():
            weights[lay.features.index(name)] = value
        return weights


class HybridRanker:
    name = "hybrid"

    def __init__(self, config: HybridConfig | None = None,
                 ignored_attributes: Sequence[str] = ()) -> None:
        self.config = config or HybridConfig()
        self.layout = layout()  # the registered sources' feature columns, fixed from here
        self.ftrl = FTRLRanker(self.config.ftrl, len(self.layout.features),
                               self.config.prior_weights())
        # the ranker without the features of the sources on probation (probation.py): the
        # same lessons, those columns left out; it ranks while they stay out
        self.probation_features = list(self.layout.probation_features)
        self.ftrl_without = FTRLRanker(self.config.ftrl, len(self.layout.features),
                                       self.config.prior_weights())
        # learned by the engine state with the models: each event, each catalogue item
        self.facts = ItemFacts(self.config.attribute_window, ignored_attributes)
        self.eligible_seen = 0
        self.lesson_now = False  # the event wants_example last said yes to teaches the ranker
        self.indexes = VectorIndexes(self.config.ann)
        # the experts, their online quality, and the weights over them (ranking/blend.py)
        self.blend = Blend(self.layout.names, self.config.hedge,
                           mixes=self.config.stream_lessons, probation=self.layout.probation)

    def plan(self, config: HybridConfig | None = None,
             negatives: NegativesConfig | None = None,
             max_per_category: int | None = None) -> ServingPlan:
        """How lists are made under ``config`` (default: this ranker's) and the other serving
        settings given: built once per configuration, never per request (ranking/plan.py)."""
        config = config or self.config
        return ServingPlan(
            per_source=config.per_source, only_source=config.only_source,
            disabled=frozenset(config.disabled_sources),
            mixes=config.hedge.enabled and self.config.stream_lessons,
            hedge=Hedge(self.blend.experts, config.hedge, RANKER),
            paced_candidates=config.hedge.paced_candidates if config.hedge.enabled else 0,
            negatives=negatives or NegativesConfig(), max_per_category=max_per_category)

    def candidates(self, query: Query, scorers: Mapping[str, DenseScorer], n_items: int,
                   also: IntArray | None = None, approximate: bool = False,
                   plan: ServingPlan | None = None) -> CandidateSet:
        """``approximate``: vector sources may bring their candidates from an ANN index
        (``ann.py``; serving). Lessons must not: what is learned would depend on timing.
        ``plan``: a list's serving settings (serving; None: the ranker's own)."""
        indexes = self.indexes if approximate else None
        only = self.config.only_source if plan is None else plan.only_source
        per_source = self.config.per_source if plan is None else plan.per_source
        if only is not None:
            scorers = {only: scorers[only]} if only in scorers else {}
        elif plan is not None and (left_out := self._left_out_of_lists(plan)):
            scorers = {name: s for name, s in scorers.items() if name not in left_out}
        facts = self.facts if only is None else None
        if only is None:  # what popularity at the log's pace brings
            paced = self.blend.also(query.exclude, n_items,
                                    None if plan is None else plan.paced_candidates)
            also = paced if also is None else np.concatenate((also, paced))
        return gather(query, scorers, n_items, per_source, also, indexes, facts,
                      self.layout)

    def _left_out_of_lists(self, plan: ServingPlan) -> frozenset[str]:
        """The sources a list asks nothing of: those ``plan`` disables, and the sources on
        probation while they are out (probation.py): their candidates as well as their
        scores, so a list is then the blend without them, and their encoder pass and index
        search are not paid for."""
        if not self.probation_features or self.serving()[1]:
            return plan.disabled
        return plan.disabled | {self.layout.names[column] for column in self.layout.probation}

    def rank(self, candidates: CandidateSet, plan: ServingPlan | None = None,
             user: int | None = None) -> FloatArray:
        """Scores of ``candidates`` for ``user`` (whose gap since their previous event picks
        the blend's weights, blend.py), under ``plan`` (serving; None: the ranker's own)."""
        only = self.config.only_source if plan is None else plan.only_source
        if only is not None:
            return candidates.raw[:, self.layout.names.index(only)].copy()
        raw, ranker = self._served(candidates)
        if plan is None:
            return self.blend.rank(candidates.items, raw, ranker, user=user)
        return self.blend.rank(candidates.items, raw, ranker, plan.hedge, plan.mixes, user)

    def _without(self, features: FloatArray) -> FloatArray:
        """``features`` with the columns of the sources on probation at 0."""
        if not self.probation_features:
            return features
        left_out = features.copy()
        left_out[:, self.probation_features] = 0.0
        return left_out

    def serving(self) -> tuple[FTRLRanker, bool]:
        """The ranker lists use, and whether the sources on probation serve (if not, it is
        the one without their features, and their columns are left out)."""
        if not self.probation_features or self.blend.probation.admits():
            return self.ftrl, True
        return self.ftrl_without, False

    def _served(self, candidates: CandidateSet) -> tuple[FloatArray, FloatArray]:
        """The sources' scores and the ranker's that lists use (``Blend.served``)."""
        ranker, admitted = self.serving()
        if admitted:
            return candidates.raw, ranker.predict(candidates.features)
        return (self.blend.probation.without(candidates.raw),
                ranker.predict(self._without(candidates.features)))

    def wants_example(self) -> bool:
        """Called once per eligible event, in log order, so the choice replays identically:
        whether to test the experts on it (and, when ``lesson_now``, teach the ranker)."""
        # each test costs a full candidate pass (~10 ms at 100k items, every source on): every
        # event while the engine is new, then a sample, keeping learning near the models'
        # own speed
        self.eligible_seen += 1
        if self.config.only_source is not None:
            return False
        seen, every = self.eligible_seen, self.config.train_every
        if self.config.thin_after and seen >= 2 * self.config.thin_after:
            # doubling at 2x, 4x, 8x ... thin_after: each stride's events are among the last's
            every <<= (seen // self.config.thin_after).bit_length() - 1
        self.lesson_now = self.config.stream_lessons and (
            seen <= self.config.warmup_events or seen % every == 0)
        hedge = self.config.hedge
        thinning = min(every, max(1, seen // hedge.test_stride))
        stride = every if seen > hedge.test_until else thinning
        return self.lesson_now or seen % stride == 0

    def learn_next_item(self, candidates: CandidateSet, target: int,
                        user: int | None = None) -> None:
        """The user took ``target`` next, out of all these candidates (listwise: pointwise
        updates against sampled negatives, and pairwise ones against the top, measured worse
        on ML-100K). First, every expert and the blend are measured on it (blend.py); the
        ranker learns only at its lessons (``wants_example``)."""
        out, left_out = None, None
        if self.probation_features:
            kept, out = self._left_out(candidates)
            left_out = LeftOut(out.items, out.raw, self.ftrl_without.predict(out.features), kept)
        self.blend.measure(candidates.items, candidates.raw,
                           self.ftrl.predict(candidates.features), target, self.eligible_seen,
                           user, left_out)
        where = np.flatnonzero(candidates.items == target)
        if where.size == 0 or not self.lesson_now:
            return
        self.ftrl.learn_choice(candidates.features, int(where[0]))
        if out is not None:  # the lesson a list without them teaches: none if it lacked it
            mine = np.flatnonzero(out.items == target)
            if mine.size:
                self.ftrl_without.learn_choice(out.features, int(mine[0]))

    def _left_out(self, candidates: CandidateSet) -> tuple[np.ndarray | None, CandidateSet]:
        """The candidates a list has while the sources on probation are out, and which they
        are (``kept``; None: all): those the other sources brought, with the probation
        columns silent and the features made again over them alone (a source's rank among
        the candidates is then what it is in such a list)."""
        kept = candidates.without_probation
        raw = self.blend.probation.without(candidates.raw)
        if kept is None or kept.all():
            return None, CandidateSet(candidates.items, raw, self._without(candidates.features))
        raw = raw[kept]
        facts = candidates.features[kept, self.layout.first_fact:]
        features = featurise(raw, candidates.history_length, facts, self.layout)
        return kept, CandidateSet(candidates.items[kept], raw, features)

    def missed(self, user: int | None = None) -> None:
        """The event ``wants_example`` last chose names an item new to the engine: a test
        every expert failed."""
        self.blend.missed(self.eligible_seen, user)

    def learn_feedback(self, candidates: CandidateSet, taken: int) -> None:
        """Shown items (``candidates``) of which ``taken`` was engaged with."""
        labels = (candidates.items == taken).astype(np.float64)
        if labels.any():
            self.ftrl.learn(candidates.features, labels)
            if self.probation_features:
                self.ftrl_without.learn(self._without(candidates.features), labels)

    def contributions(self, candidates: CandidateSet) -> FloatArray:
        """Per candidate and source, how much that source added to the score (for reasons;
        nothing from the sources on probation while they stay out)."""
        ranker, admitted = self.serving()
        weights = ranker.weights()
        features = candidates.features if admitted else self._without(candidates.features)
        parts = np.zeros((features.shape[0], len(self.layout.sources)))
        for source, _, column in self.layout.source_features:
            parts[:, source] += features[:, column] * weights[column]
        return parts

    def attribute_part(self, candidates: CandidateSet) -> FloatArray:
        """Per candidate, how much the attribute matches added to its score (for reasons)."""
        first = self.layout.features.index("attribute_share")
        weights = self.ftrl.weights()[first:first + 2]
        return candidates.features[:, first:first + 2] @ weights

    def state(self) -> dict[str, np.ndarray]:
        without = {f"without_{key}": value for key, value in self.ftrl_without.state().items()}
        return {**self.ftrl.state(), **without, **self.facts.state(), **self.blend.state(),
                "eligible_seen": np.array([self.eligible_seen])}

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        self.ftrl.restore(state)
        # a snapshot from before the probation: its ranker, which had every feature
        self.ftrl_without.restore({key: state.get(f"without_{key}", state[key])
                                   for key in ("z", "n", "examples")})
        self.facts.restore(state)
        self.blend.restore(state)
        self.eligible_seen = int(state["eligible_seen"][0])
