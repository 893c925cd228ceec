"""engine/collector.py: the server freezes what it opened with and collects young objects
less often while it serves, and puts Python's settings back when it stops."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from streamrec.engine import collector
from streamrec.engine.engine import Engine
from streamrec.engine.learner import Learner
from streamrec.serving.app import create_app
from streamrec.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # this starlette asks for the httpx2 fork
    from starlette.testclient import TestClient


def test_settle_freezes_what_exists_and_undo_puts_it_back() -> None:
    before = gc.get_threshold()
    kept = [[i] for i in range(1_000)]  # containers alive now: frozen, not collected
    undo = collector.settle(40_000)
    try:
        assert gc.get_threshold() == (40_000, *before[1:])
        assert gc.get_freeze_count() >= len(kept)
    finally:
        undo()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_zero_keeps_pythons_collector() -> None:
    before = gc.get_threshold()
    undo = collector.settle(0)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    undo()
    assert gc.get_threshold() == before


def test_the_server_settles_the_collector_while_it_serves(
        tmp_path: Path, settings_factory: Callable[..., Settings]) -> None:
    before = gc.get_threshold()
    settings = settings_factory(tmp_path / "data", serving={"gc_young_objects": 30_000})
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_threshold()[0] == 30_000
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_young_generation_sets_the_threshold_inside_and_puts_it_back() -> None:
    before = gc.get_threshold()
    with collector.young_generation(25_000):
        assert gc.get_threshold() == (25_000, *before[1:])
        assert gc.get_freeze_count() == 0  # nothing frozen
    assert gc.get_threshold() == before
    with collector.young_generation(0):
        assert gc.get_threshold() == before


def test_an_engines_replay_collects_young_objects_as_a_server_does(
        tmp_path: Path, settings_factory: Callable[..., Settings],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A start's replay of the log's tail runs with the server's young threshold, and the
    threshold is Python's again once the engine has opened."""
    settings = settings_factory(tmp_path / "data", serving={"gc_young_objects": 30_000})
    engine = Engine.open(settings, start_learner=False)
    engine.close()
    seen: list[int] = []
    catch_up = Learner.catch_up

    def recorded(self: Learner, *args: Any, **kwargs: Any) -> int:
        seen.append(gc.get_threshold()[0])
        return catch_up(self, *args, **kwargs)

    monkeypatch.setattr(Learner, "catch_up", recorded)
    before = gc.get_threshold()
    engine = Engine.open(settings, start_learner=False)
    try:
        assert seen == [30_000]
        assert gc.get_threshold() == before
    finally:
        engine.close()
