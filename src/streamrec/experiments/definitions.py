"""An experiment, its variants, and the control events that start and stop it.

Starting an experiment appends one ``$experiment`` event whose context holds the whole
definition (variants, weights, overrides, the goal) and the assignment rule
(``assignment.py``); stopping it appends another. Both have an empty ``user_id``, like every
control event, so no erasure touches them, and the learner applies them in their place in
the log: a replay starts and stops the same experiments at the same offsets, and assigns
every user as the live engine did.

>>> definition = Definition("colours", (Variant("A"), Variant("B", 3.0, {"k": 1})))
>>> event = start_event(definition, 5.0)
>>> is_experiment_event(event), definition_of(event) == definition, action_of(event)
(True, True, 'start')
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from streamrec.errors import InvalidInput
from streamrec.experiments.assignment import RULE
from streamrec.types import Event

EXPERIMENT_TYPE = "$experiment"
# the engine's key in a feedback event's context: the experiment and variant of the list it
# names, written at ingestion from the impression (clients cannot send "$" keys' meaning)
EXPERIMENT_KEY = "$experiment"
START, STOP = "start", "stop"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
NAME_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
MAX_VARIANTS = 20


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    weight: float = 1.0  # its share of users: weight / the sum of the weights
    overrides: Mapping[str, Any] = field(default_factory=dict)  # setting name -> value


@dataclass(frozen=True, slots=True)
class Definition:
    name: str
    variants: tuple[Variant, ...]
    goal: str = "click"  # the event type whose rate per list the verdict compares
    description: str = ""


def check_name(value: str, field: str) -> None:
    if not isinstance(value, str) or NAME.fullmatch(value) is None:
        raise InvalidInput(field, f"{field} must be {NAME_RULE}; got {value!r}")


def check_definition(definition: Definition, event_types: Mapping[str, Any]) -> None:
    """Raise ``InvalidInput`` naming the first bad field; overrides are checked apart
    (``overrides.py``), against the settings."""
    check_name(definition.name, "name")
    if not 2 <= len(definition.variants) <= MAX_VARIANTS:
        raise InvalidInput("variants", f"an experiment needs 2 to {MAX_VARIANTS} variants; "
                           f"got {len(definition.variants)}")
    seen: set[str] = set()
    for position, variant in enumerate(definition.variants):
        where = f"variants[{position}]"
        check_name(variant.name, f"{where}.name")
        if variant.name in seen:
            raise InvalidInput(f"{where}.name", f"{where}.name: {variant.name!r} names two "
                               "variants; each needs its own name")
        seen.add(variant.name)
        if not (math.isfinite(variant.weight) and variant.weight > 0):
            raise InvalidInput(f"{where}.weight", f"{where}.weight must be a positive finite "
                               f"number; got {variant.weight!r}")
    if definition.goal not in event_types:
        raise InvalidInput("goal", f"goal: {definition.goal!r} is not a declared event type; "
                           f"one of: {', '.join(sorted(event_types))}")
    if len(definition.description) > 1000:
        raise InvalidInput("description", "description is longer than 1000 characters")


def start_event(definition: Definition, timestamp: float) -> Event:
    """The log entry that starts ``definition`` (checked), with the assignment rule."""
    return Event(user_id="", item_id=definition.name, type=EXPERIMENT_TYPE, timestamp=timestamp,
                 context={"action": START, "rule": RULE, "experiment": {
                     "name": definition.name, "goal": definition.goal,
                     "description": definition.description,
                     "variants": [{"name": v.name, "weight": v.weight,
                                   "overrides": dict(v.overrides)}
                                  for v in definition.variants]}})


def stop_event(name: str, timestamp: float) -> Event:
    return Event(user_id="", item_id=name, type=EXPERIMENT_TYPE, timestamp=timestamp,
                 context={"action": STOP})


def is_experiment_event(event: Event) -> bool:
    return event.type == EXPERIMENT_TYPE


def action_of(event: Event) -> str:
    return str((event.context or {}).get("action", ""))


def rule_of(event: Event) -> str:
    return str((event.context or {}).get("rule", ""))


def definition_of(event: Event) -> Definition:
    """The definition a start event carries."""
    fields = (event.context or {})["experiment"]
    return Definition(
        str(fields["name"]),
        tuple(Variant(str(v["name"]), float(v["weight"]), dict(v.get("overrides") or {}))
              for v in fields["variants"]),
        str(fields.get("goal", "click")), str(fields.get("description", "")))
