"""One evaluation run: load the log once, fix the queries once, then every model in turn.

Everything shared by the models (the events, the query positions or the split, the
validation slice, the refit schedule) is computed once in a :class:`Plan` before any model
runs, so every model sees exactly the same events in the same order and is asked exactly
the same questions. With ``jobs > 1`` models run in separate processes (one core each); the
figures do not change, only the wall time.
"""

from __future__ import annotations

import multiprocessing
import queue as queues
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from streamrec.errors import InvalidInput
from streamrec.evaluation.dense_events import DenseEvents
from streamrec.evaluation.peers import PEERS
from streamrec.evaluation.peers.base import PeerContext
from streamrec.evaluation.prequential import run_prequential
from streamrec.evaluation.queries import query_positions
from streamrec.evaluation.runs import ModelRun
from streamrec.evaluation.splits import Split, leave_last_out, run_split, temporal_split
from streamrec.evaluation.tuning import Tuned, tune, validation_split
from streamrec.types import IntArray, Item

PROTOCOLS = ("prequential", "temporal", "leave-last-out")
ALL_MODELS = ("streamrec", "pop", "decay", "cooc", "als", "bpr", "ease", "rtrec")
# (model, phase, done, total): phase is "tuning" or "evaluating"
Progress = Callable[[str, str, int, int], None]


@dataclass(frozen=True, slots=True)
class EvaluationConfig:
    """Every setting of a run; all of it is written into the report."""

    data: str
    protocol: str = "prequential"
    k: int = 10
    sample: int = 1  # prequential: every n-th event is a candidate query
    block: int = 1  # prequential: queries see nothing of their block of B events
    models: tuple[str, ...] = ALL_MODELS
    url: str | None = None  # evaluate a running streamrec server instead of in process
    api_key: str | None = field(default=None, repr=False)  # for --url; never reported
    refit_fraction: float = 0.1  # batch peers refit after every this share of the stream
    tune_fraction: float = 0.2  # prequential: peers are tuned on this first share
    train_fraction: float = 0.8  # temporal split
    windows: int = 20  # spans of the stream for the over-time figures
    seed: int = 0
    tune: bool = True
    jobs: int = 1
    max_per_user: int | None = None  # sparse cut: N random events of each user (sparse.py)
    kcore: int | None = None  # then users and items with at least this many events

    @property
    def name(self) -> str:
        """The data set and its cut, for file names and titles: ``online-retail-max10-core5``."""
        from streamrec.evaluation.datasets import dataset_name

        cut = "" if self.max_per_user is None else f"-max{self.max_per_user}"
        cut += "" if self.kcore is None else f"-core{self.kcore}"
        return dataset_name(self.data) + cut

    def check(self) -> None:
        """Raise InvalidInput naming the first bad setting."""
        if self.protocol not in PROTOCOLS:
            raise InvalidInput("protocol", f"protocol must be one of {', '.join(PROTOCOLS)}")
        unknown = [m for m in self.models if m not in PEERS]
        if unknown:
            raise InvalidInput("models", f"unknown models {unknown}; known: {', '.join(PEERS)}")
        for name in ("k", "sample", "block", "windows", "jobs", "max_per_user", "kcore"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise InvalidInput(name, f"{name} must be at least 1")
        if not 0.0 < self.refit_fraction <= 1.0:
            raise InvalidInput("refit_fraction", "refit_fraction must be in (0, 1]")
        for name in ("tune_fraction", "train_fraction"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise InvalidInput(name, f"{name} must be between 0 and 1")


@dataclass(frozen=True, slots=True)
class Plan:
    """What every model shares. ``positions`` (prequential) or ``split`` (the others)."""

    protocol: str
    k: int
    block: int
    positions: IntArray | None
    split: Split | None
    validation: Split
    context: PeerContext
    tuned_before: int  # prequential: positions below this were part of the tuning data


@dataclass(frozen=True, slots=True)
class ModelResult:
    run: ModelRun
    tuned: Tuned
    learning: str
    seconds: float  # wall time of this model: tuning and run
    # what the model measured itself on the stream (streamrec: ranking/blend.py), if it can
    online: dict[str, dict[str, float]] | None = None


@dataclass(frozen=True, slots=True)
class Evaluation:
    config: EvaluationConfig
    n_events: int
    n_users: int
    n_items: int
    plan: Plan
    item_users: IntArray  # per item: distinct users who had it in the whole log (novelty)
    results: tuple[ModelResult, ...]
    skipped: tuple[str, ...]  # asked for, but not installed
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


def make_plan(config: EvaluationConfig, events: DenseEvents,
              items: tuple[Item, ...] = ()) -> Plan:
    n = len(events)
    context = PeerContext(events.user_ids, events.item_ids,
                          refit_every=max(1, int(round(config.refit_fraction * n))),
                          mini_batch=max(1, n // 20), seed=config.seed, url=config.url,
                          items=items, api_key=config.api_key)
    if config.protocol == "prequential":
        positions = query_positions(events.users, events.items, config.sample, config.block)
        tuned_before = int(round(config.tune_fraction * n))
        validation = validation_split(config.protocol, events.slice(0, tuned_before))
        return Plan(config.protocol, config.k, config.block, positions, None, validation,
                    context, tuned_before)
    split = (temporal_split(events, config.train_fraction) if config.protocol == "temporal"
             else leave_last_out(events))
    once = replace(context, refit_every=max(1, len(split.train)), mini_batch=1)
    return Plan(config.protocol, config.k, 1, None, split,
                validation_split(config.protocol, split.train), once, 0)


def evaluate_model(name: str, plan: Plan, events: DenseEvents, do_tune: bool,
                   progress: Progress | None = None) -> ModelResult:
    """Tune one model on the plan's validation slice, then run the protocol with it.

    BLAS runs on one thread: every model gets one core, and latencies are comparable."""
    with threadpool_limits(limits=1, user_api="blas"):
        return _evaluate_model(name, plan, events, do_tune, progress)


def _evaluate_model(name: str, plan: Plan, events: DenseEvents, do_tune: bool,
                    progress: Progress | None) -> ModelResult:
    started = time.perf_counter()
    spec = PEERS[name]

    def tick(done: int, total: int) -> None:
        if progress is not None:
            progress(name, "tuning", done, total)

    if not do_tune:
        tuned = Tuned(spec.grid[0], ())
    elif spec.fit is not None and plan.split is not None:
        tuned = Tuned(spec.fit(plan.protocol, plan.split.train, plan.context, tick), ())
    elif spec.fit is not None and not plan.context.url:
        # prequential: fit on the slice the peers are tuned on (a server over --url keeps the
        # settings it was started with: see `streamrec fit-ranker`)
        tuning_slice = events.slice(0, plan.tuned_before)
        tuned = Tuned(spec.fit(plan.protocol, tuning_slice, plan.context, tick), ())
    else:
        tuned = tune(spec, plan.validation, plan.k, plan.context, tick)
    model = spec.build(tuned.params, plan.context)
    if plan.positions is not None:
        total = len(events)
        run = run_prequential(events, model, plan.positions, plan.k, plan.block,
                              _for(progress, name, total))
    else:
        assert plan.split is not None
        total = len(plan.split.train) + plan.split.n_queries
        run = run_split(plan.split, model, plan.k, _for(progress, name, total))
    measured = getattr(model, "online_quality", None)
    online = measured() if callable(measured) else None
    close = getattr(model, "close", None)
    if callable(close):
        close()
    return ModelResult(run, tuned, spec.learning, time.perf_counter() - started, online)


def _for(progress: Progress | None, name: str, total: int) -> Callable[[int], None] | None:
    if progress is None:
        return None
    return lambda done: progress(name, "evaluating", done, total)


def evaluate(config: EvaluationConfig, progress: Progress | None = None,
             events: DenseEvents | None = None, items: tuple[Item, ...] = ()) -> Evaluation:
    """Run every available model of ``config.models`` under ``config.protocol``.

    ``events`` (and ``items``) skip loading ``config.data`` (tests, a log in memory)."""
    config.check()
    started = time.perf_counter()
    if events is None:
        from streamrec.evaluation.datasets import load_log
        from streamrec.evaluation.sparse import sparsify

        loaded = load_log(config.data)
        events, items = loaded.events, loaded.items
        events = sparsify(events, config.max_per_user, config.kcore, config.seed)
        if len(events) == 0:
            raise InvalidInput("kcore", f"no event of {config.data} is left after the cut")
    plan = make_plan(config, events, items)
    names = [m for m in config.models if PEERS[m].is_available()]
    skipped = tuple(m for m in config.models if m not in names)
    if config.jobs > 1 and len(names) > 1:
        results = _in_processes(names, plan, events, config, progress)
    else:
        results = [evaluate_model(m, plan, events, config.tune, progress) for m in names]
    pairs = np.unique(events.users * max(events.n_items, 1) + events.items)
    item_users = np.bincount(pairs % max(events.n_items, 1), minlength=events.n_items)
    return Evaluation(config, len(events), events.n_users, events.n_items, plan,
                      item_users.astype(np.int64), tuple(results), skipped,
                      time.perf_counter() - started)


class _QueueProgress:
    """Progress sent from a worker process to the parent (picklable)."""

    def __init__(self, channel: Any) -> None:
        self.channel = channel

    def __call__(self, model: str, phase: str, done: int, total: int) -> None:
        self.channel.put((model, phase, done, total))


def _in_processes(names: list[str], plan: Plan, events: DenseEvents,
                  config: EvaluationConfig, progress: Progress | None) -> list[ModelResult]:
    context = multiprocessing.get_context("spawn")  # no fork of a threaded parent
    with context.Manager() as manager, ProcessPoolExecutor(
            max_workers=config.jobs, mp_context=context) as pool:
        channel = manager.Queue()
        sender = _QueueProgress(channel) if progress is not None else None
        futures: list[Future[ModelResult]] = [
            pool.submit(evaluate_model, m, plan, events, config.tune, sender) for m in names]
        while not all(f.done() for f in futures):
            _drain(channel, progress, wait_s=0.2)
        _drain(channel, progress, wait_s=0.0)
        return [f.result() for f in futures]


def _drain(channel: Any, progress: Progress | None, wait_s: float) -> None:
    try:
        message = channel.get(timeout=wait_s) if wait_s else channel.get_nowait()
        while True:
            if progress is not None:
                progress(*message)
            message = channel.get_nowait()
    except queues.Empty:
        return


def config_settings(config: EvaluationConfig) -> dict[str, Any]:
    """The config as plain JSON values."""
    settings = asdict(config)
    settings.pop("api_key")
    settings["models"] = list(config.models)
    return settings
