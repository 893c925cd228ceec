"""A fresh state from a replay of the log: for erasure, and to check that a live state is
exactly what its log says (the tests and the crash harness compare the two)."""

from __future__ import annotations

from streamrec.engine.learner import Learner
from streamrec.engine.state import EngineState
from streamrec.settings import Settings
from streamrec.storage.base import Catalogue, EventLog


def rebuild_state(settings: Settings, event_log: EventLog, catalogue: Catalogue) -> EngineState:
    """A fresh state from the catalogue and a replay of the whole log. Costs a full replay."""
    fresh = EngineState(settings, inline_training=False)
    fresh.apply_items(catalogue.scan())
    Learner(fresh, event_log).catch_up()
    return fresh


def swap_contents(target: EngineState, source: EngineState) -> None:
    """Make ``target`` hold what ``source`` learned, keeping ``target``'s identity and lock:
    the recommender, learner, trainer and snapshotter all hold ``target`` and go on using it."""
    with target.lock:
        for name, value in vars(source).items():
            if name != "lock":
                setattr(target, name, value)
