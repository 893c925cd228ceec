"""The embedded catalogue: items in a SQLite table, attributes as JSON."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from streamrec.types import Item

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    item_id    TEXT PRIMARY KEY,
    attributes BLOB NOT NULL,
    text       TEXT NOT NULL,
    available  INTEGER NOT NULL,
    updated_at REAL NOT NULL
);
"""
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
        self._connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        if path != ":memory:":
            self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=FULL")
        self._connection.executescript(_SCHEMA)
        self._lock = threading.Lock()  # one connection, shared by request threads

    def upsert(self, items: Iterable[Item]) -> int:
        rows = [
            (i.item_id, orjson.dumps(dict(i.attributes)), i.text, int(i.is_available),
             i.updated_at)
            for i in items
        ]
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                self._connection.executemany(_UPSERT, rows)
                self._connection.execute("COMMIT")
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
        return len(rows)

    def get(self, item_id: str) -> Item | None:
        with self._lock:
            row = self._connection.execute(
                "SELECT item_id, attributes, text, available, updated_at FROM items"
                " WHERE item_id = ?",
                (item_id,),
            ).fetchone()
        return None if row is None else _to_item(row)

    def scan(self) -> Iterator[Item]:
        after = ""
        while True:
            with self._lock:
                rows = self._connection.execute(
                    "SELECT item_id, attributes, text, available, updated_at FROM items"
                    " WHERE item_id > ? ORDER BY item_id LIMIT 1000",
                    (after,),
                ).fetchall()
            if not rows:
                return
            yield from (_to_item(row) for row in rows)
            after = rows[-1][0]

    def count(self) -> int:
        with self._lock:
            return int(self._connection.execute("SELECT count(*) FROM items").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._connection.close()
