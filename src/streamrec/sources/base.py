"""What a candidate source declares, and the registry that the rest of the engine reads.

A source is a model that brings candidates and scores them for the hybrid ranker. Everything
the engine needs to know about one is in its ``Source``: how its model is built from the
settings, which ranker features it has and their starting weights, the sentence that explains
an item it brought, how much its similar items count, whether a dislike pushes its neighbours
down. The ranker's feature columns, the recommender's reasons, ``streamrec evaluate``'s
``streamrec-<source>`` models all come from the registry, in its order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from streamrec.models.base import Model

# the ranker features a source may have, in blocks: every source's score and rank, then the
# steps at the top of the lists of those that have them, then their interaction with the
# user's history length (ranking/features.py computes each kind)
FEATURE_BLOCKS: tuple[tuple[str, ...], ...] = (("score", "rank"), ("top5", "top20"),
                                               ("x_history",))
FEATURE_KINDS = tuple(kind for block in FEATURE_BLOCKS for kind in block)


@dataclass(frozen=True, slots=True)
class Source:
    """One candidate source. ``prior``: its ranker features (kinds of ``FEATURE_KINDS``,
    ``score`` and ``rank`` always) and their weights before anything is learned.
    ``reason``: why an item it brought is recommended, ``{item}`` naming the recent item that
    brought it (from its scores' ``because``); None: the generic "popular now" reasons.
    ``similar_reason`` and ``similar_weight``: for GET /v1/items/{id}/similar, ``{item}``
    naming the item asked about; weight 0: not asked. ``neighbours``: its one-item score is an
    item similarity, so a dislike pushes the disliked item's neighbours down.
    ``candidates_below``: brings candidates only for users with fewer events than this (it
    still scores everyone's candidates); None: always. ``on_probation``: its ranker features
    and its own ranking enter lists only while the blend's online tests, counted from its
    first scores, find the blend better with it than without it (``ranking/blend.py``); it
    is measured all the same."""

    name: str
    # its model from ``settings.models`` (``ModelSettings``; typed loosely here: the settings
    # import the ranker, which reads this registry)
    build: Callable[[Any], Model]
    prior: Mapping[str, float]
    reason: str | None = None
    similar_reason: str | None = None
    similar_weight: float = 0.0
    neighbours: bool = False
    candidates_below: int | None = None
    on_probation: bool = False
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.prior) - set(FEATURE_KINDS))
        if unknown or not {"score", "rank"} <= set(self.prior):
            raise ValueError(f"source {self.name!r}: prior needs 'score' and 'rank' and may "
                             f"have only {list(FEATURE_KINDS)}; unknown: {unknown}")
        if self.similar_weight > 0 and not self.similar_reason:
            raise ValueError(f"source {self.name!r}: similar items need a similar_reason")


class Registry:
    """The sources in their order (the ranker's columns follow it). ``version`` changes with
    every registration, so what is derived from the registry can be cached on it."""

    def __init__(self, sources: Iterable[Source]) -> None:
        self._sources: tuple[Source, ...] = ()
        self.version = 0
        for source in sources:
            self.register(source)

    def __iter__(self) -> Iterator[Source]:
        return iter(self._sources)

    def __len__(self) -> int:
        return len(self._sources)

    def __contains__(self, name: object) -> bool:
        return any(source.name == name for source in self._sources)

    def __getitem__(self, name: str) -> Source:
        for source in self._sources:
            if source.name == name:
                return source
        raise KeyError(name)

    def names(self) -> tuple[str, ...]:
        return tuple(source.name for source in self._sources)

    def register(self, source: Source) -> None:
        if source.name in self:
            raise ValueError(f"a source named {source.name!r} is registered already")
        self._sources = (*self._sources, source)
        self.version += 1

    def unregister(self, name: str) -> None:
        self._sources = tuple(s for s in self._sources if s.name != name)
        self.version += 1

    @contextmanager
    def added(self, source: Source) -> Iterator[Source]:
        """``source`` registered for the duration (tests, experiments)."""
        self.register(source)
        try:
            yield source
        finally:
            self.unregister(source.name)
