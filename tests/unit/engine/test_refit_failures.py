"""A background refit that fails is shown, in /v1/stats (``Engine.stats``) and in /metrics,
until a refit works again; the previous fit serves meanwhile."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streamrec.engine.engine import Engine
from streamrec.models.als import ALSModel
from streamrec.serving.metrics import EngineCollector
from streamrec.settings import Settings
from streamrec.types import Event

T0 = 1_700_000_000.0


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    settings = Settings(data_dir=tmp_path / "data",
                        models={"als": {"refit_min_events": 20}})  # type: ignore[arg-type]
    engine = Engine.open(settings, start_learner=False)  # the test steps learner and trainer
    yield engine
    engine.close()


def refit_once(engine: Engine, first: int) -> None:
    """Events, then one refit as the trainer runs it: begun in the log, fitted, ended."""
    events = [Event(f"u{(first + n) % 7}", f"i{(first + n) % 11}", "view", T0 + first + n)
              for n in range(40)]
    engine.ingest(events, wait_learned=False)
    engine.learner.catch_up()
    engine.trainer.begin_due()
    engine.learner.catch_up()  # the begin marker: the data is taken
    engine.trainer.fit_pending()
    engine.learner.catch_up()  # the end marker: swapped in, or the fit forgotten


def metric(engine: Engine, name: str) -> float:
    for family in EngineCollector(engine.stats).collect():
        if family.name == name:
            return float(family.samples[0].value)
    raise AssertionError(f"no metric {name}")


def test_a_failed_refit_is_shown_until_one_works(engine: Engine,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    als = engine.state.models["als"]
    assert isinstance(als, ALSModel)
    fit = als.fit

    def failing(data: Any) -> Any:
        raise RuntimeError("out of memory in the solver")

    monkeypatch.setattr(als, "fit", failing)
    refit_once(engine, 0)
    stats = engine.stats()
    assert stats["refit_failures"] == 1 and stats["refits"] == 0
    assert stats["refit_error"] == "RuntimeError: out of memory in the solver"
    assert metric(engine, "streamrec_refit_failures") == 1.0
    assert metric(engine, "streamrec_refit_failing") == 1.0
    monkeypatch.setattr(als, "fit", fit)
    refit_once(engine, 40)
    stats = engine.stats()
    assert stats["refits"] == 1 and stats["refit_failures"] == 1  # a count: it stays
    assert stats["refit_error"] is None
    assert metric(engine, "streamrec_refit_failing") == 0.0
    assert metric(engine, "streamrec_refits") == 1.0
