"""The embedded event log: one SQLite file in WAL mode, written by one thread with group commit.

Callers of ``append`` hand their events to the writer thread and wait. The writer takes
everything queued since its last commit, stores it in one transaction and commits once, so
a single fsync covers every caller waiting in that window: durability without paying an fsync
per request. A caller is released only after the commit that holds its events returned.

The queue is bounded by events, not requests: while more than ``max_queued_events`` wait for
the writer (a slow or stalled disk), ``append`` refuses with ``Unavailable`` instead of letting
memory grow; nothing of a refused call is stored.

A write the storage refuses (a full disk, a read-only data dir) is refused to every caller of
that commit with ``Unavailable`` and rolled back. Once SQLite has called the file read-only
the connections stay so (they opened it, and its shared memory, read-only), so the next write
closes every connection and opens them again: writes resume as soon as the data dir is
writable again, without a restart.

Deduplication by ``event_id`` is over a window of the newest accepted ids (storage/dedup.py),
the same rule as the Kafka log's, held in memory and read back from the newest rows at open:
no index over the stored ids, whose keyed tags are random and would make every insert dirty
another B-tree page. A log created before the window keeps its UNIQUE index, and with it
the look-up of every id it ever stored.

With a cipher (storage/codec.py) every user's entries are sealed with their data key; offsets
are assigned here, in the writer, so that each sealed entry is bound to its own. Erasing a
user destroys the key, then deletes the rows (``secure_delete``: their bytes are zeroed) and
empties the WAL; plain rows from before encryption are scrubbed with a VACUUM as well.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from streamrec.errors import Damaged, InvalidInput, Unavailable
from streamrec.storage.codec import (
    ERASE_TYPE,
    EntryCipher,
    PendingEntry,
    encode,
    logged_entry,
    logged_of,
    sealed_rows,
)
from streamrec.storage.dedup import DEFAULT_DEDUP_WINDOW, DedupWindow
from streamrec.storage.failures import is_read_only, storage_unavailable
from streamrec.storage.integrity import damaged, is_damage, wal_emptied
from streamrec.storage.keystore import KEY_ID_BYTES
from streamrec.types import Appended, Event, LoggedEvent

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    log_offset INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id   TEXT,
    user_id    TEXT NOT NULL,
    item_id    TEXT NOT NULL,
    type       TEXT NOT NULL,
    value      REAL,
    timestamp  REAL NOT NULL,
    context    BLOB,
    sealed     BLOB
);
CREATE INDEX IF NOT EXISTS events_by_user ON events(user_id);
"""
_TAIL_KEPT = 20_000  # committed entries kept in memory for readers at the head
_LOOKUP_CHUNK = 500  # ids per duplicate look-up (SQLite allows 32,766 parameters)
_INSERT = (
    "INSERT INTO events(log_offset, event_id, user_id, item_id, type, value, timestamp,"
    " context, sealed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# a sealed row: its offset, tag, user key and blob; the rest is blank (storage/codec.py),
# written here rather than bound for every row (five parameters fewer an event)
_INSERT_SEALED = (
    "INSERT INTO events(log_offset, event_id, user_id, item_id, type, value, timestamp,"
    " context, sealed) VALUES (?, ?, ?, '', '', NULL, 0.0, NULL, ?)"
)
_SELECT = (
    "SELECT log_offset, event_id, user_id, item_id, type, value, timestamp, context, sealed"
    " FROM events WHERE log_offset > ? ORDER BY log_offset LIMIT ?"
)
_SELECT_USER = (
    "SELECT log_offset, event_id, user_id, item_id, type, value, timestamp, context, sealed"
    " FROM events WHERE user_id = ? AND log_offset > ? ORDER BY log_offset DESC LIMIT ?"
)
_SELECT_ITEM = "SELECT timestamp, type FROM events WHERE item_id = ? AND log_offset > ?"
_SYNCHRONOUS = {"full": "FULL", "normal": "NORMAL", "off": "OFF"}


@dataclass
class _Request:
    events: Sequence[Event]
    done: threading.Event = field(default_factory=threading.Event)
    result: Appended | None = None
    error: BaseException | None = None


def _count_rows(connection: sqlite3.Connection) -> int:
    return int(connection.execute("SELECT count(*) FROM events").fetchone()[0])


def connect(path: Path | str, synchronous: str = "full") -> sqlite3.Connection:
    connection = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"PRAGMA synchronous={_SYNCHRONOUS[synchronous]}")
    connection.execute("PRAGMA busy_timeout=10000")
    return connection


class SQLiteEventLog:
    def __init__(self, path: Path, *, synchronous: str = "full",
                 max_queued_events: int = 200_000, cipher: EntryCipher | None = None,
                 dedup_window: int = DEFAULT_DEDUP_WINDOW) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._synchronous = synchronous
        self.cipher = cipher  # None: entries stored plain (tests of the plain format)
        self._writer = connect(path, synchronous)
        self._writer.executescript(_SCHEMA)
        _add_sealed_column(self._writer)
        # the writer connection, and reconnecting: the writer thread and delete_user
        self._write_lock = threading.Lock()
        self._reconnect_before_writing = False  # a write was refused as read-only
        # readers are lent out per read and returned; a reconnect closes them all
        self._readers_lock = threading.Lock()
        self._idle_readers: list[sqlite3.Connection] = []
        self._generation = 0
        self._last_offset = int(self._writer.execute(
            "SELECT coalesce(max(log_offset), 0) FROM events").fetchone()[0])
        # offsets are never reused, not even those of erased rows at the end of the log
        sequence = self._writer.execute(
            "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'events'").fetchone()
        self._next_offset = max(self._last_offset, int(sequence[0])) + 1
        # plain rows with event ids (from before encryption): a re-sent one is looked up by
        # its id as well as by its tag; a log without any looks up tags alone. Found by the
        # start's thread (a log without such rows is scanned whole: 0.9 s at 10M rows, on
        # every restart's path before); until then, both are looked up
        self._plain_ids = True
        # a log from before the window looks ids up in its UNIQUE index (None); else the
        # window, rebuilt from the newest rows
        self.dedup_window = dedup_window
        # the rows' count and the window are read in a thread of their own, beside the
        # snapshot's restore (the count scans an index: 1.5 s at 10M rows; 1M ids of the
        # window ~2 s): most of a restart's log opening. Writes, erasures and ``count`` wait
        # for them.
        self._count = 0
        self._window: DedupWindow | None = None
        self._count_error: BaseException | None = None
        self._window_error: BaseException | None = None
        self._started = threading.Event()
        self._starter = threading.Thread(target=self._read_at_start,
                                         args=(not _ids_indexed(self._writer),),
                                         name="event-log-start", daemon=True)
        self._starter.start()
        self._new_data = threading.Condition()
        # the entries of the last commits, in offset order, for readers at the head (the
        # learner): served from memory, neither read back from SQLite nor opened again. It
        # holds every stored entry after ``_tail_after`` (guarded by ``_new_data``).
        self._tail_after = self._last_offset
        self._tail_offsets: list[int] = []
        self._tail_entries: list[PendingEntry] = []
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self.max_queued_events = max_queued_events
        self._queued_events = 0  # handed to the writer and not yet committed or refused
        self._queued_lock = threading.Lock()
        self._closed = False
        self._damage: Damaged | None = None  # SQLite found the file damaged: writes refused
        self._thread = threading.Thread(target=self._write_loop, name="event-log-writer")
        self._thread.daemon = True
        self._thread.start()

    # -- writing -------------------------------------------------------------------------
    def append(self, events: Sequence[Event]) -> Appended:
        if self._closed:
            raise Unavailable("the event log is closed")
        if self._damage is not None:  # never write into a damaged file
            raise self._damage
        if not events:
            return Appended((), 0, self._last_offset)
        request = _Request(events)
        with self._queued_lock:
            if self._queued_events + len(events) > self.max_queued_events:
                raise Unavailable(
                    f"the event log is behind: {self._queued_events} events are waiting to be "
                    f"written (limit {self.max_queued_events}); retry later")
            self._queued_events += len(events)
        try:
            self._queue.put(request)
            request.done.wait()
        finally:
            with self._queued_lock:
                self._queued_events -= len(events)
        if request.error is not None:
            raise request.error
        assert request.result is not None
        return request.result

    def _write_loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            # everything that queued up while we were committing shares this transaction
            while True:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                group.append(more)
            self._commit(group)

    def _commit(self, group: list[_Request]) -> None:
        # encode first: a request that cannot be stored is refused alone, before the
        # transaction, and never takes the writer thread (and every later caller) down with it
        encoded: list[tuple[_Request, list[PendingEntry]]] = []
        for request in group:
            try:
                encoded.append((request, [encode(e, self.cipher) for e in request.events]))
            except (TypeError, ValueError) as error:
                request.error = InvalidInput("events", f"an event cannot be stored: {error}")
                request.done.set()
        group = [request for request, _ in encoded]
        if not group:
            return
        with self._write_lock:
            self._commit_encoded(group, encoded)

    def _commit_encoded(self, group: list[_Request],
                        encoded: list[tuple[_Request, list[PendingEntry]]]) -> None:
        results: list[Appended] = []
        next_offset = self._next_offset
        try:
            self._reconnect_if_read_only()
            # each user's key exists, durably, before anything sealed with it is
            keys = {} if self.cipher is None else self.cipher.prepare(
                {entry.user_id for _, entries in encoded for entry in entries
                 if entry.payload is not None})
            cursor = self._writer.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            window = self._loaded_window()
            known_ids = set() if window is not None else self._stored_ids(cursor, encoded)
            seen: set[str] = set()  # event ids stored by this transaction
            placed: list[tuple[PendingEntry, int]] = []
            for request, entries in encoded:
                offsets: list[int] = []
                for entry in entries:
                    if self._is_duplicate(entry, known_ids, seen):
                        continue
                    placed.append((entry, next_offset))
                    offsets.append(next_offset)
                    next_offset += 1
                last = offsets[-1] if offsets else self._last_offset
                results.append(Appended(tuple(offsets), len(request.events) - len(offsets), last))
            sealed = sealed_rows(placed, self.cipher, keys)
            if sealed:
                cursor.executemany(_INSERT_SEALED, sealed)
            if len(sealed) < len(placed):
                cursor.executemany(_INSERT, [(offset, *entry.plain) for entry, offset in placed
                                             if entry.plain is not None])
            cursor.execute("COMMIT")
        except Exception as error:  # refused, not lost: every waiting caller is told
            log.error("event log commit failed: %s", error)
            self._roll_back()
            self._reconnect_before_writing |= is_read_only(error)
            failure = self._failure("the event log could not store events", error)
            for request in group:
                request.error = failure
                request.done.set()
            return
        self._next_offset = next_offset
        if window is not None:  # what was committed, never what was rolled back
            window.add_many([(entry.tag, entry.user_id) for entry, _ in placed
                             if entry.tag is not None], looked_up=True)  # _is_duplicate
        stored = sum(r.accepted for r in results)
        if self.cipher is not None and any(entry.plain is not None and entry.plain[3] ==
                                           ERASE_TYPE for entry, _ in placed):
            self.cipher.forget_cached()  # as a reader meeting the erasure would
        with self._new_data:
            self._count += stored
            self._remember_tail(placed)
            if stored:
                self._last_offset = max(r.last_offset for r in results)
            self._new_data.notify_all()
        for request, result in zip(group, results, strict=True):
            # a request of only duplicates reports the log's head, never an older offset
            request.result = result if result.offsets else Appended((), result.duplicates,
                                                                     self._last_offset)
            request.done.set()

    def _remember_tail(self, placed: list[tuple[PendingEntry, int]]) -> None:
        """Keep the committed entries for readers at the head; the oldest half goes past the
        bound (called holding ``_new_data``, before the head moves)."""
        self._tail_offsets += [offset for _, offset in placed]
        self._tail_entries += [entry for entry, _ in placed]
        if len(self._tail_offsets) > _TAIL_KEPT:
            cut = len(self._tail_offsets) - _TAIL_KEPT // 2
            self._tail_after = self._tail_offsets[cut - 1]
            del self._tail_offsets[:cut], self._tail_entries[:cut]

    def _forget_tail(self) -> None:
        """Rows were deleted: readers go back to the file for everything stored so far."""
        with self._new_data:
            self._tail_after = self._last_offset
            self._tail_offsets, self._tail_entries = [], []

    def _read_tail(self, after: int, limit: int) -> list[LoggedEvent] | None:
        """Entries after ``after`` from memory; None when the tail does not hold them all."""
        with self._new_data:
            if after < self._tail_after:
                return None
            start = bisect_right(self._tail_offsets, after)
            offsets = self._tail_offsets[start:start + limit]
            entries = self._tail_entries[start:start + limit]
        return [logged_entry(entry, offset) for entry, offset in zip(entries, offsets,
                                                                      strict=True)]

    def _dedup_keys(self, entry: PendingEntry) -> tuple[str, ...]:
        """The stored ids an earlier copy of ``entry`` may have: a sealed entry stores its
        id's tag, a plain row from before encryption the id itself (a log without such rows
        looks up the tag alone)."""
        if entry.event_id is None:
            return ()
        return entry.dedup_keys() if self._plain_ids or entry.tag is None else (entry.tag,)

    def _stored_ids(self, cursor: sqlite3.Cursor,
                    encoded: list[tuple[_Request, list[PendingEntry]]]) -> set[str]:
        """Which of the group's ids the log holds already: looked up in the transaction,
        before inserting (an insert refused by the UNIQUE index would end it), a few hundred
        ids a query rather than one query an event."""
        wanted = list({key for _, entries in encoded for entry in entries
                       for key in self._dedup_keys(entry)})
        found: set[str] = set()
        for start in range(0, len(wanted), _LOOKUP_CHUNK):
            chunk = wanted[start:start + _LOOKUP_CHUNK]
            found.update(str(row[0]) for row in cursor.execute(
                f"SELECT event_id FROM events WHERE event_id IN ({', '.join('?' * len(chunk))})",
                chunk))
        return found

    def _is_duplicate(self, entry: PendingEntry, stored: set[str], seen: set[str]) -> bool:
        """A copy of an event the log held before this transaction, or of one earlier in it."""
        event_id = entry.event_id
        if event_id is None:
            return False
        known = stored if self._window is None else self._window
        if event_id in seen:
            return True
        if self._plain_ids or entry.tag is None:
            if any(key in known for key in self._dedup_keys(entry)):
                return True
        elif entry.tag in known:  # _dedup_keys' one key: a sealed entry's tag
            return True
        seen.add(event_id)
        return False

    def _failure(self, what: str, error: BaseException) -> Unavailable:
        """What callers are told; a damaged file is named, and refuses every later write."""
        if is_damage(error):
            self._damage = damaged(self.path, error)
            return self._damage
        return storage_unavailable(what, error)

    def _roll_back(self) -> None:
        try:
            if self._writer.in_transaction:
                self._writer.execute("ROLLBACK")
        except sqlite3.Error as error:  # e.g. the writer closed by a failed reconnect
            log.warning("event log rollback failed: %s", error)

    def _reconnect_if_read_only(self) -> None:
        """After a read-only refusal: close every connection (SQLite shares the file's
        read-only state between the connections of a process while any stays open) and open
        the writer again, which is read-write once the file and its directory are."""
        if not self._reconnect_before_writing:
            return
        with self._readers_lock:
            self._generation += 1  # readers out on loan are closed when they come back
            idle, self._idle_readers = self._idle_readers, []
        for connection in idle:
            connection.close()
        if self.cipher is not None:
            self.cipher.close()
        self._writer.close()
        self._writer = connect(self.path, self._synchronous)
        self._reconnect_before_writing = False
        log.info("event log reopened after a read-only refusal")

    # -- reading -------------------------------------------------------------------------
    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        with self._readers_lock:
            generation = self._generation
            connection = self._idle_readers.pop() if self._idle_readers else None
        if connection is None:
            connection = connect(self.path, self._synchronous)
        try:
            yield connection
        finally:
            with self._readers_lock:
                keep = generation == self._generation and not self._closed
                if keep:
                    self._idle_readers.append(connection)
            if not keep:
                connection.close()

    def read(self, after: int, limit: int) -> list[LoggedEvent]:
        """Erased entries (their key destroyed, rows not yet removed: a restored backup) are
        left out; the read goes on past them until ``limit`` events or the end."""
        from_memory = self._read_tail(after, limit)
        if from_memory is not None:
            return from_memory
        logged: list[LoggedEvent] = []
        with self._reader() as reader:
            while len(logged) < limit:
                rows = reader.execute(_SELECT, (after, limit - len(logged))).fetchall()
                if not rows:
                    break
                logged.extend(logged_of(rows, self.cipher, str(self.path)))
                after = int(rows[-1][0])
        return logged

    def user_events(self, user_id: str, after: int, limit: int) -> list[LoggedEvent]:
        """The user's newest ``limit`` entries after offset ``after``, newest first (by the
        user index: no scan; erased ones left out)."""
        with self._reader() as reader:
            rows = reader.execute(_SELECT_USER, (user_id, after, limit)).fetchall()
        return logged_of(rows, self.cipher, str(self.path))

    def item_events(self, item_id: str, after: int) -> list[tuple[float, str]]:
        """(timestamp, type) of the item's entries after offset ``after``. A plain log asks
        SQLite; sealed entries keep their item unreadable in the file, so each is opened:
        a read of that range (encryption at rest costs this look-up its index)."""
        if self.cipher is None:
            with self._reader() as reader:
                return [(float(t), str(k)) for t, k in reader.execute(_SELECT_ITEM,
                                                                       (item_id, after))]
        found: list[tuple[float, str]] = []
        while batch := self.read(after, 10_000):
            found += [(e.event.timestamp, e.event.type) for e in batch
                      if e.event.item_id == item_id]
            after = batch[-1].offset
        return found

    @property
    def dedup_ids(self) -> DedupWindow | None:
        """The ids a re-sent event is compared with (storage/dedup.py); None: a log from
        before the window, whose UNIQUE index finds them."""
        return self._loaded_window()

    def _read_at_start(self, window: bool) -> None:
        """Whether plain rows have ids, the rows' count, then the window (if this log has
        one); an error is raised where what it concerns is asked for: ``count``, or the first
        write (never stored without the window that finds its duplicates)."""
        try:
            connection = connect(self.path, self._synchronous)
            try:
                self._plain_ids = _has_plain_ids(connection)
                self._count = _count_rows(connection)
                if window:
                    try:
                        self._window = _window_of(connection, self.dedup_window)
                    except BaseException as error:  # the count stands
                        self._window_error = error
            finally:
                connection.close()
        except BaseException as error:  # no count, and so no window either
            self._count_error = self._window_error = error
        finally:
            self._started.set()

    def _loaded_window(self) -> DedupWindow | None:
        """The dedup window once read (None: a log whose UNIQUE index finds ids)."""
        self._started.wait()
        if self._window_error is not None:
            raise Unavailable(f"the event log could not read its newest event ids: "
                              f"{self._window_error}") from self._window_error
        return self._window

    def last_offset(self) -> int:
        return self._last_offset

    def count(self) -> int:
        self._started.wait()  # counted at start, beside the snapshot's restore
        if self._count_error is not None:
            raise Unavailable(f"the event log could not count its rows: "
                              f"{self._count_error}") from self._count_error
        return self._count

    def wait_for(self, after: int, timeout_s: float) -> bool:
        with self._new_data:
            return self._new_data.wait_for(lambda: self._last_offset > after, timeout_s)

    def delete_user(self, user_id: str) -> int:
        """Erase a user: their data key destroyed first (every copy of their sealed entries
        is unreadable from then on), then their rows deleted with their bytes zeroed and the
        WAL emptied; plain rows from before encryption need a VACUUM too. Returns how many
        entries were erased."""
        window = self._loaded_window()  # before anything is erased: it may refuse
        with self._write_lock:  # no commit adds to the tail until the rows are gone
            self._forget_tail()
            try:
                self._reconnect_if_read_only()
                connection = connect(self.path, self._synchronous)
                try:
                    connection.execute("PRAGMA secure_delete=ON")
                    plain = int(connection.execute(
                        "SELECT count(*) FROM events WHERE user_id = ? AND sealed IS NULL",
                        (user_id,)).fetchone()[0])
                    if self.cipher is not None:
                        self.cipher.erase(user_id)
                    cursor = connection.execute("DELETE FROM events WHERE user_id = ?",
                                                (user_id,))
                    removed = int(cursor.rowcount)
                    if window is not None:  # erased events are gone: ids may come again
                        window.forget_owner(user_id)
                    if plain or self.cipher is None:
                        connection.execute("VACUUM")
                    _truncate_wal(connection, self.path)  # also when a retry removes none
                finally:
                    connection.close()
            except sqlite3.Error as error:
                self._reconnect_before_writing |= is_read_only(error)
                raise self._failure("the event log could not delete events", error) from error
        with self._new_data:
            self._count -= removed
        return removed

    def purge_erased(self) -> int:
        """Delete the rows of users whose keys were destroyed (a backup of the log restored
        beside the current key store): unreadable already, now gone from the file too.
        Scans the whole log; returns how many rows."""
        if self.cipher is None:
            return 0
        cipher = self.cipher
        indexed = self._loaded_window() is None  # before anything is deleted: it may refuse
        with self._write_lock:
            self._forget_tail()
            try:
                connection = connect(self.path, self._synchronous)
                try:
                    connection.execute("PRAGMA secure_delete=ON")
                    pairs = connection.execute(
                        f"SELECT DISTINCT user_id, substr(sealed, 2, {KEY_ID_BYTES}) FROM events"
                        " WHERE sealed IS NOT NULL").fetchall()
                    removed = 0
                    for user, key_id in pairs:
                        if cipher.is_erased(str(user), bytes(key_id)):
                            removed += int(connection.execute(
                                "DELETE FROM events WHERE user_id = ? AND sealed IS NOT NULL"
                                f" AND substr(sealed, 2, {KEY_ID_BYTES}) = ?",
                                (user, key_id)).rowcount)
                    if removed:
                        _truncate_wal(connection, self.path)
                        if not indexed:  # the ids left are those of the rows left
                            self._window = _window_of(connection, self.dedup_window)
                finally:
                    connection.close()
            except sqlite3.Error as error:
                raise self._failure("the event log could not delete events", error) from error
        with self._new_data:
            self._count -= removed
        return removed

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()
        self._starter.join()
        self._writer.close()
        with self._readers_lock:
            idle, self._idle_readers = self._idle_readers, []
        for connection in idle:
            connection.close()
        if self.cipher is not None:
            self.cipher.close()


def _add_sealed_column(connection: sqlite3.Connection) -> None:
    """A log from before encryption gets the column (its rows stay plain and readable)."""
    columns = {row[1] for row in connection.execute("PRAGMA table_info(events)")}
    if "sealed" not in columns:
        connection.execute("ALTER TABLE events ADD COLUMN sealed BLOB")
        log.info("event log: new entries will be sealed per user; older rows stay plain")


def _has_plain_ids(connection: sqlite3.Connection) -> bool:
    """Whether the log holds plain rows with event ids (written before encryption)."""
    return connection.execute(
        "SELECT 1 FROM events WHERE sealed IS NULL AND event_id IS NOT NULL LIMIT 1"
    ).fetchone() is not None


def _ids_indexed(connection: sqlite3.Connection) -> bool:
    """Whether the log's ids have a UNIQUE index (a log created before the window)."""
    for _, name, unique, *_ in connection.execute("PRAGMA index_list(events)"):
        columns = [row[2] for row in connection.execute(f"PRAGMA index_info('{name}')")]
        if unique and columns == ["event_id"]:
            return True
    return False


def _window_of(connection: sqlite3.Connection, size: int) -> DedupWindow:
    """The window as the log's newest ``size`` stored ids make it, oldest first."""
    window = DedupWindow(size)
    rows = connection.execute(
        "SELECT event_id, user_id FROM events WHERE event_id IS NOT NULL"
        " ORDER BY log_offset DESC LIMIT ?", (size,)).fetchall()
    window.extend(reversed(rows))  # TEXT columns: str already
    return window


def _truncate_wal(connection: sqlite3.Connection, path: Path) -> None:
    """Empty the WAL: the old pages in it keep what was deleted."""
    if not wal_emptied(connection):
        raise Unavailable(f"could not empty the WAL of {path}: readers stayed busy; retry")
