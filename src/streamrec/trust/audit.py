"""The audit log: an append-only table in ``<data_dir>/audit.db`` of who did what, when.

Rows are only ever inserted. A user is never named by their id: an audit row must not keep
what an erasure removed, so user targets are ``user:<digest>``, a keyed hash of the key the
log stores the user under, keyed by a key derived from the pseudonym secret (never stored in
the data dir, so a copy of this file cannot confirm a guessed id). The same user gives the same
digest, so an export and a later erasure of one person can be matched up, and erasures can be
re-applied to a restored backup (engine/reapply.py). Without a secret there is no key outside
the data dir to use: targets are ``user:-`` and ``session:-``, naming nobody.

On a read-only data dir the log opens (the server serves reads) and ``record`` raises
``Unavailable``: an action that must be audited is refused rather than done unrecorded.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from streamrec.storage.failures import is_read_only, storage_unavailable
from streamrec.trust.pseudonyms import pseudonymise

log = logging.getLogger(__name__)
_DIGEST_KEY_LABEL = b"streamrec audit digest v1"

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


def digest_key(secret: SecretStr | None) -> bytes | None:
    """The key of audit digests: derived from the pseudonym secret, None without one."""
    if secret is None:
        return None
    return hmac.new(secret.get_secret_value().encode("utf-8"), _DIGEST_KEY_LABEL,
                    hashlib.sha256).digest()


class AuditLog:
    def __init__(self, path: Path, secret: SecretStr | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._connection = self._connect()
        self._connection.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._reconnect_before_writing = False  # a write was refused as read-only
        self._digest_key = digest_key(secret)
        self._forget_stored_key()

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(str(self._path), isolation_level=None,
                                     check_same_thread=False, timeout=10.0)
        connection.execute("PRAGMA journal_mode=WAL")
        return connection

    def _forget_stored_key(self) -> None:
        """Files from before kept their digest key beside the digests: drop it, so their old
        digests can no longer confirm a guessed id either."""
        if self._connection.execute(
                "SELECT 1 FROM audit_meta WHERE name = 'user_key'").fetchone() is None:
            return
        try:
            self._connection.execute("DELETE FROM audit_meta WHERE name = 'user_key'")
        except sqlite3.OperationalError as error:  # read-only: the next writable start does
            log.warning("could not drop the stored audit digest key: %s", error)

    def digest(self, stored_key: str) -> str:
        """How the user or session the log stores under ``stored_key`` is named here."""
        if self._digest_key is None:
            return "-"
        return pseudonymise(self._digest_key, stored_key)[:32]

    @property
    def names_users(self) -> bool:
        """Whether targets tell users apart (a pseudonym secret keys the digests)."""
        return self._digest_key is not None

    def targets(self, actions: tuple[str, ...]) -> set[str]:
        """Every target of a row with one of ``actions``."""
        marks = ", ".join("?" for _ in actions)
        with self._lock:
            rows = self._connection.execute(
                f"SELECT DISTINCT target FROM audit WHERE action IN ({marks})", actions)
            return {row[0] for row in rows}

    def user_target(self, stored_key: str) -> str:
        """``user:<digest>`` of the key the log stores a user under (``Engine.user_key``)."""
        return "user:" + self.digest(stored_key)

    def session_target(self, stored_key: str) -> str:
        """``session:<digest>`` of the key the log stores a session under."""
        return "session:" + self.digest(stored_key)

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
