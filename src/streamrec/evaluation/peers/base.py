"""The one small interface every compared model speaks, streamrec included.

Models are fed dense int ids (see ``DenseEvents``) and answer with item ids, best first.
What they are told, and when, is decided by the protocols alone, never by the adapters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from streamrec.evaluation.dense_events import DenseEvents
from streamrec.types import IntArray, Item

Params = Mapping[str, float | int | str | None]


@runtime_checkable
class Recommender(Protocol):
    """A model under evaluation.

    ``learn`` is given every event exactly once, in replay order, in slices of any length.
    ``recommend`` returns at most ``k`` distinct item ids, best first, none of ``exclude``;
    ``now`` is the time of the request (unix seconds). It must not change what was learned.
    """

    name: str

    def learn(self, events: DenseEvents) -> None: ...

    def recommend(self, user: int, k: int, exclude: IntArray, now: float) -> IntArray: ...


@dataclass(frozen=True, slots=True)
class PeerContext:
    """What every model may know before the stream starts.

    ``refit_every``: events between refits of models trained in batch (their first fit comes
    after that many events; before it they answer with running popularity).
    ``mini_batch``: events a model too slow to learn one event at a time may buffer
    (prequential: 5% of the stream; the offline protocols: 1, nothing waits).
    ``items``: the catalogue, when the data set describes it (a shop knows its catalogue
    before anyone engages with it); models that use no item data ignore it.
    """

    user_ids: tuple[str, ...]
    item_ids: tuple[str, ...]
    refit_every: int
    mini_batch: int = 1
    seed: int = 0
    url: str | None = None
    items: tuple[Item, ...] = ()
    api_key: str | None = field(default=None, repr=False)  # sent as a bearer token with url


@dataclass(frozen=True, slots=True)
class PeerSpec:
    """How to build one model, which settings to tune it over, and how it learns.

    ``grid[0]`` is the default; ``learning`` is reported beside the figures. ``fit``, when
    given, replaces the grid search for the offline protocols: it is handed the protocol's
    name and the training part alone, and returns the params to build with.
    """

    name: str
    build: Callable[[Params, PeerContext], Recommender]
    learning: str
    grid: tuple[Params, ...] = ({},)
    is_available: Callable[[], bool] = lambda: True
    fit: Callable[[str, DenseEvents, PeerContext, Callable[[int, int], None] | None],
                  Params] | None = None
