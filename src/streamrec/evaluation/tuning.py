"""Choosing each peer's settings on a validation slice carved from the training part.

The validation split never reaches past the training part: for prequential, the first
``tune_fraction`` of the stream; for the temporal split, the training 80%; for leave-last-out,
its training events. Within it, the last 10% of events (temporal) or each user's last new
item (leave-last-out) is held out. Every candidate of the peer's grid learns the rest and is
scored by NDCG@K on what was held out; the best wins, ties going to the earlier candidate
(the grid's first entry is the default). streamrec itself runs with its defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from streamrec.evaluation.dense_events import DenseEvents
from streamrec.evaluation.peers.base import Params, PeerContext, PeerSpec
from streamrec.evaluation.splits import Split, leave_last_out, run_split, temporal_split

VALIDATION_FRACTION = 0.1
Tick = Callable[[int, int], None]  # candidates done, candidates in all


@dataclass(frozen=True, slots=True)
class Tuned:
    """The chosen settings, and each candidate's validation NDCG@K in grid order."""

    params: Params
    candidates: tuple[tuple[Params, float], ...]


def validation_split(protocol: str, training: DenseEvents) -> Split:
    """The held-out part of ``training`` that candidates are judged on."""
    if protocol == "leave-last-out":
        return leave_last_out(training)
    return temporal_split(training, 1.0 - VALIDATION_FRACTION)


def tune(spec: PeerSpec, validation: Split, k: int, context: PeerContext,
         tick: Tick | None = None) -> Tuned:
    """Score every candidate of ``spec.grid`` on ``validation``; one candidate: no work."""
    if len(spec.grid) == 1 or validation.n_queries == 0 or len(validation.train) == 0:
        return Tuned(spec.grid[0], ())
    # batch peers fit once, after the validation's training events
    once = replace(context, refit_every=len(validation.train), mini_batch=1, url=None)
    scored: list[tuple[Params, float]] = []
    for done, params in enumerate(spec.grid, 1):
        run = run_split(validation, spec.build(params, once), k)
        scored.append((params, float(np.mean(run.score("ndcg")))))
        if tick is not None:
            tick(done, len(spec.grid))
    best = max(range(len(scored)), key=lambda i: (scored[i][1], -i))
    return Tuned(scored[best][0], tuple(scored))
