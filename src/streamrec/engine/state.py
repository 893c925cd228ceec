"""Everything the engine has learned: vocabularies, user histories, models, item flags.

Only the learner mutates it (one writer); readers take ``lock`` for a consistent view. It is a
function of the event log and the catalogue, so it can always be rebuilt by replaying them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from streamrec.engine.histories import UserHistories
from streamrec.events.types import EventTypeConfig, event_weight
from streamrec.events.vocab import Vocabulary
from streamrec.models.als import ALSModel
from streamrec.models.base import Model, Refittable, grow
from streamrec.models.cooccurrence import CooccurrenceModel
from streamrec.models.popularity import PopularityModel
from streamrec.settings import Settings
from streamrec.types import EventBatch, Item, LoggedEvent


def build_models(settings: Settings) -> dict[str, Model]:
    models: list[Model] = [
        PopularityModel(settings.models.popularity),
        CooccurrenceModel(settings.models.cooccurrence),
        ALSModel(settings.models.als),
    ]
    return {model.name: model for model in models}


class EngineState:
    def __init__(self, settings: Settings, inline_training: bool = True) -> None:
        """``inline_training``: refit heavy models inside ``apply`` when due (evaluation,
        tests); the engine turns it off and refits in its trainer thread instead."""
        self.lock = threading.RLock()
        self.inline_training = inline_training
        self.event_types: Mapping[str, EventTypeConfig] = settings.events.types
        self.users = Vocabulary()
        self.items = Vocabulary()
        self.histories = UserHistories()
        self.models = build_models(settings)
        self._refittables = self.refittables()
        self.available = np.ones(0, dtype=bool)
        self.offset = 0  # every logged event up to here is learned
        self.learned_events = 0

    def batch_of(self, logged: Sequence[LoggedEvent]) -> EventBatch:
        types = self.event_types
        events = [entry.event for entry in logged]
        users = self.users.indices(e.user_id for e in events)
        items = self.items.indices(e.item_id for e in events)
        self.available = grow(self.available, len(self.items), fill=True)
        weights = np.fromiter(
            (event_weight(types[e.type], e.value) if e.type in types else 0.0 for e in events),
            dtype=np.float64, count=len(events),
        )
        times = np.fromiter((e.timestamp for e in events), dtype=np.float64, count=len(events))
        return EventBatch(users, items, weights, times)

    def apply(self, logged: Sequence[LoggedEvent]) -> None:
        """Learn logged events in offset order; events at or below ``offset`` are skipped."""
        fresh = [entry for entry in logged if entry.offset > self.offset]
        if not fresh:
            return
        with self.lock:
            batch = self.batch_of(fresh)
            self.histories.learn(batch)
            for model in self.models.values():
                model.learn(batch)
            self.offset = fresh[-1].offset
            self.learned_events += len(fresh)
            if self.inline_training:
                for refittable in self._refittables:
                    if refittable.refit_due():
                        refittable.refit()

    def refittables(self) -> list[Refittable]:
        return [m for m in self.models.values() if isinstance(m, Refittable)]

    def apply_items(self, items: Iterable[Item]) -> None:
        """Make catalogue items known (cold items included) and record their availability."""
        with self.lock:
            for item in items:
                index = self.items.index(item.item_id)
                self.available = grow(self.available, index + 1, fill=True)
                self.available[index] = item.is_available

    def state(self) -> dict[str, dict[str, np.ndarray]]:
        with self.lock:
            components = {
                "vocabulary": {"users": self.users.state(), "items": self.items.state()},
                "histories": self.histories.state(),
                "counters": {"learned_events": np.array([self.learned_events])},
            }
            for name, model in self.models.items():
                components[f"model-{name}"] = model.state()
            return components

    def restore(self, offset: int, components: Mapping[str, Mapping[str, np.ndarray]]) -> None:
        with self.lock:
            self.users = Vocabulary.restore(components["vocabulary"]["users"])
            self.items = Vocabulary.restore(components["vocabulary"]["items"])
            self.available = np.ones(len(self.items), dtype=bool)
            self.histories.restore(components["histories"])
            self.learned_events = int(components["counters"]["learned_events"][0])
            for name, model in self.models.items():
                model.restore(components[f"model-{name}"])
            self.offset = offset
