"""The audit log: an append-only table in ``<data_dir>/audit.db`` of who did what, when.

Rows are only ever inserted. A user is never named by their id: an audit row must not keep
what an erasure removed, so user targets are ``user:<digest>``, a keyed hash under a random
key kept in this file (the same user gives the same digest, so an export and a later erasure
of one person can be matched up, but the id cannot be read back).

On a read-only data dir the log opens (the server serves reads) and ``record`` raises
``Unavailable``: an action that must be audited is refused rather than done unrecorded.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamrec.storage.failures import is_read_only, storage_unavailable
from streamrec.trust.pseudonyms import pseudonymise

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    key_id TEXT,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    details TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS audit_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    time: float
    key_id: str | None  # None: no key (an open server, or the command line)
    action: str
    target: str
    details: Mapping[str, Any]


class AuditLog:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._connection = self._connect()
        self._connection.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._reconnect_before_writing = False  # a write was refused as read-only
        user_key = self._read_user_key()
        if user_key is None:  # a new file: written once (a read-only one has its key)
            self._connection.execute("INSERT OR IGNORE INTO audit_meta VALUES ('user_key', ?)",
                                     (secrets.token_hex(32),))
            user_key = self._read_user_key()
        assert user_key is not None
        self._user_key = user_key

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(str(self._path), isolation_level=None,
                                     check_same_thread=False, timeout=10.0)
        connection.execute("PRAGMA journal_mode=WAL")
        return connection

    def _read_user_key(self) -> bytes | None:
        row = self._connection.execute(
            "SELECT value FROM audit_meta WHERE name = 'user_key'").fetchone()
        return None if row is None else bytes.fromhex(row[0])

    def user_target(self, user_id: str) -> str:
        """How a user is named in the audit log: never by their id."""
        return "user:" + pseudonymise(self._user_key, user_id)[:32]

    def session_target(self, session_id: str) -> str:
        """How an anonymous session is named in the audit log: never by its id."""
        return "session:" + pseudonymise(self._user_key, "session\x1f" + session_id)[:32]

    def record(self, key_id: str | None, action: str, target: str,
               details: Mapping[str, Any] | None = None) -> None:
        """Append one row; durable when this returns. Raises ``Unavailable`` when the storage
        refuses the write (read-only, full); after a read-only refusal the connection is
        opened again before the next write, so recording resumes once the file is writable."""
        with self._lock:
            try:
                if self._reconnect_before_writing:
                    self._connection.close()
                    self._connection = self._connect()
                    self._reconnect_before_writing = False
                self._connection.execute(
                    "INSERT INTO audit (time, key_id, action, target, details)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (time.time(), key_id, action, target, json.dumps(dict(details or {}),
                                                                     sort_keys=True)),
                )
            except sqlite3.OperationalError as error:
                self._reconnect_before_writing |= is_read_only(error)
                raise storage_unavailable(f"the audit log could not record {action}",
                                          error) from error

    def recent(self, limit: int) -> list[AuditEntry]:
        """The newest ``limit`` rows, newest first."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT seq, time, key_id, action, target, details FROM audit"
                " ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        return [AuditEntry(int(r[0]), float(r[1]), r[2], r[3], r[4], json.loads(r[5]))
                for r in rows]

    def close(self) -> None:
        with self._lock:
            self._connection.close()
