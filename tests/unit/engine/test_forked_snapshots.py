"""Snapshots written by a forked child (settings ``snapshots.fork``, engine/forked.py): the
child writes the state as it was at the fork whatever the parent learns meanwhile, the
copies are taken there and not in the learner's process, a disk that refuses is logged and
the next is forked again, a child that dies hands the later snapshots to a thread, and no
child outlives its parent."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from streamrec.engine import forked
from streamrec.engine.replay import state_differences
from streamrec.engine.snapshotter import Snapshotter
from streamrec.engine.state import EngineState
from streamrec.settings import Settings, SnapshotSettings
from streamrec.storage.snapshots import SnapshotStore
from streamrec.types import Event, LoggedEvent

pytestmark = pytest.mark.skipif(not forked.can_fork(), reason="this OS cannot fork")


def _events(start: int, count: int) -> list[LoggedEvent]:
    return [LoggedEvent(n + 1, Event(f"u{n % 5}", f"i{(n * 3) % 11}",
                                     "click" if n % 4 else "view", 1_000.0 + n))
            for n in range(start, start + count)]


def _snapshotter(tmp_path: Path, events: int) -> Snapshotter:
    state = EngineState(Settings(), inline_training=False)
    settings = SnapshotSettings(every_events=10, every_s=1_000.0, fork=True)
    snapshotter = Snapshotter(state, SnapshotStore(tmp_path / "snapshots"), settings, "test")
    state.apply(_events(0, events))
    return snapshotter


def test_a_forked_snapshot_holds_the_state_at_the_fork_not_what_came_after(
        tmp_path: Path) -> None:
    snapshotter = _snapshotter(tmp_path, 40)
    snapshotter.maybe_snapshot()
    assert snapshotter.child_pid is not None  # forked, not written by a thread here
    snapshotter.state.apply(_events(40, 60))  # the parent learns on while the child writes
    snapshotter.wait_written()
    assert snapshotter.writes == 1 and snapshotter.written_offset == 40
    assert snapshotter.child_pid is None and not snapshotter.fork_failed
    snapshot = snapshotter.store.load_latest()
    assert snapshot is not None and snapshot.offset == 40
    restored = EngineState(Settings(), inline_training=False)
    restored.restore(snapshot.offset, snapshot.components)
    expected = EngineState(Settings(), inline_training=False)
    expected.apply(_events(0, 40))
    assert state_differences(restored.state(), expected.state()) == []
    assert state_differences(restored.state(), snapshotter.state.state()) != []


def test_the_copies_are_taken_in_the_child_not_in_the_learners_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snapshotter = _snapshotter(tmp_path, 10)
    state = snapshotter.state
    capture, seen = state.capture, tmp_path / "captured-in"

    def capturing() -> Any:
        seen.write_text(str(os.getpid()))
        return capture()

    monkeypatch.setattr(state, "capture", capturing)
    snapshotter.maybe_snapshot()
    snapshotter.wait_written()
    assert snapshotter.writes == 1
    assert int(seen.read_text()) not in (os.getpid(), 0)


def test_a_disk_that_refuses_a_forked_write_is_logged_and_the_next_is_forked_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    snapshotter = _snapshotter(tmp_path, 10)

    def disk_full(*args: object, **kwargs: object) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(snapshotter.store, "save", disk_full)
    with caplog.at_level(logging.ERROR, logger="streamrec.engine.snapshotter"):
        snapshotter.maybe_snapshot()
        snapshotter.wait_written()
    assert snapshotter.writes == 0 and snapshotter.written_offset == 0
    assert "No space left on device" in caplog.text and "replays them" in caplog.text
    assert not snapshotter.fork_failed
    monkeypatch.undo()
    snapshotter.state.apply(_events(10, 10))
    snapshotter.last_cost_s = 0.0
    snapshotter.maybe_snapshot()
    assert snapshotter.child_pid is not None
    snapshotter.wait_written()
    assert snapshotter.writes == 1 and snapshotter.written_offset == 20


def test_a_forked_writer_that_dies_leaves_the_later_snapshots_to_a_thread(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    snapshotter = _snapshotter(tmp_path, 10)

    def killed(*args: object, **kwargs: object) -> Path:
        os.kill(os.getpid(), signal.SIGKILL)  # only ever in the child
        raise AssertionError("not reached")

    monkeypatch.setattr(snapshotter.store, "save", killed)
    with caplog.at_level(logging.ERROR, logger="streamrec.engine.snapshotter"):
        snapshotter.maybe_snapshot()
        snapshotter.wait_written()
    assert snapshotter.fork_failed and snapshotter.writes == 0
    assert "SIGKILL" in caplog.text and "in a thread" in caplog.text
    monkeypatch.undo()
    snapshotter.state.apply(_events(10, 10))
    snapshotter.last_cost_s = 0.0
    snapshotter.maybe_snapshot()
    assert snapshotter.child_pid is None  # the thread's turn
    snapshotter.wait_written()
    assert snapshotter.writes == 1 and snapshotter.written_offset == 20


def test_a_forked_job_returns_its_result_or_says_why_not() -> None:
    assert forked.fork(lambda: {"n": 3}).wait().result == {"n": 3}

    def failing() -> dict[str, Any]:
        raise ValueError("bad row 7")

    ended = forked.fork(failing).wait()
    assert ended.result is None and ended.error == "ValueError: bad row 7"
    assert not ended.refused

    def hanging() -> dict[str, Any]:
        time.sleep(30)
        return {}

    ended = forked.fork(hanging, limit_s=1).wait()
    assert ended.result is None and ended.error is not None and "SIGALRM" in ended.error


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_forked_writer_does_not_outlive_its_parent(tmp_path: Path) -> None:
    """A kill -9 of the server must not leave a writer renaming snapshots into a directory
    the next server has opened."""
    script = textwrap.dedent("""
        import sys, time
        from streamrec.engine import forked
        job = forked.fork(lambda: time.sleep(60) or {})
        print(job.pid, flush=True)
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        os.kill(child, 0)  # running
        parent.kill()
        parent.wait()
        for _ in range(200):
            if not _running(child):
                break
            time.sleep(0.05)
        else:
            os.kill(child, signal.SIGKILL)
            pytest.fail("the child went on after its parent was killed")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()


def _running(pid: int) -> bool:
    """Whether ``pid`` runs: not gone, and not a zombie that nobody has reaped yet (in a
    container the first process may never reap an orphan)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
