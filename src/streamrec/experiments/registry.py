"""The experiments the log started and stopped, which variant each user is in, and the
feedback on each variant's lists: part of the engine state, a function of the log.

The learner applies each ``$experiment`` event in its place (``learn``); each variant's
serving plan is made then, once (``overrides.py``), so a read only hashes the user and picks
a plan. At most one experiment runs at a time: one user, one variant, one plan per list.
Feedback events that name a list shown in an experiment carry its experiment and variant in
the log (``EXPERIMENT_KEY``, written at ingestion from the impression), and ``count``
tallies them per variant and event type: the events, and the lists with at least one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from streamrec.errors import InvalidInput
from streamrec.experiments.assignment import RULE, bucket, pick_from, thresholds
from streamrec.experiments.definitions import (
    START,
    STOP,
    Definition,
    action_of,
    definition_of,
    rule_of,
    start_event,
)
from streamrec.ranking.plan import ServingPlan
from streamrec.types import Event, LoggedEvent

log = logging.getLogger(__name__)
PlanOf = Callable[[Mapping[str, Any], str], ServingPlan]  # overrides, field -> plan


@dataclass(frozen=True, slots=True)
class Assignment:
    experiment: str
    variant: str
    plan: ServingPlan


@dataclass(slots=True)
class Experiment:
    definition: Definition
    started_at: float
    started_offset: int
    stopped_at: float | None = None
    stopped_offset: int | None = None
    plans: tuple[ServingPlan, ...] = ()
    bounds: tuple[float, ...] = ()
    problem: str | None = None  # a variant's overrides no longer fit the settings
    # variant -> event type -> [lists with at least one such event, events]
    outcomes: dict[str, dict[str, list[int]]] = field(default_factory=dict)

    @property
    def is_running(self) -> bool:
        return self.stopped_offset is None

    def variant_of(self, user_key: str) -> int:
        return pick_from(self.bounds, bucket(self.definition.name, user_key))


class Experiments:
    def __init__(self, plan_of: PlanOf, default: ServingPlan) -> None:
        """``plan_of(overrides, field)``: a variant's plan (raises ``InvalidInput``);
        ``default``: the plan of lists outside any experiment."""
        self._plan_of = plan_of
        self.default = default
        self._all: dict[str, Experiment] = {}  # in the order they started
        self.running: Experiment | None = None

    def __len__(self) -> int:
        return len(self._all)

    def get(self, name: str) -> Experiment | None:
        return self._all.get(name)

    def all(self) -> list[Experiment]:
        return list(self._all.values())

    # -- learning (the learner, under the state's lock) ------------------------------------
    def learn(self, entry: LoggedEvent) -> None:
        """Apply one ``$experiment`` event."""
        event = entry.event
        action = action_of(event)
        if action == START:
            if rule_of(event) != RULE:
                log.error("experiment %r at offset %d: unknown assignment rule %r; ignored",
                          event.item_id, entry.offset, rule_of(event))
                return
            self._start(definition_of(event), event.timestamp, entry.offset)
        elif action == STOP:
            found = self._all.get(event.item_id)
            if found is not None and found.is_running:
                found.stopped_at, found.stopped_offset = event.timestamp, entry.offset
                if self.running is found:
                    self.running = None

    def _start(self, definition: Definition, at: float, offset: int) -> None:
        if definition.name in self._all:  # the engine never logs this; a replay ignores it
            return
        experiment = Experiment(definition, at, offset)
        self._make_plans(experiment)
        self._all[definition.name] = experiment
        if self.running is not None:  # never logged by the engine either: the newest runs
            self.running.stopped_at, self.running.stopped_offset = at, offset
        self.running = experiment

    def _make_plans(self, experiment: Experiment) -> None:
        variants = experiment.definition.variants
        experiment.bounds = thresholds([v.weight for v in variants])
        plans = []
        for position, variant in enumerate(variants):
            try:
                plans.append(self._plan_of(variant.overrides, f"variants[{position}].overrides"))
            except InvalidInput as error:  # settings changed since it started: say so, serve
                experiment.problem = f"{error.message} (this variant serves the defaults)"
                log.warning("experiment %r: %s", experiment.definition.name, experiment.problem)
                plans.append(self.default)
        experiment.plans = tuple(plans)

    def count(self, tag: Any, event_type: str) -> None:
        """A feedback event on a list of ``tag`` (``{"experiment", "variant", "first"}``)."""
        if not isinstance(tag, Mapping):
            return
        experiment = self._all.get(str(tag.get("experiment")))
        if experiment is None:
            return
        tally = experiment.outcomes.setdefault(str(tag.get("variant")), {})
        counts = tally.setdefault(event_type, [0, 0])
        counts[0] += 1 if tag.get("first") else 0
        counts[1] += 1

    # -- reading -----------------------------------------------------------------------------
    def assign(self, user_key: str) -> Assignment | None:
        """The running experiment's variant for the user (their resolved stored key)."""
        running = self.running
        if running is None:
            return None
        index = running.variant_of(user_key)
        return Assignment(running.definition.name, running.definition.variants[index].name,
                          running.plans[index])

    # -- persistence -------------------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray]:
        rows = [orjson.dumps({
            "start": dict(start_event(e.definition, e.started_at).context or {}),
            "started_at": e.started_at, "started_offset": e.started_offset,
            "stopped_at": e.stopped_at, "stopped_offset": e.stopped_offset,
            "outcomes": e.outcomes}).decode()
            for e in self._all.values()]
        return {"experiments": np.array(rows, dtype=np.str_)}

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        self._all, self.running = {}, None
        for row in state["experiments"].tolist():
            fields = orjson.loads(str(row))
            definition = definition_of(Event("", "", "", 0.0, context=fields["start"]))
            experiment = Experiment(definition, float(fields["started_at"]),
                                    int(fields["started_offset"]), fields["stopped_at"],
                                    fields["stopped_offset"], outcomes=fields["outcomes"])
            self._make_plans(experiment)
            self._all[definition.name] = experiment
            if experiment.is_running:
                self.running = experiment
