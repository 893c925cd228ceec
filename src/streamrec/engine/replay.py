"""A fresh state from a replay of the whole log, to check that a live state is exactly what
its log says (the tests and the crash harness compare the two)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from streamrec.engine.learner import Learner
from streamrec.engine.state import EngineState
from streamrec.settings import Settings
from streamrec.storage.artefacts import ArtefactStore
from streamrec.storage.base import EventLog
from streamrec.storage.snapshots import Snapshot


def rebuild_state(settings: Settings, event_log: EventLog, batch: int = 10_000,
                  through: int | None = None) -> EngineState:
    """A fresh state from a replay of the whole log (or of its entries up to offset
    ``through``: what a state that stopped there learned), loading the fits it names from
    the data dir's artefacts (storage/artefacts.py). Costs a full replay."""
    fresh = EngineState(settings, inline_training=False)
    fresh.artefacts = ArtefactStore(settings.artefact_dir)
    Learner(fresh, event_log).catch_up(batch, before=None if through is None else through + 1)
    return fresh


def restored_state(settings: Settings, snapshot: Snapshot) -> EngineState:
    """The state a start from ``snapshot`` holds before it learns the log's tail. Compare
    it, not the snapshot's arrays, with a replay: a snapshot may hold sparse rows as a base
    named again and the changes since (models/sparse_rows.py's ``capture``)."""
    state = EngineState(settings, inline_training=False)
    state.artefacts = ArtefactStore(settings.artefact_dir)
    state.restore(snapshot.offset, snapshot.components)
    return state


def state_differences(found: Mapping[str, Mapping[str, np.ndarray]],
                      expected: Mapping[str, Mapping[str, np.ndarray]],
                      rtol: float = 1e-9, atol: float = 1e-12) -> list[str]:
    """Where two states (``EngineState.state()``: component -> array name -> array) differ,
    one line each; [] when they are the same. Ids and counts must be equal exactly, float
    arrays to ``rtol``/``atol``: a live learner reads the log in other batches than a
    replay does, so its sums add up in another order."""
    if sorted(found) != sorted(expected):
        return [f"components {sorted(found)} != {sorted(expected)}"]
    differences = []
    for component, arrays in expected.items():
        if sorted(found[component]) != sorted(arrays):
            differences.append(f"{component}: arrays {sorted(found[component])} != "
                               f"{sorted(arrays)}")
            continue
        for name, array in arrays.items():
            other = found[component][name]
            if other.dtype != array.dtype or other.shape != array.shape:
                differences.append(f"{component}/{name}: {other.dtype}{other.shape} != "
                                   f"{array.dtype}{array.shape}")
            elif not (np.allclose(other, array, rtol=rtol, atol=atol, equal_nan=True)
                      if array.dtype.kind == "f" else np.array_equal(other, array)):
                differences.append(f"{component}/{name} differs:\n  {other.tolist()!r:.300}"
                                   f"\n  {array.tolist()!r:.300}")
    return differences


def assert_same_state(found: EngineState | Mapping[str, Any],
                      expected: EngineState | Mapping[str, Any], rtol: float = 1e-9,
                      atol: float = 1e-12, exact: bool = False) -> None:
    """Raise ``AssertionError`` naming every difference (``state_differences``) between two
    states: engine states (their offsets and counts of learned events too), ``state()``
    mappings of components, or one model's ``state()`` (array name -> array). ``exact``:
    floats equal too (NaN equal to NaN), as ``rtol=0, atol=0``."""
    differences = []
    if isinstance(found, EngineState) and isinstance(expected, EngineState):
        learned = (found.offset, found.learned_events)
        if learned != (expected.offset, expected.learned_events):
            differences.append(f"offset, learned events {learned} != "
                               f"{(expected.offset, expected.learned_events)}")
        found, expected = found.state(), expected.state()
    if isinstance(found, EngineState) or isinstance(expected, EngineState):
        raise TypeError("an engine state is compared with another engine state")
    if all(isinstance(value, np.ndarray) for value in (*found.values(), *expected.values())):
        found, expected = {"model": found}, {"model": expected}  # one model's arrays
    if exact:
        rtol = atol = 0.0
    differences += state_differences(found, expected, rtol, atol)
    if differences:
        raise AssertionError("\n".join(differences))
