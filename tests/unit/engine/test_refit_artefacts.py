"""A refit's result is an artefact that its ``$refit-end`` names; a replay loads it and never
fits again, unless it is lost or not the one named: then it fits again, to the same state."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from streamrec.engine.engine import Engine
from streamrec.engine.refits import END_TYPE
from streamrec.engine.replay import assert_same_state, rebuild_state
from streamrec.models.als import ALSModel
from streamrec.settings import Settings
from streamrec.storage.artefacts import checksum
from streamrec.types import Event

T0 = 1_700_000_000.0
QUICK = {"als": {"factors": 4, "iterations": 3, "refit_min_events": 50, "refit_growth": 0.5}}


def refit_twice(settings: Settings) -> Engine:
    """An engine (no threads) that learned 300 events with two refits among them."""
    engine = Engine.open(settings, start_learner=False)
    for start in (0, 100, 200):
        engine.log.append([Event(f"u{n % 13}", f"i{(n * 7) % 23}", "view", T0 + n)
                           for n in range(start, start + 100)])
        engine.learner.catch_up(batch=1)
        engine.trainer.begin_due()
        engine.learner.catch_up(batch=1)
        engine.trainer.fit_pending()
        engine.learner.catch_up(batch=1)
    return engine


def ends(engine: Engine) -> list[dict[str, Any]]:
    return [dict(e.event.context or {}) for e in engine.log.read(0, 10**6)
            if e.event.type == END_TYPE]


@pytest.fixture
def settings(tmp_path: Path, settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(tmp_path / "data", models=QUICK)


def test_the_end_of_a_refit_names_its_artefact_and_a_replay_loads_it_without_fitting(
    settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = refit_twice(settings)
    try:
        logged = ends(engine)
        assert len(logged) >= 2 and all(end["ok"] for end in logged)
        for end in logged:
            with np.load(settings.artefact_dir / end["artefact"], allow_pickle=False) as data:
                assert checksum({k: data[k] for k in data.files}) == end["sha256"]

        def no_fit(self: ALSModel, data: Any) -> Any:
            raise AssertionError("a replay fitted again")

        monkeypatch.setattr(ALSModel, "fit", no_fit)
        replayed = rebuild_state(settings, engine.log, batch=1)
        assert_same_state(replayed.state(), engine.state.state(), exact=True)
    finally:
        monkeypatch.undo()
        engine.close()


@pytest.mark.parametrize("damage", ["delete", "corrupt", "swap"])
def test_a_lost_or_damaged_artefact_is_fitted_again_to_the_same_state(
    settings: Settings, damage: str,
) -> None:
    engine = refit_twice(settings)
    try:
        first, second = (settings.artefact_dir / end["artefact"] for end in ends(engine)[:2])
        if damage == "delete":
            first.unlink()
        elif damage == "corrupt":
            first.write_bytes(first.read_bytes()[:-40] + b"\x00" * 40)
        else:  # a readable file, but not the fit the log names
            first.write_bytes(second.read_bytes())
        replayed = rebuild_state(settings, engine.log, batch=1)
        assert_same_state(replayed.state(), engine.state.state(), exact=True)
    finally:
        engine.close()


def test_a_replay_fits_a_lost_artefact_without_holding_the_state_lock(
    settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = refit_twice(settings)
    engine.close()
    for path in settings.artefact_dir.glob("*.npz"):
        path.unlink()
    reopened = Engine.open(settings, start_learner=False)  # restores the final snapshot
    log = reopened.log
    fitting, answered = threading.Event(), threading.Event()
    real_fit = ALSModel.fit

    def fit_while_someone_reads(self: ALSModel, data: Any) -> Any:
        fitting.set()
        # a query takes the lock meanwhile: if the replay held it, this would wait forever
        assert answered.wait(timeout=60), "the state lock was held during the fit"
        return real_fit(self, data)

    monkeypatch.setattr(ALSModel, "fit", fit_while_someone_reads)
    try:
        from streamrec.engine.learner import Learner
        from streamrec.engine.state import EngineState

        fresh = EngineState(settings, inline_training=False)
        reader_errors: list[BaseException] = []

        def reader() -> None:
            try:
                assert fitting.wait(timeout=60)
                with fresh.lock:
                    answered.set()
            except BaseException as error:
                reader_errors.append(error)

        thread = threading.Thread(target=reader)
        thread.start()
        Learner(fresh, log).catch_up(batch=1)
        thread.join()
        assert not reader_errors and answered.is_set()
    finally:
        monkeypatch.undo()
        reopened.close()


def test_artefacts_a_snapshot_covers_are_deleted_and_an_erasure_deletes_them_all(
    settings: Settings,
) -> None:
    engine = refit_twice(settings)
    try:
        assert len(list(settings.artefact_dir.glob("*.npz"))) >= 2
        engine.snapshot()
        engine.snapshot()  # both snapshots kept (keep=2) are past every fit
        assert list(settings.artefact_dir.glob("*.npz")) == []
        engine.log.append([Event(f"u{n % 13}", f"i{n % 23}", "view", T0 + 400 + n)
                           for n in range(200)])
        engine.learner.catch_up()
        engine.trainer.begin_due()
        engine.learner.catch_up()
        engine.trainer.fit_pending()
        engine.learner.catch_up()
        assert len(list(settings.artefact_dir.glob("*.npz"))) == 1
        engine.erase_user("u1")
        assert list(settings.artefact_dir.glob("*.npz")) == []
    finally:
        engine.close()
