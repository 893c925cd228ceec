"""SIGTERM (systemd's stop) and SIGINT (Ctrl-C) end in a graceful shutdown that writes the
final snapshot and exits 0: a stop asked for is not a failure."""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT],
                         ids=lambda stop_signal: stop_signal.name)
def test_a_stop_signal_ends_in_exit_status_0_after_the_final_snapshot(
        start_server: Any, connect: Callable[[Any], Any], stop_signal: signal.Signals) -> None:
    server = start_server()
    api = connect(server)
    assert api.post_events([api.event("u1", "i1"), api.event("u2", "i1")]).status_code == 200
    server.process.send_signal(stop_signal)
    assert server.process.wait(timeout=60) == 0, server.output()
    snapshots = server.data_dir / "snapshots"
    assert snapshots.is_dir() and any(snapshots.iterdir()), "no final snapshot"
    assert "Application shutdown complete" in server.output()
