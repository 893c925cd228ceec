"""When the snapshotter writes: often enough to keep restarts short, never so often that
writing a big state takes more than its share of the time."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from streamrec.engine import snapshotter as snapshotter_module
from streamrec.engine.snapshotter import Snapshotter
from streamrec.engine.state import EngineState
from streamrec.errors import Unavailable
from streamrec.settings import Settings, SnapshotSettings
from streamrec.storage.snapshots import SnapshotStore
from streamrec.types import Event, LoggedEvent


def _snapshotter(tmp_path: Path, events: int) -> Snapshotter:
    state = EngineState(Settings(), inline_training=False)
    settings = SnapshotSettings(every_events=10, every_s=1_000.0, max_busy_share=0.2)
    snapshotter = Snapshotter(state, SnapshotStore(tmp_path / "snapshots"), settings, "test")
    state.apply([LoggedEvent(n + 1, Event(f"u{n % 3}", f"i{n % 7}", "view", 1_000.0 + n))
                 for n in range(events)])
    return snapshotter


def test_enough_new_events_make_a_snapshot_due(tmp_path: Path) -> None:
    assert not _snapshotter(tmp_path, 9).is_due()
    assert _snapshotter(tmp_path, 10).is_due()


def test_a_slow_write_spaces_the_next_snapshot_out_by_its_share_of_the_time(
        tmp_path: Path) -> None:
    snapshotter = _snapshotter(tmp_path, 50)
    snapshotter.last_cost_s = 10.0  # at a share of 0.2: the next one 50 s after the last
    snapshotter.last_at = time.monotonic() - 30.0
    assert not snapshotter.is_due()
    snapshotter.last_at = time.monotonic() - 60.0
    assert snapshotter.is_due()


def test_seconds_of_learning_since_the_last_cut_make_a_snapshot_due(tmp_path: Path) -> None:
    """A crash leaves the tail since the newest snapshot to learn again: a snapshot is due
    once the learner spent ``every_learning_s`` on what none holds, however few events."""
    snapshotter = _snapshotter(tmp_path, 5)  # 5 of the 10 events that would make it due
    snapshotter.settings = SnapshotSettings(every_events=10, every_s=1_000.0,
                                            every_learning_s=4.0)
    learned = [0.0]
    snapshotter.follow_learning(lambda: learned[0])
    learned[0] = 3.9
    assert not snapshotter.is_due()
    learned[0] = 4.0
    assert snapshotter.is_due()
    snapshotter.snapshot_now()
    assert snapshotter.learning_since_cut() == 0.0 and not snapshotter.is_due()
    learned[0] = 5.0
    # a new learner counts from 0 and carries what the last one learned since the cut
    snapshotter.follow_learning(lambda: 0.0)
    assert snapshotter.learning_since_cut() == 1.0
    # a start's replay learned 3 s that no snapshot holds
    snapshotter.owe_learning(3.0)
    assert snapshotter.learning_since_cut() == 4.0
    snapshotter.state.apply([LoggedEvent(100, Event("u0", "i0", "view", 5_000.0))])
    snapshotter.last_cost_s = 0.0  # the write just made spaces nothing out
    assert snapshotter.is_due()


def test_a_writes_cost_is_the_cpu_its_thread_used(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """At its lower priority the writer waits for CPUs that learning and serving use, and
    for the disk; those waits cost them nothing, so they do not space the next snapshot out.
    The copies, which the learner waits for, cost their whole time."""
    snapshotter = _snapshotter(tmp_path, 20)
    used = iter([1.0, 1.5, 5.0, 5.25])  # the copies' start and end, the write's
    monkeypatch.setattr(snapshotter_module, "thread_cpu_s", lambda: next(used))
    snapshotter.snapshot_now()
    assert snapshotter.last_duration_s > 0
    assert snapshotter.last_capture_s > 0  # the learner waits for the copies: a cost
    assert snapshotter.last_capture_cpu_s == 0.5  # what the log says they ran
    assert snapshotter.last_cost_s == snapshotter.last_capture_s + 0.25


def test_a_write_waiting_for_the_disk_costs_less_than_its_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snapshotter = _snapshotter(tmp_path, 20)
    save = snapshotter.store.save

    def slow_disk(*args: Any, **kwargs: Any) -> Path:
        time.sleep(0.3)  # the thread waits, using no CPU
        return save(*args, **kwargs)

    monkeypatch.setattr(snapshotter.store, "save", slow_disk)
    snapshotter.snapshot_now()
    assert snapshotter.last_duration_s >= 0.3
    assert snapshotter.last_cost_s - snapshotter.last_capture_s < snapshotter.last_duration_s


def test_a_threads_cpu_time_is_read_and_never_falls() -> None:
    first = snapshotter_module.thread_cpu_s()
    sum(range(100_000))
    assert 0.0 <= first <= snapshotter_module.thread_cpu_s()


def test_writes_are_counted(tmp_path: Path) -> None:
    snapshotter = _snapshotter(tmp_path, 20)
    assert snapshotter.snapshot_now() is not None
    assert snapshotter.writes == 1
    assert not snapshotter.is_due()  # nothing new since


def test_a_failed_write_is_not_reported_as_the_last_snapshot(tmp_path: Path) -> None:
    """/v1/stats' last_snapshot_offset is where a restart would start from: a cut whose
    write failed (e.g. a full disk) must not move it, though it spaces the next attempt."""
    snapshotter = _snapshotter(tmp_path, 20)
    assert snapshotter.snapshot_now() is not None
    assert snapshotter.written_offset == 20
    snapshotter.state.apply([LoggedEvent(21 + n, Event("u0", f"i{n}", "view", 2_000.0 + n))
                             for n in range(10)])

    def disk_full(*args: object, **kwargs: object) -> Path:
        raise OSError(28, "No space left on device")

    snapshotter.store.save = disk_full  # type: ignore[method-assign]
    with pytest.raises(Unavailable):
        snapshotter.snapshot_now()
    assert snapshotter.last_offset == 30 and snapshotter.written_offset == 20


def test_the_snapshot_age_moves_with_written_snapshots_only(tmp_path: Path) -> None:
    """/metrics' streamrec_snapshot_age_seconds: since the last write that worked."""
    snapshotter = _snapshotter(tmp_path, 20)
    snapshotter.written_at = 0.0  # as if the process had started long ago

    def disk_full(*args: object, **kwargs: object) -> Path:
        raise OSError(28, "No space left on device")

    snapshotter.store.save = disk_full  # type: ignore[method-assign]
    with pytest.raises(Unavailable):
        snapshotter.snapshot_now()
    assert snapshotter.written_at == 0.0
    del snapshotter.store.save  # the class's own again
    before = time.time()
    assert snapshotter.snapshot_now() is not None
    assert snapshotter.written_at >= before


def test_a_snapshot_is_under_way_from_due_until_written(tmp_path: Path) -> None:
    snapshotter = _snapshotter(tmp_path, 10)
    assert snapshotter.under_way  # due, not taken
    snapshotter.maybe_snapshot()  # taken; written in a thread of its own
    snapshotter.wait_written()
    assert snapshotter.writes == 1
    assert not snapshotter.under_way


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness is Linux's")
def test_a_snapshots_copies_and_write_run_at_its_niceness_and_the_learner_waits_for_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snapshotter = _snapshotter(tmp_path, 10)
    snapshotter.settings = SnapshotSettings(every_events=10, every_s=1_000.0, nice=6)
    state, seen = snapshotter.state, []
    capture, save = state.capture, snapshotter.store.save

    def capturing(holds: Any) -> Any:
        seen.append(("capture", niceness()))
        return capture(holds)

    def saving(*args: Any) -> Any:
        seen.append(("save", niceness()))
        return save(*args)

    monkeypatch.setattr(state, "capture", capturing)
    monkeypatch.setattr(snapshotter.store, "save", saving)
    before = niceness()
    snapshotter.maybe_snapshot()
    assert seen[0] == ("capture", min(19, before + 6))  # taken before maybe_snapshot returned
    snapshotter.wait_written()
    assert seen == [("capture", min(19, before + 6)), ("save", min(19, before + 6))]
    assert niceness() == before and snapshotter.writes == 1


def test_a_capture_that_fails_raises_in_the_learner(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    snapshotter = _snapshotter(tmp_path, 10)

    def failing(holds: Any) -> Any:
        raise MemoryError("no room for the copies")

    monkeypatch.setattr(snapshotter.state, "capture", failing)
    with pytest.raises(MemoryError, match="no room"):
        snapshotter.maybe_snapshot()
    snapshotter.wait_written()
    assert snapshotter.writes == 0


def niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_forgetting_deletes_this_replicas_snapshots_and_the_shared_ones(tmp_path: Path) -> None:
    """An erasure's first step (engine.py): the shared snapshots new replicas start from hold
    the erased user's history as much as this replica's own."""
    snapshotter = _snapshotter(tmp_path, 20)
    snapshotter.shared = SnapshotStore(tmp_path / "shared")
    snapshotter.publishes = lambda: True
    snapshotter.snapshot_now()
    assert snapshotter.store.offsets() == snapshotter.shared.offsets() == [20]
    snapshotter.forget_all()
    assert snapshotter.store.offsets() == snapshotter.shared.offsets() == []
    assert not list((tmp_path / "shared").rglob("*.bin"))  # the chunks too
