"""One writer process per data directory: while a server runs, an import or a second server
on its directory stops with a message naming the directory and the server's process; once
the server is gone the import goes ahead. Key management still works beside a server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

EVENTS = '{"user_id": "u1", "item_id": "new1", "type": "view", "timestamp": 1700000000}\n'


def test_a_second_writer_is_refused_while_the_server_runs(
        start_server: Any, streamrec_cli: Any, tmp_path: Path) -> None:
    server = start_server()
    assert server.process is not None
    (tmp_path / "events.jsonl").write_text(EVENTS)
    data_dir = str(server.data_dir)
    for args in (["import", "events", "events.jsonl"], ["serve", "--port", "0"],
                 ["demo", "--port", "0"], ["reapply-erasures"]):
        result = streamrec_cli([*args, "--data-dir", data_dir], tmp_path)
        streamrec_cli.assert_refused(result, data_dir, "in use",
                                     f"pid {server.process.pid}", "streamrec serve")
    # keys are made for a running server: it reads them on every request
    listed = streamrec_cli(["keys", "list", "--data-dir", data_dir], tmp_path)
    assert listed.returncode == 0, listed.stderr

    assert server.stop() == 0
    imported = streamrec_cli(["import", "events", "events.jsonl", "--data-dir", data_dir],
                             tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert "stored 1 events" in imported.stderr
