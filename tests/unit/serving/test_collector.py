"""serving/collector.py: the server freezes what it opened with and collects young objects
less often while it serves, and puts Python's settings back when it stops."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Callable
from pathlib import Path

from streamrec.serving import collector
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
