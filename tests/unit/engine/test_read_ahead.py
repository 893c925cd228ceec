"""A catch-up reads the log's next batch while it learns the one before (engine/learner.py
``ReadAhead``): what it learns is what reading in turn gives, the batch read ahead is used
only for the offset it was read after, and a read that failed fails the catch-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamrec.engine.learner import Learner, ReadAhead
from streamrec.engine.replay import state_differences
from streamrec.engine.state import EngineState
from streamrec.errors import Damaged
from streamrec.settings import Settings
from streamrec.storage.memory_log import MemoryEventLog
from streamrec.types import Event, LoggedEvent


class CountingLog(MemoryEventLog):
    def __init__(self) -> None:
        super().__init__()
        self.reads: list[int] = []
        self.fail_after: int | None = None

    def read(self, after: int, limit: int) -> list[LoggedEvent]:
        self.reads.append(after)
        if after == self.fail_after:
            raise Damaged(f"the entry after offset {after} is damaged")
        return super().read(after, limit)


def _log(events: int) -> CountingLog:
    log = CountingLog()
    log.append([Event(f"u{n % 7}", f"i{(n * 5) % 13}", "click" if n % 3 else "view",
                      1_000.0 + n) for n in range(events)])
    return log


def test_a_batch_read_ahead_serves_only_the_offset_it_was_read_after() -> None:
    log = _log(30)
    reader = ReadAhead(log, 10)
    reader.ask(10)
    assert [e.offset for e in reader.read(10)] == list(range(11, 21))
    assert log.reads == [10]  # from the read ahead, not again
    reader.ask(20)
    assert [e.offset for e in reader.read(15)] == list(range(16, 26))  # not what was asked
    assert log.reads == [10, 20, 15]
    assert reader.read(25)[0].offset == 26 and log.reads[-1] == 25  # nothing asked: now


def test_a_catch_up_reading_ahead_learns_what_reading_in_turn_learns() -> None:
    log = _log(95)
    ahead = EngineState(Settings(), inline_training=False)
    assert Learner(ahead, log).catch_up(batch=10) == 95
    assert sorted(log.reads) == [*range(0, 100, 10), 95]  # each batch once, then the end
    in_turn = EngineState(Settings(), inline_training=False)
    in_turn.apply(log.read(0, 1_000))
    assert ahead.offset == in_turn.offset == 95
    assert state_differences(ahead.state(), in_turn.state()) == []


def test_a_read_ahead_that_failed_fails_the_catch_up(tmp_path: Path) -> None:
    log = _log(40)
    log.fail_after = 20
    state = EngineState(Settings(), inline_training=False)
    with pytest.raises(Damaged, match="after offset 20"):
        Learner(state, log).catch_up(batch=10)
    assert state.offset == 20  # the batches before it learned
