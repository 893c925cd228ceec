"""Prequential (test-then-train) replay: the one loop every model goes through.

Events are replayed in order. At each query position p (see ``query_positions``) the model has
learned exactly the events before ``start(p)`` (p itself, or the start of p's block) and is
asked for the user's top-K, excluding what that user had before ``start(p)``; only then does
it learn the events from there on. The loop is a generator of outcomes (after river's
``progressive_val_score``); ``run_prequential`` is the thin collector around it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from streamrec.evaluation.dense_events import DenseEvents
from streamrec.evaluation.peers.base import Recommender
from streamrec.evaluation.runs import ModelRun, RunCollector
from streamrec.types import IntArray

Progress = Callable[[int], None]  # events of the stream replayed so far
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Outcome:
    position: int
    user: int
    item: int  # the item the user went on to have: the one to find
    recommended: IntArray  # at most k, best first
    latency_s: float


@dataclass(slots=True)
class LearnTally:
    """Filled in by ``replay`` as it goes: events learned and seconds spent in ``learn``."""

    events: int = 0
    seconds: float = 0.0


def replay(events: DenseEvents, model: Recommender, positions: IntArray, k: int,
           block: int = 1, tally: LearnTally | None = None,
           clock: Clock = time.perf_counter) -> Iterator[Outcome]:
    """Yield one outcome per query position (ascending), teaching ``model`` every event once.

    Events between two queries are learned as one slice; when the generator is exhausted the
    model has learned the whole stream. The seen-items exclusion is kept here, identically
    for every model.
    """
    tally = tally if tally is not None else LearnTally()
    seen: dict[int, set[int]] = {}
    learned = 0

    def learn_until(stop: int) -> None:
        nonlocal learned
        if stop <= learned:
            return
        part = events.slice(learned, stop)
        started = clock()
        model.learn(part)
        tally.seconds += clock() - started
        tally.events += stop - learned
        for user, item in zip(part.users.tolist(), part.items.tolist(), strict=True):
            seen.setdefault(user, set()).add(item)
        learned = stop

    users, items, times = events.users, events.items, events.timestamps
    for position in positions.tolist():
        learn_until(position - position % block)
        user = int(users[position])
        exclude = np.fromiter(seen.get(user, ()), dtype=np.int64)
        started = clock()
        recommended = model.recommend(user, k, exclude, float(times[position]))
        latency = clock() - started
        yield Outcome(position, user, int(items[position]), recommended[:k], latency)
    learn_until(len(events))


def run_prequential(events: DenseEvents, model: Recommender, positions: IntArray, k: int,
                    block: int = 1, progress: Progress | None = None,
                    report_every: int = 2_000) -> ModelRun:
    """Replay the stream through ``model`` and collect every outcome."""
    collector = RunCollector(model.name, k)
    tally = LearnTally()
    for count, outcome in enumerate(replay(events, model, positions, k, block, tally), 1):
        collector.add(outcome.position, outcome.user, outcome.recommended, (outcome.item,),
                      outcome.latency_s)
        if progress is not None and count % report_every == 0:
            progress(outcome.position)
    if progress is not None:
        progress(len(events))
    return collector.finish(tally.events, tally.seconds)
