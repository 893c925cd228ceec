"""The models compared in a run, each behind the same small interface (``base.Recommender``).

``PEERS`` maps a name (as given to ``--models``) to how to build it, the grid it is tuned over
(first entry: the default) and a sentence on how it learns, reported with its figures.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import partial

from streamrec.evaluation.dense_events import DenseEvents
from streamrec.evaluation.peers.base import Params, PeerContext, PeerSpec, Recommender
from streamrec.evaluation.peers.cooccurrence import CooccurrencePeer
from streamrec.evaluation.peers.ease import EASEPeer
from streamrec.evaluation.peers.factorisation import ALSPeer, BPRPeer
from streamrec.evaluation.peers.popular import PopularPeer
from streamrec.evaluation.peers.rtrec_peer import RtrecPeer, is_installed
from streamrec.evaluation.peers.streamrec_engine import StreamrecHTTPPeer, StreamrecPeer
from streamrec.settings import Settings
from streamrec.sources import SOURCES

__all__ = ["PEERS", "Params", "PeerContext", "PeerSpec", "Recommender",
           "build_peer", "source_models"]

_HOUR, _DAY = 3600.0, 86400.0


def _grid(**choices: Sequence[float | int | None]) -> tuple[Params, ...]:
    """Every combination, the first values of each list first (that one is the default)."""
    names = list(choices)
    return tuple(dict(zip(names, values, strict=True))
                 for values in itertools.product(*(choices[n] for n in names)))


def _streamrec(params: Params, context: PeerContext, peer_name: str = "streamrec",
               models: dict[str, object] | None = None) -> Recommender:
    """The engine; ``models``: settings of its models other than the defaults (e.g. the
    sequence model off, for the blend without it)."""
    if context.url:  # a running server answers with its own settings
        return StreamrecHTTPPeer(context.url, context)
    prior = {name.removeprefix("prior."): float(value)  # type: ignore[arg-type]
             for name, value in params.items() if name.startswith("prior.")}
    models = dict(models or {})
    if prior:
        models["hybrid"] = {"prior": prior,
                            "stream_lessons": bool(params.get("stream_lessons", 1))}
    if not models:
        return StreamrecPeer(context)
    return StreamrecPeer(context, Settings(models=models),  # type: ignore[arg-type]
                         name=peer_name)


def _streamrec_without_sequence(params: Params, context: PeerContext) -> Recommender:
    return _streamrec(params, context, "streamrec-without-sequence",
                      {"sequence": {"enabled": False}})


def source_models() -> tuple[str, ...]:
    """Each of streamrec's registered sources alone, by name (``streamrec-<source>``); run
    only when named: each learns every event like the blend."""
    return tuple(f"streamrec-{source.name}" for source in SOURCES)


def _source_peers() -> dict[str, PeerSpec]:
    return {name: PeerSpec(
                name, partial(_streamrec_source, name, source.name),
                f"streamrec's own {source.name} source alone, ranked by its own score (the "
                "engine with its defaults otherwise): what it adds to the blend")
            for name, source in zip(source_models(), SOURCES, strict=True)}


class _Peers(Mapping[str, PeerSpec]):
    """The peers by name: the fixed ones, then ``source_models()`` as the registry has them
    at each look-up (a source registered later is measurable too)."""

    def __init__(self, fixed: Iterable[PeerSpec]) -> None:
        self._fixed = {spec.name: spec for spec in fixed}

    def _all(self) -> dict[str, PeerSpec]:
        return {**self._fixed, **_source_peers()}

    def __getitem__(self, name: str) -> PeerSpec:
        return self._all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


def _streamrec_source(name: str, source: str, params: Params,
                      context: PeerContext) -> Recommender:
    hybrid = {"only_source": source}
    return StreamrecPeer(context, Settings(models={"hybrid": hybrid}),  # type: ignore[arg-type]
                         name=name)


def _fit_streamrec(protocol: str, training: DenseEvents, context: PeerContext,
                   tick: Callable[[int, int], None] | None) -> Params:
    from streamrec.evaluation.ranker_fit import fit_ranker  # imports the peer module

    return fit_ranker(protocol, training, context, tick)


def _float(params: Params, name: str) -> float:
    return float(params[name])  # type: ignore[arg-type]


def _int(params: Params, name: str) -> int:
    return int(params[name])  # type: ignore[arg-type]


def _decay(params: Params, context: PeerContext) -> Recommender:
    return PopularPeer("decay", _float(params, "half_life_s"))


PEERS: Mapping[str, PeerSpec] = _Peers((
    PeerSpec("streamrec", _streamrec,
             "every event as it comes, through EngineState.apply (or POST /v1/events with "
             "--url); the engine's default settings; the ranker's starting weights fit to the "
             "protocol's question on the tuning slice or training part, kept when better on "
             "its held-out end (ranker_fit.py)",
             fit=_fit_streamrec),
    PeerSpec("streamrec-without-sequence", _streamrec_without_sequence,
             "as streamrec, with the sequence model never fitted (silent): the blend without "
             "it, to measure what it adds; only when named", fit=_fit_streamrec),
    PeerSpec("streamrec-defaults",
             lambda params, context: StreamrecPeer(context, name="streamrec-defaults"),
             "as streamrec, but exactly the server's defaults: no starting weights fit on the "
             "tuning slice or training part (what `streamrec serve` does unless started with "
             "fit-ranker's weights); only when named"),
    PeerSpec("pop", lambda params, context: PopularPeer("pop"),
             "every event: counts of positive events"),
    PeerSpec("decay", _decay, "every event: counts fading with a half-life",
             _grid(half_life_s=[7 * _DAY, _HOUR, _DAY, 30 * _DAY, 180 * _DAY])),
    PeerSpec("cooc", lambda params, context: CooccurrencePeer(_int(params, "window")),
             "every event: co-occurrence counts within the user's last `window` items",
             _grid(window=[50, 10, 20])),
    PeerSpec("als", lambda params, context: ALSPeer(
                 context.refit_every, _int(params, "factors"), _float(params, "regularization"),
                 _float(params, "alpha"), seed=context.seed),
             "refit on schedule; the asking user folded in at every query "
             "(implicit recalculate_user); new items wait for the next refit",
             _grid(factors=[64, 32], regularization=[0.05, 0.5], alpha=[1.0, 10.0])),
    PeerSpec("bpr", lambda params, context: BPRPeer(
                 context.refit_every, _int(params, "factors"), _float(params, "learning_rate"),
                 _float(params, "regularization"), seed=context.seed),
             "refit on schedule; no fold-in: users new since the last refit get popularity",
             _grid(factors=[64, 128], learning_rate=[0.05], regularization=[0.01, 0.001])),
    PeerSpec("ease", lambda params, context: EASEPeer(
                 context.refit_every, _float(params, "l2"), _int(params, "max_items")),
             "B refit on schedule only (top 4,000 items); users scored from their history "
             "as of the query",
             _grid(l2=[200.0, 50.0, 500.0, 1000.0, 2000.0], max_items=[4_000])),
    PeerSpec("rtrec", lambda params, context: RtrecPeer(context.mini_batch),
             "rtrec's SLIM with its own partial fit, in mini-batches of mini_batch_events "
             "(its per-event fit is too slow to replay a stream); rtrec's defaults",
             is_available=is_installed),
))


def build_peer(name: str, params: Params, context: PeerContext) -> Recommender:
    """A fresh model by its ``PEERS`` name; raises KeyError for an unknown one."""
    return PEERS[name].build(params, context)
