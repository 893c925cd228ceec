"""The lists shown in each variant, and to how many users.

A read only counts, in memory (a dict increment under a lock); a thread writes the counts
every ``flush_s`` seconds (and ``flush`` on demand: before a report, at close) to a store:
one count per experiment and user, with the user's variant. Showing a list changes nothing
the engine learns, so it is not in the event log: a crash loses at most the last ``flush_s``
of counts. The counts name users by the key the log stores them under (a pseudonym when a
secret is set), and erasing a user deletes theirs (``forget_user``), as it deletes their
events, whose feedback the variant's rates count.

The store is ``<data_dir>/experiments.db`` (``SqliteCounts``); replicas sharing Redis
(``--redis``) count in Redis (``storage/redis_shared.py``), so each one's report covers the
lists every replica showed, as the feedback counts cover the shared log.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from streamrec.errors import Unavailable

log = logging.getLogger(__name__)

# (experiment, user key, variant, lists shown, when first shown)
Row = tuple[str, str, str, int, float]


class Counts(Protocol):
    def add(self, rows: Sequence[Row]) -> None:
        """Add the lists of each row to the user's count; raises ``Unavailable``."""
        ...

    def totals(self, experiment: str) -> dict[str, tuple[int, int]]:
        """Per variant: (users shown a list, lists shown)."""
        ...

    def assignments(self, experiment: str) -> dict[str, str]:
        """User key -> the variant they were shown lists in."""
        ...

    def forget_user(self, user_key: str) -> int:
        ...

    def close(self) -> None: ...


@dataclass(slots=True)
class _Pending:
    variant: str
    lists: int
    first_at: float


class Exposures:
    def __init__(self, counts: Counts, flush_s: float = 1.0) -> None:
        self.counts = counts
        self._pending: dict[tuple[str, str], _Pending] = {}  # (experiment, user) ->
        self._lock = threading.Lock()  # the pending counts
        self._writing = threading.Lock()  # one flush at a time
        self._flush_s = flush_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def record(self, experiment: str, variant: str, user_key: str) -> None:
        """One list shown to ``user_key`` in ``variant``: cheap, in memory."""
        with self._lock:
            entry = self._pending.get((experiment, user_key))
            if entry is None:
                self._pending[(experiment, user_key)] = _Pending(variant, 1, time.time())
            else:
                entry.lists += 1

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="exposures", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._flush_s):
            try:
                self.flush()
            except Unavailable as error:  # kept in memory, written at the next try
                log.warning("%s", error)

    def flush(self) -> None:
        """Write the counts made in memory; raises ``Unavailable`` (keeping them) when the
        store refuses."""
        with self._writing:
            with self._lock:
                pending, self._pending = self._pending, {}
            if not pending:
                return
            try:
                self.counts.add([(experiment, user, v.variant, v.lists, v.first_at)
                                 for (experiment, user), v in pending.items()])
            except Unavailable:
                with self._lock:  # back, added to what came meanwhile
                    for key, value in pending.items():
                        now = self._pending.setdefault(key, _Pending(value.variant, 0,
                                                                     value.first_at))
                        now.lists += value.lists
                raise

    def totals(self, experiment: str) -> dict[str, tuple[int, int]]:
        """Per variant: (users shown a list, lists shown), pending counts written first."""
        self.flush()
        return self.counts.totals(experiment)

    def assignments(self, experiment: str) -> dict[str, str]:
        """User key -> the variant they were shown lists in."""
        self.flush()
        return self.counts.assignments(experiment)

    def forget_user(self, user_key: str) -> int:
        """Delete every count of ``user_key``; returns how many (pending ones included)."""
        with self._lock:
            gone = [key for key in self._pending if key[1] == user_key]
            for key in gone:
                del self._pending[key]
        return len(gone) + self.counts.forget_user(user_key)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            self.flush()
        except Unavailable as error:
            log.error("%s: the last %.0f s of exposure counts are lost", error, self._flush_s)
        self.counts.close()


_SCHEMA = """
CREATE TABLE IF NOT EXISTS exposures (
    experiment TEXT NOT NULL,
    user_key TEXT NOT NULL,
    variant TEXT NOT NULL,
    lists INTEGER NOT NULL,
    first_at REAL NOT NULL,
    PRIMARY KEY (experiment, user_key)
) WITHOUT ROWID;
"""
_UPSERT = ("INSERT INTO exposures (experiment, user_key, variant, lists, first_at) "
           "VALUES (?, ?, ?, ?, ?) ON CONFLICT (experiment, user_key) "
           "DO UPDATE SET lists = lists + excluded.lists")


class SqliteCounts:
    """``experiments.db``: one row per experiment and user, opened at the first write."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(str(self._path), isolation_level=None,
                                         check_same_thread=False, timeout=10.0)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.executescript(_SCHEMA)
            self._connection = connection
        return self._connection

    def add(self, rows: Sequence[Row]) -> None:
        with self._lock:
            try:
                connection = self._connect()
                with connection:
                    connection.execute("BEGIN")
                    connection.executemany(_UPSERT, rows)
            except sqlite3.Error as error:
                raise Unavailable(f"experiments.db could not store exposures: {error}"
                                  ) from error

    def totals(self, experiment: str) -> dict[str, tuple[int, int]]:
        with self._lock:
            rows = self._connect().execute(
                "SELECT variant, COUNT(*), SUM(lists) FROM exposures WHERE experiment = ? "
                "GROUP BY variant", (experiment,)).fetchall()
        return {str(variant): (int(users), int(lists)) for variant, users, lists in rows}

    def assignments(self, experiment: str) -> dict[str, str]:
        with self._lock:
            rows = self._connect().execute(
                "SELECT user_key, variant FROM exposures WHERE experiment = ?",
                (experiment,)).fetchall()
        return {str(user): str(variant) for user, variant in rows}

    def forget_user(self, user_key: str) -> int:
        with self._lock:
            return int(self._connect().execute(
                "DELETE FROM exposures WHERE user_key = ?", (user_key,)).rowcount)

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
