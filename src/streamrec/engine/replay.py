"""A fresh state from a replay of the whole log, to check that a live state is exactly what
its log says (the tests and the crash harness compare the two)."""

from __future__ import annotations

from streamrec.engine.learner import Learner
from streamrec.engine.state import EngineState
from streamrec.settings import Settings
from streamrec.storage.artefacts import ArtefactStore
from streamrec.storage.base import EventLog


def rebuild_state(settings: Settings, event_log: EventLog, batch: int = 10_000) -> EngineState:
    """A fresh state from a replay of the whole log, loading the fits it names from the data
    dir's artefacts (storage/artefacts.py). Costs a full replay."""
    fresh = EngineState(settings, inline_training=False)
    fresh.artefacts = ArtefactStore(settings.artefact_dir)
    Learner(fresh, event_log).catch_up(batch)
    return fresh

