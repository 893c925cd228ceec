"""The sqlite log's writer queue is bounded: a stalled disk refuses writes, it does not grow."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from streamrec.errors import Unavailable
from streamrec.storage.sqlite_log import SQLiteEventLog, connect
from streamrec.types import Appended, Event


def test_a_stalled_writer_refuses_events_beyond_the_bound_then_recovers(
    tmp_path: Path, make_event: Callable[..., Event],
) -> None:
    log = SQLiteEventLog(tmp_path / "events.db", max_queued_events=10)
    blocker = connect(tmp_path / "events.db")
    blocker.execute("BEGIN IMMEDIATE")  # the writer now waits on this lock (busy_timeout)
    results: list[Appended] = []
    waiting = threading.Thread(
        target=lambda: results.append(log.append([make_event("u", f"i{n}") for n in range(8)])))
    waiting.start()
    deadline = time.monotonic() + 10
    while log._queued_events < 8 and time.monotonic() < deadline:
        time.sleep(0.001)  # polling with a deadline until the first call is queued
    with pytest.raises(Unavailable, match="limit 10"):
        log.append([make_event("v", f"i{n}") for n in range(3)])
    blocker.execute("ROLLBACK")
    blocker.close()
    waiting.join(timeout=30)
    assert results and results[0].accepted == 8
    assert log.append([make_event("v", "i1")]).accepted == 1
    assert log.count() == 9 and log._queued_events == 0
    log.close()
