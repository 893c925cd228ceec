"""Make deleted rows leave a SQLite file: VACUUM rewrites it, a TRUNCATE checkpoint empties
the write-ahead log. Without both, erased rows linger in free pages and in the ``-wal`` file.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

_CHECKPOINT_TRIES = 50


def scrub(path: Path) -> None:
    """Rewrite ``path`` without free pages and truncate its WAL to zero bytes. Waits (briefly)
    for readers of older snapshots to finish; raises ``RuntimeError`` if they never do."""
    connection = sqlite3.connect(str(path), isolation_level=None, timeout=10.0)
    try:
        connection.execute("PRAGMA secure_delete=ON")
        _checkpoint(connection)
        connection.execute("VACUUM")
        _checkpoint(connection)
    finally:
        connection.close()


def _checkpoint(connection: sqlite3.Connection) -> None:
    for _ in range(_CHECKPOINT_TRIES):
        busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy == 0:
            return
        time.sleep(0.02)  # a reader still holds an older snapshot: it finishes in milliseconds
    raise RuntimeError(f"could not checkpoint {path_of(connection)}: readers stayed busy")


def path_of(connection: sqlite3.Connection) -> str:
    row = connection.execute("PRAGMA database_list").fetchone()
    return str(row[2]) if row else "?"


def scrub_log_file(log_url: str) -> None:
    """After a delete, make the rows leave the log's file too (SQLite only; memory has none)."""
    if log_url.startswith("sqlite:///"):
        scrub(Path(log_url.removeprefix("sqlite:///")))
