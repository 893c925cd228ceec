"""API keys with scopes, kept in ``<data_dir>/keys.db`` as SHA-256 hashes only.

A key is shown once, when created; the store holds its hash, so a copy of the data dir does
not give access. Keys are 256-bit random tokens, not passwords: nobody can brute-force that
space, so a fast hash is right (a slow, salted one like bcrypt only protects low-entropy
secrets, and would cost milliseconds on every request).

Once a data dir has had a key, it never falls back to open access by itself: revoking every
key means nobody gets in. Opening it again is an explicit act (``KeyRing.open_access``, the
``streamrec keys open-access`` command, audited), undone by creating a key.

``KeyRing.authenticate`` runs on every request: it reads an in-memory copy of the table,
reloaded only when another connection (``streamrec keys create`` in another process) changed
the file, which SQLite's ``PRAGMA data_version`` tells in microseconds.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from streamrec.errors import Conflict, InvalidInput, NotFound

if TYPE_CHECKING:
    from streamrec.settings import Settings
    from streamrec.storage.redis_shared import RevokedKeys

KEY_PREFIX = "srk_"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_at REAL NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS access (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_OPENED = "opened_at"  # the row in ``access`` that says an admin opened a keyless server


class Scope(StrEnum):
    INGEST = "ingest"
    READ = "read"
    ADMIN = "admin"  # implies every other scope


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    hash: str
    scopes: frozenset[Scope]
    created_at: float
    is_revoked: bool

    def allows(self, scope: Scope) -> bool:
        return Scope.ADMIN in self.scopes or scope in self.scopes


def hash_key(key: str) -> str:
    """SHA-256 of the key in hex: what the store keeps instead of the key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_scopes(names: list[str]) -> frozenset[Scope]:
    """``["read", "ingest"]`` -> scopes; an unknown name is refused, naming the choices."""
    if not names:
        raise InvalidInput("scope", "give at least one scope: ingest, read or admin")
    scopes = set()
    for name in names:
        try:
            scopes.add(Scope(name.strip().lower()))
        except ValueError:
            raise InvalidInput("scope", f"unknown scope {name!r}: expected ingest, read or "
                               "admin") from None
    return frozenset(scopes)


class KeyRing:
    """The keys of one data dir. Safe to share between threads."""

    def __init__(self, path: Path, revoked: RevokedKeys | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # replicas: revocations shared through Redis, refused by every replica within ~1 s
        self.revoked = revoked
        self._connection = sqlite3.connect(str(path), isolation_level=None,
                                           check_same_thread=False, timeout=10.0)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._version = -1
        self._keys: tuple[ApiKey, ...] = ()
        self._opened = False

    # -- reading (every request) ---------------------------------------------------------
    def _current(self) -> tuple[ApiKey, ...]:
        with self._lock:
            version = int(self._connection.execute("PRAGMA data_version").fetchone()[0])
            if version != self._version:
                self._keys = tuple(self._load())
                self._opened = self._connection.execute(
                    "SELECT 1 FROM access WHERE name = ?", (_OPENED,)).fetchone() is not None
                self._version = version
            return self._keys

    def _load(self) -> list[ApiKey]:
        rows = self._connection.execute(
            "SELECT id, hash, scopes, created_at, revoked FROM api_keys ORDER BY created_at"
        ).fetchall()
        return [ApiKey(row[0], row[1], frozenset(Scope(s) for s in row[2].split(",") if s),
                       float(row[3]), bool(row[4])) for row in rows]

    def has_active_keys(self) -> bool:
        return any(not key.is_revoked for key in self._current())

    def is_open(self) -> bool:
        """True while callers need no key: no key was ever created, or every key is revoked
        and an admin opened access explicitly since (``open_access``). Revoking the last key
        alone never opens it: nobody gets in."""
        keys = self._current()
        if not keys:
            return True
        return self._opened and not any(not key.is_revoked for key in keys)

    def authenticate(self, key: str) -> ApiKey | None:
        """The unrevoked key matching ``key``, or None. Every stored hash is compared in
        constant time, and all of them, so timing tells nothing about which matched."""
        digest = hash_key(key)
        found: ApiKey | None = None
        for candidate in self._current():
            if hmac.compare_digest(candidate.hash, digest) and not candidate.is_revoked:
                found = candidate
        if found is not None and self.revoked is not None and self.revoked.contains(digest):
            return None
        return found

    def list(self) -> list[ApiKey]:
        return list(self._current())

    # -- writing (the CLI) ---------------------------------------------------------------
    def create(self, scopes: frozenset[Scope]) -> tuple[ApiKey, str]:
        """A new key with ``scopes``: its record, and the key itself (shown only now)."""
        if not scopes:
            raise InvalidInput("scope", "give at least one scope: ingest, read or admin")
        key_id = secrets.token_hex(6)
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        record = ApiKey(key_id, hash_key(key), scopes, time.time(), is_revoked=False)
        with self._lock, self._connection:
            self._connection.execute("BEGIN IMMEDIATE")
            self._connection.execute(
                "INSERT INTO api_keys (id, hash, scopes, created_at, revoked)"
                " VALUES (?, ?, ?, ?, 0)",
                (record.id, record.hash, ",".join(sorted(scopes)), record.created_at),
            )
            # a new key closes an opened server again
            self._connection.execute("DELETE FROM access WHERE name = ?", (_OPENED,))
            self._version = -1
        return record, key

    def open_access(self) -> None:
        """Let callers in without a key, on loopback, after every key was revoked. Refused
        while a key is active (it would change nothing: keys are checked while one exists)."""
        active = [key.id for key in self._current() if not key.is_revoked]
        if active:
            raise Conflict(f"{len(active)} API key(s) are active ({', '.join(active)}): "
                           "revoke them first ('streamrec keys revoke ID'); a server with an "
                           "active key always checks keys", field="id")
        with self._lock:
            self._connection.execute("INSERT OR REPLACE INTO access VALUES (?, ?)",
                                     (_OPENED, str(time.time())))
            self._version = -1

    def revoke(self, key_id: str) -> ApiKey:
        """Mark the key revoked; it stops working at once, in every process."""
        with self._lock:
            cursor = self._connection.execute("UPDATE api_keys SET revoked = 1 WHERE id = ?",
                                              (key_id,))
            self._version = -1
        if cursor.rowcount == 0:
            raise NotFound(f"no API key with id {key_id!r}", field="id")
        record = next(key for key in self._current() if key.id == key_id)
        if self.revoked is not None:
            self.revoked.add(record.hash)
        return record

    def close(self) -> None:
        with self._lock:
            self._connection.close()


def revoked_keys(settings: Settings) -> RevokedKeys | None:
    """Replicas with Redis share revocations; None for a server of its own."""
    if settings.replicas.redis_url is None:
        return None
    from streamrec.storage.redis_shared import RevokedKeys

    return RevokedKeys(settings.replicas.redis_url, settings.replicas.redis_prefix)


def is_loopback(host: str) -> bool:
    """True if a server bound to ``host`` is reachable only from this machine."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything
