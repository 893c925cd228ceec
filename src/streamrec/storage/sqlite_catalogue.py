"""The embedded catalogue: items in a SQLite table, attributes as JSON.

A write the storage refuses (a full disk, a read-only data dir) raises ``Unavailable``; after
a read-only refusal the connection is opened again before the next write, so writes resume
once the data dir is writable (see ``storage/sqlite_log.py``). A file SQLite finds damaged
raises ``Damaged`` naming it (storage/integrity.py)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from streamrec.storage.failures import is_read_only, storage_unavailable
from streamrec.storage.integrity import damaged, is_damage
from streamrec.types import Item

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    item_id    TEXT PRIMARY KEY,
    attributes BLOB NOT NULL,
    text       TEXT NOT NULL,
    available  INTEGER NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS unlogged (item_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# in ``meta`` once every item not in ``unlogged`` is known to be in the log as stored here:
# from a catalogue's creation, or after a start compared every item's version with the log's
_TRACKED = "unlogged_tracked"
_UPSERT = (
    "INSERT INTO items(item_id, attributes, text, available, updated_at) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT(item_id) DO UPDATE SET attributes=excluded.attributes, text=excluded.text,"
    " available=excluded.available, updated_at=excluded.updated_at"
)


def _to_item(row: tuple[Any, ...]) -> Item:
    item_id, attributes, text, available, updated_at = row
    return Item(item_id, orjson.loads(attributes), text, bool(available), float(updated_at))


class SQLiteCatalogue:
    def __init__(self, path: str) -> None:
        self._path = path
        self._connection = self._connect()
        tables = {str(row[0]) for row in self._connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        self._connection.executescript(_SCHEMA)
        if "items" not in tables:  # a new catalogue: every item's logging is tracked
            self._connection.execute("INSERT OR IGNORE INTO meta VALUES (?, '1')", (_TRACKED,))
        self._lock = threading.Lock()  # one connection, shared by request threads
        self._reconnect_before_writing = False  # a write was refused as read-only
        # the last upsert's ids and the rowids its marks took (after, up to): marking those
        # logged deletes one range. A delete per id took 6 s of a 200k-item upsert's 12 s
        self._last_marks: tuple[list[str], int, int] | None = None

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        if self._path != ":memory:":
            connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        return connection

    def upsert(self, items: Iterable[Item], logged: bool = False) -> int:
        """Store ``items``; unless ``logged`` (they came from the log), each stays
        ``unlogged`` until ``mark_logged``."""
        rows = [
            (i.item_id, orjson.dumps(dict(i.attributes)), i.text, int(i.is_available),
             i.updated_at)
            for i in items
        ]
        with self._writing("the catalogue could not store items") as connection:
            connection.executemany(_UPSERT, rows)
            marks = None
            if not logged:
                after = connection.execute(
                    "SELECT coalesce(max(rowid), 0) FROM unlogged").fetchone()[0]
                connection.executemany(
                    "INSERT OR IGNORE INTO unlogged VALUES (?)", ((r[0],) for r in rows))
                upto = connection.execute("SELECT last_insert_rowid()").fetchone()[0]
                marks = ([str(r[0]) for r in rows], int(after), int(upto))
        if marks is not None:  # committed; items from the log leave the last marks alone
            self._last_marks = marks
        return len(rows)

    @contextmanager
    def _writing(self, what: str) -> Iterator[sqlite3.Connection]:
        """One write transaction, under the lock: committed if the body returns, rolled back
        if it raises. A refusal of the storage raises ``Unavailable`` (``what`` and why), a
        damaged file ``Damaged``; after a read-only refusal the connection is opened again
        before the next write."""
        with self._lock:
            try:
                if self._reconnect_before_writing:
                    self._connection.close()
                    self._connection = self._connect()
                    self._reconnect_before_writing = False
                connection = self._connection
                connection.execute("BEGIN IMMEDIATE")
                try:
                    yield connection
                    connection.execute("COMMIT")
                except BaseException:
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
                    raise
            except sqlite3.DatabaseError as error:  # the storage refused, e.g. read-only
                if is_damage(error):
                    raise damaged(Path(self._path), error) from error
                self._reconnect_before_writing |= is_read_only(error)
                raise storage_unavailable(what, error) from error

    def get(self, item_id: str) -> Item | None:
        with self._lock, self._naming_damage():
            row = self._connection.execute(
                "SELECT item_id, attributes, text, available, updated_at FROM items"
                " WHERE item_id = ?",
                (item_id,),
            ).fetchone()
        return None if row is None else _to_item(row)

    def scan(self) -> Iterator[Item]:
        for rows in self._pages("item_id, attributes, text, available, updated_at", 1000):
            yield from (_to_item(row) for row in rows)

    def versions(self) -> Iterator[tuple[str, float]]:
        """Each item's id and ``updated_at``, nothing parsed (a start compares them with the
        log's: ``scan`` spent most of its time on the attributes' JSON)."""
        for rows in self._pages("item_id, updated_at", 10000):
            yield from ((str(item_id), float(updated_at)) for item_id, updated_at in rows)

    def _pages(self, columns: str, size: int) -> Iterator[list[tuple[Any, ...]]]:
        """Every item's ``columns`` (the id first), ``size`` rows at a time in id order, the
        lock held for one page at a time."""
        after = ""
        while True:
            with self._lock, self._naming_damage():
                rows = self._connection.execute(
                    f"SELECT {columns} FROM items WHERE item_id > ? ORDER BY item_id LIMIT ?",
                    (after, size)).fetchall()
            if not rows:
                return
            yield rows
            after = rows[-1][0]

    @contextmanager
    def _naming_damage(self) -> Iterator[None]:
        """A read that finds the file damaged says which file, as ``Damaged`` (503)."""
        try:
            yield
        except sqlite3.DatabaseError as error:
            if is_damage(error):
                raise damaged(Path(self._path), error) from error
            raise

    def unlogged(self) -> list[Item] | None:
        """The items stored and perhaps not logged (a crash, or a log that refused them,
        between the two writes); None: not known (a catalogue from before this was kept),
        so every item's version must be compared with the log's."""
        with self._lock, self._naming_damage():
            if self._connection.execute("SELECT 1 FROM meta WHERE key = ?",
                                        (_TRACKED,)).fetchone() is None:
                return None
            rows = self._connection.execute(
                "SELECT item_id, attributes, text, available, updated_at FROM items"
                " WHERE item_id IN (SELECT item_id FROM unlogged) ORDER BY item_id").fetchall()
        return [_to_item(row) for row in rows]

    def mark_logged(self, item_ids: Iterable[str] | None) -> None:
        """These items are in the log as stored here; None: every item is, and from now on
        ``unlogged`` knows which may not be."""
        with self._writing("the catalogue could not mark items logged") as connection:
            if item_ids is None:
                connection.execute("DELETE FROM unlogged")
                connection.execute("INSERT OR IGNORE INTO meta VALUES (?, '1')", (_TRACKED,))
            else:
                ids = list(item_ids)
                marks = self._last_marks
                if marks is not None and marks[0] == ids:  # the last upsert's: one range
                    connection.execute("DELETE FROM unlogged WHERE rowid > ? AND rowid <= ?",
                                       marks[1:])
                else:
                    connection.execute("DELETE FROM unlogged WHERE item_id IN"
                                       " (SELECT value FROM json_each(?))", (orjson.dumps(ids),))
        self._last_marks = None

    def count(self) -> int:
        with self._lock, self._naming_damage():
            return int(self._connection.execute("SELECT count(*) FROM items").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._connection.close()
