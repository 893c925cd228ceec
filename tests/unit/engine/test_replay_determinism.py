"""The engine's state is a function of its log: background refits and feedback on shown lists
included. A live engine (trainer thread, concurrent writers) and a fresh replay of its log must
hold the very same arrays."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from streamrec.engine.engine import Engine
from streamrec.engine.refits import BEGIN_TYPE, END_TYPE
from streamrec.engine.replay import (
    assert_same_state,
    rebuild_state,
    restored_state,
    state_differences,
)
from streamrec.engine.state import EngineState
from streamrec.settings import Settings
from streamrec.storage.snapshots import SnapshotStore
from streamrec.types import Event

T0 = 1_700_000_000.0
# refits every few hundred events, checked often, so a short run has several mid-stream
QUICK_REFITS = {"als": {"factors": 8, "iterations": 4, "refit_min_events": 150,
                        "refit_growth": 0.3}, "trainer_poll_s": 0.01}


def shopper(engine: Engine, worker: int, rounds: int, errors: list[BaseException]) -> None:
    """Views and clicks from one writer; every third request is a click on a list it was
    shown (feedback for the ranker), some are dislikes."""
    rng = random.Random(worker)
    try:
        for n in range(rounds):
            user = f"w{worker}-u{rng.randrange(6)}"
            group = rng.choice("abc")
            events = [Event(user, f"{group}{rng.randrange(12)}", rng.choice(["view", "click"]),
                            T0 + worker * 10_000 + n, event_id=f"{worker}-{n}-{m}")
                      for m in range(3)]
            if n % 3 == 2:
                shown = engine.recommend(user, 5)
                if shown.item_ids:
                    events.append(Event(user, shown.item_ids[-1], "click", T0 + n,
                                        event_id=f"{worker}-{n}-fb",
                                        context={"recommendation_id": shown.recommendation_id}))
            if n % 7 == 6:
                events.append(Event(user, f"{group}0", "dislike", T0 + n,
                                    event_id=f"{worker}-{n}-no"))
            engine.ingest(events)
    except BaseException as error:  # reported by the test thread
        errors.append(error)


def test_a_live_engine_and_a_replay_of_its_log_hold_the_same_state(
    tmp_path: Path, settings_factory: Callable[..., Settings]
) -> None:
    settings = settings_factory(tmp_path / "data", models=QUICK_REFITS)
    engine = Engine.open(settings)
    errors: list[BaseException] = []
    writers = [threading.Thread(target=shopper, args=(engine, w, 120, errors))
               for w in range(3)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert not errors, errors
    engine.close()  # ends the refits computed, leaves one under way pending, snapshots

    snapshot = SnapshotStore(settings.snapshot_dir).load_latest()
    assert snapshot is not None
    reopened = Engine.open(settings, start_learner=False)
    try:
        types = [e.event.type for e in reopened.log.read(0, 10**6)]
        feedback = [e.event for e in reopened.log.read(0, 10**6)
                    if (e.event.context or {}).get("$shown")]
        fresh = rebuild_state(settings, reopened.log)
    finally:
        reopened.log.close()
        reopened.catalogue.close()
    # the run did what the test is about: refits mid-stream, and feedback on shown lists
    assert types.count(BEGIN_TYPE) >= 2 and types.count(END_TYPE) >= 1
    assert len(feedback) >= 10
    assert fresh.offset == snapshot.offset
    assert_same_state(restored_state(settings, snapshot), fresh)


def test_a_replay_fits_a_refit_begun_but_never_ended(
    tmp_path: Path, settings_factory: Callable[..., Settings]
) -> None:
    """A process that dies mid-fit leaves a begin marker alone; whoever opens the log next
    fits it and logs the end, and then agrees with a fresh replay."""
    settings = settings_factory(tmp_path / "data", models=QUICK_REFITS)
    engine = Engine.open(settings, start_learner=False)
    events: list[Any] = [Event(f"u{n % 9}", f"i{n % 31}", "view", T0 + n) for n in range(400)]
    engine.log.append(events)
    engine.learner.catch_up()
    engine.trainer.begin_due()  # logs a begin marker, as the trainer thread would...
    engine.learner.catch_up()
    assert len(engine.state.pending_fits) == 1
    engine.log.close()  # ...and the process dies before the fit ends
    engine.catalogue.close()

    recovered = Engine.open(settings, start_learner=False)  # replays the begin...
    recovered.trainer.fit_pending()  # ...and its trainer fits and ends it
    recovered.close()
    reopened = Engine.open(settings, start_learner=False)
    try:
        types = [e.event.type for e in reopened.log.read(0, 10**6)]
        fresh = rebuild_state(settings, reopened.log)
        assert types.count(END_TYPE) >= 1
        assert_same_state(reopened.state.state(), fresh.state())
    finally:
        reopened.log.close()
        reopened.catalogue.close()


def test_state_differences_names_what_differs_and_allows_only_float_rounding() -> None:
    state = {"pop": {"counts": np.array([1, 2]), "sums": np.array([0.1 + 0.2, 1.0])}}
    same = {"pop": {"counts": np.array([1, 2]), "sums": np.array([0.3, 1.0])}}
    assert state_differences(state, same) == []  # 0.1 + 0.2 != 0.3 in the last bit only
    assert state_differences(state, {"pop": {"counts": np.array([1, 3]),
                                             "sums": np.array([0.3, 1.0])}})[0].startswith(
        "pop/counts differs")
    assert state_differences(state, {"pop": {"counts": np.array([1, 2]),
                                             "sums": np.array([0.3, 1.001])}})[0].startswith(
        "pop/sums differs")
    assert "int32" in state_differences(
        {"pop": {"counts": np.array([1, 2], dtype=np.int32), "sums": state["pop"]["sums"]}},
        state)[0]
    assert state_differences(state, {"als": {}}) != []
    assert state_differences(state, {"pop": {"counts": np.array([1, 2])}}) != []


def test_assert_same_state_takes_states_of_engines_components_or_one_model(
        engine_settings: Settings) -> None:
    state = {"pop": {"counts": np.array([1, 2]), "sums": np.array([0.1 + 0.2, 1.0])}}
    rounded = {"pop": {"counts": np.array([1, 2]), "sums": np.array([0.3, 1.0])}}
    assert_same_state(state, rounded)
    with pytest.raises(AssertionError, match="pop/sums differs"):
        assert_same_state(state, rounded, exact=True)
    nan = {"sums": np.array([np.nan, 1.0])}
    assert_same_state(nan, {"sums": np.array([np.nan, 1.0])}, exact=True)
    with pytest.raises(AssertionError, match="model/sums differs"):
        assert_same_state(nan, {"sums": np.array([np.nan, 2.0])})
    one, other = EngineState(engine_settings), EngineState(engine_settings)
    assert_same_state(one, other, exact=True)
    other.offset = 3
    with pytest.raises(AssertionError, match="offset, learned events"):
        assert_same_state(one, other)
