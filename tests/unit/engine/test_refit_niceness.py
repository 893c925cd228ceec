"""Refits run at ``models.trainer_nice`` (engine/trainer.py): the thread computing a fit has
its own, lower priority, and nothing else does."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streamrec.engine.engine import Engine
from streamrec.models.als import ALSModel
from streamrec.settings import Settings
from streamrec.types import Event

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="per-thread niceness is Linux's")
T0 = 1_700_000_000.0


def niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    settings = Settings(data_dir=tmp_path / "data", models={  # type: ignore[arg-type]
        "als": {"refit_min_events": 20}, "trainer_nice": 7})
    engine = Engine.open(settings, start_learner=False)  # the test steps learner and trainer
    yield engine
    engine.close()


def test_a_refit_is_computed_at_the_trainers_niceness_and_nothing_else_is(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    als = engine.state.models["als"]
    assert isinstance(als, ALSModel)
    fit, seen = als.fit, []

    def recording(data: Any) -> Any:
        seen.append(niceness())
        return fit(data)

    monkeypatch.setattr(als, "fit", recording)
    before = niceness()
    engine.ingest([Event(f"u{n % 7}", f"i{n % 11}", "view", T0 + n) for n in range(40)],
                  wait_learned=False)
    engine.learner.catch_up()
    engine.trainer.begin_due()
    engine.learner.catch_up()  # the begin marker: the data is taken
    engine.trainer.fit_pending()
    engine.learner.catch_up()  # the end marker: swapped in
    assert seen == [min(19, before + 7)]
    assert niceness() == before  # the caller's thread is untouched
    assert engine.trainer.refits == 1
