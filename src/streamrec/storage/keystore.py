"""Per-user data keys for crypto-shredding the event log (storage/codec.py seals the entries).

Every user (or anonymous session) whose events the log holds has one random 256-bit data key,
with a random 16-byte key id. Erasing the user destroys the key: every entry sealed under it,
wherever a copy of the log went (a Kafka topic, a backup, a replica's disk), can no longer be
read by anyone. The key id stays behind as a tombstone (random, it names nobody), so a reader
can tell an erased entry (skipped) from one whose key store is lost or wrong (an error).

Keys are stored wrapped: AES-GCM under a master key, with the user's stored key and the key
id as associated data (a wrapped key moved to another user does not unwrap). The master key
is derived from the server secret (``STREAMREC_TRUST__PSEUDONYM_SECRET``) and never stored:
a stolen log with its key store reads nothing without the secret. Without a secret, a random
master key is kept in ``log.key`` beside the key store (mode 0600): erasure still destroys
the data for good, but whoever copies the whole data dir can read what is not erased.

Two stores: ``SQLiteKeyStore`` (``<data_dir>/user_keys.db``, embedded) and the shared
``RedisKeyStore`` (storage/redis_keystore.py) for replicas; storage/codec.py
``open_key_store`` opens either by URL.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from streamrec.errors import Misconfigured
from streamrec.storage.integrity import wal_emptied
from streamrec.storage.snapshots import write_private

KEY_BYTES = 32
KEY_ID_BYTES = 16
_NONCE_BYTES = 12
_MASTER_LABEL = b"streamrec log master key v1"
_WRAP_LABEL = b"streamrec data key v1\x00"
_CHECK_LABEL = b"streamrec key store check v1"
_TAG_LABEL = b"streamrec event id tag v1"
SECRET_SETTING = "STREAMREC_TRUST__PSEUDONYM_SECRET"
KEY_FILE = "log.key"


@dataclass(frozen=True, slots=True)
class DataKey:
    key_id: bytes  # KEY_ID_BYTES, random: names nobody
    key: bytes  # KEY_BYTES

    def __repr__(self) -> str:  # never print a key
        return f"DataKey(key_id={self.key_id.hex()})"


class KeyStore(Protocol):
    """Where the per-user data keys live. Every method is safe to call from any thread."""

    tag_key: bytes  # derived from the master key: keys the event id tags (storage/codec.py)
    shared: bool  # other processes destroy keys too: a cached key may be stale

    def get(self, user_key: str) -> DataKey | None:
        """The user's current data key, None when they have none."""
        ...

    def get_many(self, user_keys: Iterable[str]) -> dict[str, DataKey]:
        """The current data key of each of these users who has one, in one round trip."""
        ...

    def get_or_create(self, user_keys: Iterable[str]) -> dict[str, DataKey]:
        """Each user's data key, creating the missing ones; durable when this returns (an
        entry sealed under a key that a crash lost would be lost with it)."""
        ...

    def destroy(self, user_key: str) -> bool:
        """Destroy the user's key for good, leaving its key id as a tombstone; False when the
        user had none. Durable, and the key's bytes leave the store's files."""
        ...

    def is_destroyed(self, key_id: bytes) -> bool:
        """Whether a key of this id existed and was destroyed (its entries are erased)."""
        ...

    def close(self) -> None: ...


def master_key(secret: str | None, key_dir: Path) -> bytes:
    """The key that wraps data keys: derived from the secret, else the random key in
    ``key_dir/log.key`` (created on first use, readable by the owner only)."""
    if secret:
        return hmac.new(secret.encode("utf-8"), _MASTER_LABEL, hashlib.sha256).digest()
    path = key_dir / KEY_FILE
    if not path.exists():
        key_dir.mkdir(parents=True, exist_ok=True)
        write_private(path, os.urandom(KEY_BYTES))  # atomic: two openers end with one key
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise Misconfigured(f"{path} is not a streamrec log key ({len(key)} bytes, not "
                            f"{KEY_BYTES}): restore it from a backup")
    return key


class KeyWrapper:
    """Wraps and unwraps data keys under the master key."""

    def __init__(self, master: bytes) -> None:
        self._aead = AESGCM(master)
        self.check = hmac.new(master, _CHECK_LABEL, hashlib.sha256).hexdigest()
        self.tag_key = hmac.new(master, _TAG_LABEL, hashlib.sha256).digest()

    def wrap(self, user_key: str, data_key: DataKey) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, data_key.key,
                                          _wrap_aad(user_key, data_key.key_id))

    def unwrap(self, user_key: str, key_id: bytes, wrapped: bytes, where: str) -> DataKey:
        try:
            key = self._aead.decrypt(wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:],
                                     _wrap_aad(user_key, key_id))
        except InvalidTag:
            raise Misconfigured(f"a data key in {where} does not unwrap: the store was written "
                                f"under another {SECRET_SETTING}, or altered") from None
        return DataKey(key_id, key)


def _wrap_aad(user_key: str, key_id: bytes) -> bytes:
    return _WRAP_LABEL + key_id + user_key.encode("utf-8")


def new_data_key() -> DataKey:
    return DataKey(os.urandom(KEY_ID_BYTES), AESGCM.generate_key(bit_length=KEY_BYTES * 8))


_SCHEMA = """
CREATE TABLE IF NOT EXISTS data_keys (
    user_key TEXT PRIMARY KEY,
    key_id   BLOB NOT NULL,
    wrapped  BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS destroyed (key_id BLOB PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class SQLiteKeyStore:
    """Data keys in one SQLite file (WAL, fsync at every commit). A destroyed key's row is
    deleted with ``secure_delete`` (its bytes zeroed in the file) and the WAL truncated, so
    neither the file nor its WAL keeps the wrapped key."""

    def __init__(self, path: Path, wrapper: KeyWrapper) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._wrapper = wrapper
        self.tag_key = wrapper.tag_key
        self.shared = False
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(str(path), isolation_level=None,
                                           check_same_thread=False, timeout=10.0)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=FULL")
        self._connection.execute("PRAGMA secure_delete=ON")
        self._connection.executescript(_SCHEMA)
        self._check_master()

    def _check_master(self) -> None:
        row = self._connection.execute("SELECT value FROM meta WHERE name = 'check'").fetchone()
        if row is None:
            self._connection.execute("INSERT INTO meta (name, value) VALUES ('check', ?)",
                                     (self._wrapper.check,))
        elif not hmac.compare_digest(str(row[0]), self._wrapper.check):
            raise Misconfigured(f"{self.path} was written under another master key: set the "
                                f"{SECRET_SETTING} it was written with (or, without one, "
                                f"restore its {KEY_FILE} beside it)")

    def get(self, user_key: str) -> DataKey | None:
        with self._lock:
            row = self._connection.execute(
                "SELECT key_id, wrapped FROM data_keys WHERE user_key = ?", (user_key,)
            ).fetchone()
        if row is None:
            return None
        return self._wrapper.unwrap(user_key, bytes(row[0]), bytes(row[1]), str(self.path))

    def get_many(self, user_keys: Iterable[str]) -> dict[str, DataKey]:
        with self._lock:
            rows = _select_many(self._connection, list(dict.fromkeys(user_keys)))
        return {key: self._wrapper.unwrap(key, key_id, wrapped, str(self.path))
                for key, (key_id, wrapped) in rows.items()}

    def get_or_create(self, user_keys: Iterable[str]) -> dict[str, DataKey]:
        wanted = list(dict.fromkeys(user_keys))
        found: dict[str, DataKey] = {}
        with self._lock:
            connection = self._connection
            rows = _select_many(connection, wanted)
            missing = [key for key in wanted if key not in rows]
            if missing:
                created = {key: new_data_key() for key in missing}
                connection.execute("BEGIN IMMEDIATE")
                try:
                    connection.executemany(
                        "INSERT INTO data_keys (user_key, key_id, wrapped) VALUES (?, ?, ?)",
                        [(key, data.key_id, self._wrapper.wrap(key, data))
                         for key, data in created.items()])
                    connection.execute("COMMIT")
                except BaseException:
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
                    raise
                found.update(created)
        for key, (key_id, wrapped) in rows.items():
            found[key] = self._wrapper.unwrap(key, key_id, wrapped, str(self.path))
        return found

    def destroy(self, user_key: str) -> bool:
        with self._lock:
            connection = self._connection
            connection.execute("BEGIN IMMEDIATE")
            try:
                row = connection.execute("SELECT key_id FROM data_keys WHERE user_key = ?",
                                         (user_key,)).fetchone()
                if row is not None:
                    connection.execute("DELETE FROM data_keys WHERE user_key = ?", (user_key,))
                    connection.execute("INSERT OR IGNORE INTO destroyed (key_id) VALUES (?)",
                                       (bytes(row[0]),))
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
            if row is not None:
                _truncate_wal(connection, self.path)
        return row is not None

    def is_destroyed(self, key_id: bytes) -> bool:
        with self._lock:
            return self._connection.execute("SELECT 1 FROM destroyed WHERE key_id = ?",
                                            (key_id,)).fetchone() is not None

    def user_keys(self) -> Mapping[str, bytes]:
        """Every user's key id (for checks and tests)."""
        with self._lock:
            return {str(user): bytes(key_id) for user, key_id in
                    self._connection.execute("SELECT user_key, key_id FROM data_keys")}

    def close(self) -> None:
        with self._lock:
            self._connection.close()


def _select_many(connection: sqlite3.Connection,
                 user_keys: list[str]) -> dict[str, tuple[bytes, bytes]]:
    rows: dict[str, tuple[bytes, bytes]] = {}
    for start in range(0, len(user_keys), 500):
        chunk = user_keys[start:start + 500]
        marks = ", ".join("?" for _ in chunk)
        for user, key_id, wrapped in connection.execute(
                f"SELECT user_key, key_id, wrapped FROM data_keys WHERE user_key IN ({marks})",
                chunk):
            rows[str(user)] = (bytes(key_id), bytes(wrapped))
    return rows


def _truncate_wal(connection: sqlite3.Connection, path: Path) -> None:
    """Empty the WAL, so no old page (a destroyed key's) stays in it."""
    if not wal_emptied(connection):
        raise RuntimeError(f"could not checkpoint {path}: readers stayed busy")
