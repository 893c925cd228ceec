"""A snapshot is written while a refit is pending: it holds the fit's begin and data, and a
restart from it plus the log's tail is a replay of the whole log, whether the fit's end is in
the tail (its artefact is loaded, never fitted again) or was never written (the next trainer
fits it and logs the end)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from streamrec.engine.engine import Engine
from streamrec.engine.erasures import erasure_event
from streamrec.engine.refits import BEGIN_TYPE, END_TYPE
from streamrec.engine.replay import assert_same_state, rebuild_state
from streamrec.engine.state import PENDING_FIT
from streamrec.models.als import ALSModel
from streamrec.settings import Settings
from streamrec.storage.snapshots import SnapshotStore
from streamrec.types import Event

T0 = 1_700_000_000.0
QUICK = {"als": {"factors": 4, "iterations": 3, "refit_min_events": 50, "refit_growth": 0.5}}


def learn(engine: Engine, start: int, count: int) -> None:
    """``count`` views logged and learned; users come back, and new ones arrive."""
    engine.log.append([Event(f"u{n % (11 + start // 100)}", f"i{(n * 7) % 23}", "view",
                             T0 + n) for n in range(start, start + count)])
    engine.learner.catch_up(batch=7)


def begun(settings: Settings) -> Engine:
    """An engine (no threads: the fit is held back until the test fits it) with a fitted ALS
    and a second refit begun, and events learned after the begin."""
    engine = Engine.open(settings, start_learner=False)
    learn(engine, 0, 100)
    engine.trainer.begin_due()
    engine.learner.catch_up()
    engine.trainer.fit_pending()
    engine.learner.catch_up()
    learn(engine, 100, 100)
    engine.trainer.begin_due()
    engine.learner.catch_up()
    assert len(engine.state.pending_fits) == 1
    learn(engine, 200, 60)  # users learned while the fit is pending: re-folded at its swap
    return engine


def newest_begin(engine: Engine) -> int:
    return max(e.offset for e in engine.log.read(0, 10**6) if e.event.type == BEGIN_TYPE)


def crash(engine: Engine) -> None:
    """The process dies: no final snapshot, no end for a fit under way."""
    engine.log.close()
    engine.catalogue.close()


def replayed(settings: Settings) -> tuple[Engine, dict[str, dict[str, np.ndarray]]]:
    """An engine restarted from the newest snapshot and the tail (no threads), and the state
    a replay of the whole log gives."""
    reopened = Engine.open(settings, start_learner=False)
    return reopened, rebuild_state(settings, reopened.log, batch=5).state()


@pytest.fixture
def settings(tmp_path: Path, settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(tmp_path / "data", models=QUICK)


def test_a_snapshot_taken_while_a_refit_is_pending_holds_its_begin_and_data(
    settings: Settings,
) -> None:
    engine = begun(settings)
    try:
        begin = newest_begin(engine)
        path = engine.snapshot()
        snapshot = SnapshotStore(settings.snapshot_dir).load_latest()
        assert snapshot is not None and path.name.endswith(f"{snapshot.offset:020d}")
        assert snapshot.offset > begin
        assert snapshot.meta["pending_fits"] == [begin]
        held = snapshot.components[f"{PENDING_FIT}{begin:020d}"]
        assert held["model"].tolist() == ["als"] and int(held["counters"][0]) == begin
        assert "touched_during_fit" in snapshot.components["model-als"]
    finally:
        engine.close()


def test_restored_mid_fit_with_the_end_in_the_tail_loads_the_artefact_as_a_replay_does(
    settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = begun(settings)
    engine.snapshot()
    engine.trainer.fit_pending()  # the end goes into the log after the snapshot
    engine.learner.catch_up()
    learn(engine, 260, 40)
    live = engine.state.state()
    crash(engine)

    def no_fit(self: ALSModel, data: Any) -> Any:
        raise AssertionError("the fit was computed again instead of loaded")

    monkeypatch.setattr(ALSModel, "fit", no_fit)
    reopened = Engine.open(settings, start_learner=False)
    monkeypatch.undo()  # a replay from the start fits the first refit again: its file is gone
    expected = rebuild_state(settings, reopened.log, batch=5).state()
    try:
        assert reopened.snapshotter.written_offset < reopened.state.offset  # a tail replayed
        assert len(reopened.state.pending_fits) == 0
        assert_same_state(reopened.state.state(), expected)
        assert_same_state(live, expected)
    finally:
        reopened.close()


def test_restored_mid_fit_with_no_end_written_is_fitted_and_ended_by_the_next_trainer(
    settings: Settings,
) -> None:
    engine = begun(settings)
    engine.snapshot()
    learn(engine, 260, 40)
    crash(engine)  # mid-fit: the begin has no end

    reopened, expected = replayed(settings)
    try:
        assert len(reopened.state.pending_fits) == 1  # as the replay holds it
        assert_same_state(reopened.state.state(), expected)
        reopened.trainer.fit_pending()
        reopened.learner.catch_up()
        types = [e.event.type for e in reopened.log.read(0, 10**6)]
        assert types.count(END_TYPE) == types.count(BEGIN_TYPE) == 2
        assert_same_state(reopened.state.state(),
                          rebuild_state(settings, reopened.log, batch=3).state())
    finally:
        reopened.close()


def test_the_artefact_of_a_fit_pending_in_a_kept_snapshot_is_kept(settings: Settings) -> None:
    """Artefacts of fits begun before the oldest snapshot are deleted, except a fit pending
    in it: a restart from that snapshot loads it when it meets the end."""
    engine = begun(settings)
    try:
        engine.snapshot()  # the fit is pending in it
        engine.trainer.fit_pending()
        engine.learner.catch_up()
        learn(engine, 260, 10)
        engine.snapshot()  # keep=2: both kept
        artefacts = sorted(p.name for p in settings.artefact_dir.glob("*.npz"))
        assert len(artefacts) == 1  # the first refit's went: no kept snapshot needs it
        learn(engine, 270, 10)
        engine.snapshot()  # the snapshot that held the fit pending is gone: so is its file
        assert list(settings.artefact_dir.glob("*.npz")) == []
    finally:
        engine.close()


# A server's process: a refit begins and its fit never returns, not even when asked to stop
# (ALS stops between iterations: one step that never ends); the process closes the engine (a
# clean shutdown) and must exit once the trainer's stop wait is over, not wait for the fit.
HELD_FIT_PROCESS = """
import json, sys, threading
from pathlib import Path
from streamrec.engine.engine import Engine
from streamrec.models.als import ALSModel
from streamrec.settings import Settings, SnapshotSettings
from streamrec.types import Event

fitting = threading.Event()

def held_fit(self, data):
    fitting.set()
    threading.Event().wait()  # never computed in this process

ALSModel.fit = held_fit
settings = Settings(data_dir=Path(sys.argv[1]), models=json.loads(sys.argv[2]),
                    snapshots=SnapshotSettings(every_events=10**9, every_s=10.0**6))
engine = Engine.open(settings)
engine.ingest([Event(f"u{n % 11}", f"i{(n * 7) % 23}", "view", 1_700_000_000.0 + n)
               for n in range(120)])
assert fitting.wait(timeout=120), "no refit began"
engine.ingest([Event(f"u{n % 13}", f"i{n % 23}", "view", 1_700_000_000.0 + n)
               for n in range(120, 150)])  # learned while the fit is under way
engine.close()
print("closed")
"""


def test_a_clean_shutdown_does_not_wait_for_a_fit_and_the_next_start_fits_it(
    tmp_path: Path, settings_factory: Callable[..., Settings],
) -> None:
    """The process exits with its fit still computing, its final snapshot holding the fit
    pending; the next start fits it, logs the end, and equals a replay of the log."""
    models = {**QUICK, "trainer_poll_s": 0.01, "trainer_stop_wait_s": 0.5}
    settings = settings_factory(tmp_path / "data", models=models)
    ran = subprocess.run([sys.executable, "-c", HELD_FIT_PROCESS, str(settings.data_dir),
                          json.dumps(models)], capture_output=True, text=True, timeout=180)
    assert ran.returncode == 0 and "closed" in ran.stdout, ran.stderr[-3000:]
    assert "the als fit did not stop within 0 s; leaving it" in ran.stderr

    snapshot = SnapshotStore(settings.snapshot_dir).load_latest()
    assert snapshot is not None and len(snapshot.meta["pending_fits"]) == 1
    restarted = Engine.open(settings, start_learner=False)
    try:
        types = [e.event.type for e in restarted.log.read(0, 10**6)]
        assert types.count(BEGIN_TYPE) == 1 and types.count(END_TYPE) == 0
        assert restarted.state.offset == snapshot.offset  # the final snapshot: no tail
        assert_same_state(restarted.state.state(),
                          rebuild_state(settings, restarted.log, batch=9).state())
        restarted.trainer.fit_pending()
        restarted.learner.catch_up()
        assert len(restarted.state.pending_fits) == 0
        assert [e.event.type for e in restarted.log.read(0, 10**6)].count(END_TYPE) == 1
        assert_same_state(restarted.state.state(),
                          rebuild_state(settings, restarted.log, batch=9).state())
    finally:
        restarted.close()


# An erasure learned while a refit is pending (a replica that did not drain it: a follower,
# or the refit leader when another replica took the request): the state becomes a replay of
# the log without the erased events, the pending fit's data included, and the fit that ends
# it is computed from that data. Before, the rebuild refused a state with a refit under way
# and the learner stopped.

ERASED = "u3"


def erase_as_another_replica(engine: Engine, user_id: str) -> None:
    """What the replica that took the request leaves in the shared log: the user's key
    destroyed and the erasure logged; this engine's workers are not drained."""
    key = engine.user_key(user_id)
    erased = engine.log.delete_user(key)
    assert erased > 0
    engine.log.append([erasure_event(erased, [key], time.time())])


def ends(engine: Engine) -> list[int]:
    return [int((e.event.context or {})["begin"]) for e in engine.log.read(0, 10**6)
            if e.event.type == END_TYPE]


def wait_until(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


class FirstFitHeld:
    """ALS's next fit waits for ``release`` (at most ``hold_s``); every fit is counted."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, hold_s: float) -> None:
        self.computing, self.release = threading.Event(), threading.Event()
        self.fits = 0
        real_fit = ALSModel.fit

        def held_fit(model: ALSModel, data: Any) -> Any:
            self.fits += 1
            if self.fits == 1:
                self.computing.set()
                assert self.release.wait(hold_s)
            return real_fit(model, data)

        monkeypatch.setattr(ALSModel, "fit", held_fit)


def test_learned_while_a_fit_is_pending_the_rebuild_keeps_it_pending_without_the_user(
    settings: Settings,
) -> None:
    engine = begun(settings)
    try:
        begin = newest_begin(engine)
        erase_as_another_replica(engine, ERASED)
        engine.learner.catch_up()  # raised "a state with a refit under way cannot be replaced"
        assert [fit.begin_offset for fit in engine.state.pending_fits.all()] == [begin]
        assert engine.state.users.lookup(engine.user_key(ERASED)) is None
        assert_same_state(engine.state.state(),
                          rebuild_state(settings, engine.log, batch=5).state())
        engine.trainer.fit_pending()  # fits the rebuilt data, and logs the end
        engine.learner.catch_up()
        learn(engine, 260, 20)
        assert len(engine.state.pending_fits) == 0 and ends(engine)[-1] == begin
        assert_same_state(engine.state.state(),
                          rebuild_state(settings, engine.log, batch=3).state())
    finally:
        engine.close()


def test_a_fit_computing_on_the_erased_data_is_given_up_and_the_rebuilt_one_ends_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The trainer is computing the fit when the erasure is learned: that fit saves nothing
    and logs no end; the trainer fits the rebuilt data instead, and one end is logged."""
    engine = begun(settings)
    held = FirstFitHeld(monkeypatch, hold_s=60)
    try:
        begin = newest_begin(engine)
        engine.trainer.start()
        assert held.computing.wait(60)
        claimed = engine.state.pending_fits.get(begin)
        assert claimed is not None and claimed.claimed
        erase_as_another_replica(engine, ERASED)
        engine.learner.catch_up()
        assert claimed.abandoned and engine.state.pending_fits.get(begin) is not claimed
        held.release.set()
        wait_until(lambda: begin in ends(engine))
        engine.trainer.stop()
        engine.learner.catch_up()
        # fits: the one given up; the first refit's, again, in the rebuild (the erasure
        # deleted every artefact); the rebuilt data's
        assert ends(engine).count(begin) == 1 and held.fits == 3
        assert len(engine.state.pending_fits) == 0
        assert_same_state(engine.state.state(),
                          rebuild_state(settings, engine.log, batch=4).state())
    finally:
        held.release.set()
        engine.close()


def test_the_replica_that_takes_an_erasure_does_not_wait_for_its_fit(
    tmp_path: Path, settings_factory: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``erase_user`` returns while the engine's own fit is still computing (it waited for
    it before: minutes for the sequence model's); that fit is given up, and the next
    trainer fits the rebuilt data and ends it."""
    settings = settings_factory(tmp_path / "data", models={**QUICK, "trainer_poll_s": 0.01})
    held = FirstFitHeld(monkeypatch, hold_s=120)
    engine = Engine.open(settings)
    try:
        engine.ingest([Event(f"u{n % 11}", f"i{(n * 7) % 23}", "view", T0 + n)
                       for n in range(120)])
        assert held.computing.wait(60)
        erased: list[int] = []
        erasing = threading.Thread(target=lambda: erased.append(engine.erase_user(ERASED)))
        erasing.start()
        erasing.join(timeout=30)  # the fit is held for up to 120 s
        assert not erasing.is_alive() and erased[0] > 0
        held.release.set()
        wait_until(lambda: len(engine.state.pending_fits) == 0)
        engine.trainer.stop()
        engine.learner.stop()
        engine.learner.catch_up()
        assert len(engine.state.pending_fits) == 0 and len(ends(engine)) == 1
        assert_same_state(engine.state.state(),
                          rebuild_state(settings, engine.log, batch=4).state())
    finally:
        held.release.set()
        engine.close()
