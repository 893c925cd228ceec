"""Sealed log entries (storage/codec.py): what an erasure, a tampered file or a lost key store
does to a reader of the embedded log."""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from streamrec.errors import Damaged, Misconfigured, Unavailable
from streamrec.storage import sqlite_log
from streamrec.storage.base import open_log
from streamrec.storage.codec import open_cipher
from streamrec.storage.sqlite_log import SQLiteEventLog
from streamrec.types import Event

EventFactory = Callable[..., Event]
SECRET = "pepper"


def open_sealed(directory: Path, secret: str | None = SECRET) -> SQLiteEventLog:
    log = open_log(f"sqlite:///{directory / 'events.db'}",
                   cipher=open_cipher(f"sqlite:///{directory / 'user_keys.db'}", secret))
    assert isinstance(log, SQLiteEventLog)
    return log


def raw_rows(directory: Path) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(directory / "events.db")
    try:
        return connection.execute("SELECT * FROM events ORDER BY log_offset").fetchall()
    finally:
        connection.close()


def test_behaviour_is_never_stored_in_the_clear(tmp_path: Path,
                                                make_event: EventFactory) -> None:
    log = open_sealed(tmp_path)
    event = make_event("alice", "item-7f3a", "purchase", value=2.5, event_id="order-51c0",
                       context={"coupon": "SPRING-9d1e"})
    log.append([event])
    assert log.read(0, 10)[0].event == event
    log.close()
    stored = (tmp_path / "events.db").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("events.db-*"))
    for secret_part in (b"item-7f3a", b"order-51c0", b"SPRING-9d1e", b"purchase"):
        assert secret_part not in stored
    assert raw_rows(tmp_path)[0][3:8] == ("", "", None, 0.0, None)  # item .. context


def test_a_tampered_entry_is_refused_naming_its_offset(tmp_path: Path,
                                                       make_event: EventFactory) -> None:
    log = open_sealed(tmp_path)
    offset = log.append([make_event("alice", "i1"), make_event("alice", "i2")]).offsets[1]
    log.close()  # altered at rest (an open log serves its newest entries from memory)
    connection = sqlite3.connect(tmp_path / "events.db")
    blob = bytearray(connection.execute("SELECT sealed FROM events WHERE log_offset = ?",
                                        (offset,)).fetchone()[0])
    blob[-3] ^= 0x01
    connection.execute("UPDATE events SET sealed = ? WHERE log_offset = ?", (bytes(blob), offset))
    connection.commit()
    connection.close()
    log = open_sealed(tmp_path)
    with pytest.raises(Damaged, match=f"offset {offset} .* fails authentication"):
        log.read(0, 10)
    log.close()


def test_an_entry_moved_to_another_offset_or_user_is_refused(
        tmp_path: Path, make_event: EventFactory) -> None:
    log = open_sealed(tmp_path)
    first, second = log.append([make_event("alice", "i1"), make_event("alice", "i2")]).offsets
    log.append([make_event("bob", "i3")])
    log.close()  # altered at rest (an open log serves its newest entries from memory)
    connection = sqlite3.connect(tmp_path / "events.db")
    # the first entry's ciphertext copied over the second (a replayed or reordered entry)
    connection.execute("UPDATE events SET sealed = (SELECT sealed FROM events WHERE log_offset"
                       " = ?) WHERE log_offset = ?", (first, second))
    connection.commit()
    connection.close()
    log = open_sealed(tmp_path)
    with pytest.raises(Damaged, match=f"offset {second}"):
        log.read(first, 10)
    log.close()


def test_an_erased_users_entries_are_skipped_where_copies_remain(
        tmp_path: Path, make_event: EventFactory) -> None:
    """A copy of the log from before the erasure (a backup, a topic that keeps everything)
    cannot be read past the destroyed key: its entries are skipped, by every reader alike."""
    log = open_sealed(tmp_path)
    log.append([make_event(user, f"{user}-i{n}") for n in range(3) for user in ("a", "b")])
    log.close()
    backup = (tmp_path / "events.db").read_bytes()
    log = open_sealed(tmp_path)
    assert log.delete_user("a") == 3
    log.close()
    (tmp_path / "events.db").write_bytes(backup)  # restored beside the current key store
    log = open_sealed(tmp_path)
    try:
        assert [e.event.user_id for e in log.read(0, 100)] == ["b"] * 3
        assert [e.event.item_id for e in log.read(0, 1)] == ["b-i0"]  # limit counts readable
        assert log.purge_erased() == 3
        assert log.purge_erased() == 0
        assert [row[2] for row in raw_rows(tmp_path)] == ["b"] * 3
    finally:
        log.close()


def test_a_lost_key_store_is_an_error_not_an_empty_log(tmp_path: Path,
                                                       make_event: EventFactory) -> None:
    log = open_sealed(tmp_path)
    log.append([make_event("alice", "i1")])
    log.close()
    for path in tmp_path.glob("user_keys.db*"):
        path.unlink()
    log = open_sealed(tmp_path)
    try:
        with pytest.raises(Misconfigured, match="missing from the key store"):
            log.read(0, 10)
    finally:
        log.close()


def test_an_encrypted_log_opened_without_its_keys_says_so(tmp_path: Path,
                                                          make_event: EventFactory) -> None:
    log = open_sealed(tmp_path)
    log.append([make_event("alice", "i1")])
    log.close()
    plain = open_log(f"sqlite:///{tmp_path / 'events.db'}")
    try:
        with pytest.raises(Misconfigured, match="encrypted entries"):
            plain.read(0, 10)
    finally:
        plain.close()


OLD_SCHEMA = """
CREATE TABLE events (
    log_offset INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id   TEXT UNIQUE,
    user_id    TEXT NOT NULL,
    item_id    TEXT NOT NULL,
    type       TEXT NOT NULL,
    value      REAL,
    timestamp  REAL NOT NULL,
    context    BLOB
);
CREATE INDEX events_by_user ON events(user_id);
"""


def test_a_log_from_before_encryption_opens_and_is_sealed_from_then_on(
        tmp_path: Path, make_event: EventFactory) -> None:
    connection = sqlite3.connect(tmp_path / "events.db")
    connection.executescript(OLD_SCHEMA)
    connection.executemany(
        "INSERT INTO events(event_id, user_id, item_id, type, value, timestamp, context)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [("old-1", "alice", "legacy-item-3e1f", "view", None, 1.0, b'{"k":"legacy-ctx-88a0"}'),
         (None, "bob", "bob-old", "view", None, 2.0, None)])
    connection.commit()
    connection.close()
    log = open_sealed(tmp_path)
    try:
        assert [e.event.item_id for e in log.read(0, 10)] == ["legacy-item-3e1f", "bob-old"]
        # a re-sent old event is still a duplicate; new events are sealed
        assert log.append([make_event("alice", "x", event_id="old-1")]).duplicates == 1
        log.append([make_event("alice", "new-item-b2c4")])
        assert [e.event.item_id for e in log.read(0, 10)] == \
            ["legacy-item-3e1f", "bob-old", "new-item-b2c4"]
        assert [row[8] is None for row in raw_rows(tmp_path)] == [True, True, False]
        assert log.read(0, 10)[2].offset == 3  # offsets go on from the old ones
        # erasing a user with plain rows scrubs them from the file
        assert log.delete_user("alice") == 2
        stored = b"".join(p.read_bytes() for p in tmp_path.glob("events.db*"))
        assert b"legacy-item-3e1f" not in stored and b"legacy-ctx-88a0" not in stored
        assert b"old-1" not in stored
        assert [e.event.item_id for e in log.read(0, 10)] == ["bob-old"]
    finally:
        log.close()


def test_a_log_of_sealed_rows_alone_looks_up_tags_alone(tmp_path: Path,
                                                       make_event: EventFactory) -> None:
    """Whether plain rows with ids exist (a scan of the whole log when none do) is found
    by the start's thread, beside the restore; a re-sent event is still found."""
    log = open_sealed(tmp_path)
    try:
        log.append([make_event("alice", "x", event_id="e1")])
    finally:
        log.close()
    log = open_sealed(tmp_path)
    try:
        assert log.count() == 1  # waits for the start's thread
        assert not log._plain_ids
        assert log.append([make_event("alice", "x", event_id="e1")]).duplicates == 1
    finally:
        log.close()


def test_an_ids_stored_tag_is_its_hmac_sha256_under_the_tag_key(tmp_path: Path,
                                                                make_event: EventFactory) -> None:
    """The tag is part of the stored format: logs written by every earlier version, and
    every replica, must keep finding a re-sent id by it, whatever computes it."""
    log = open_sealed(tmp_path)
    try:
        ids = ["e1", "\u00e9v\u00e9nement-2", "x" * 300]
        log.append([make_event("alice", "i", event_id=event_id) for event_id in ids])
        assert log.cipher is not None
        key = log.cipher.keys.tag_key
    finally:
        log.close()
    stored = [row[1] for row in raw_rows(tmp_path)]
    assert stored == ["#" + hmac.new(key, event_id.encode("utf-8"),
                                     hashlib.sha256).hexdigest()[:32] for event_id in ids]


def test_a_log_with_the_old_unique_index_still_finds_ids_older_than_the_window(
        tmp_path: Path, make_event: EventFactory) -> None:
    """A log created before the window keeps its UNIQUE index: a re-sent id is a duplicate
    however old, and never an insert the index refuses (which would fail the whole commit)."""
    connection = sqlite3.connect(tmp_path / "events.db")
    connection.executescript(OLD_SCHEMA)
    connection.close()
    log = open_log(f"sqlite:///{tmp_path / 'events.db'}?dedup_window=2",
                   cipher=open_cipher(f"sqlite:///{tmp_path / 'user_keys.db'}", SECRET))
    try:
        log.append([make_event("alice", f"i{n}", event_id=f"e{n}") for n in range(5)])
        again = log.append([make_event("alice", "i0", event_id="e0"),
                            make_event("bob", "i9", event_id="e9")])
        assert (again.accepted, again.duplicates) == (1, 1)
        assert log.count() == 6
    finally:
        log.close()


def test_a_new_log_has_no_index_over_its_ids(tmp_path: Path) -> None:
    """Ids are deduplicated by the window (storage/dedup.py): an index over keyed tags,
    random by design, would dirty a B-tree page for nearly every insert."""
    open_sealed(tmp_path).close()
    connection = sqlite3.connect(tmp_path / "events.db")
    try:
        indexed = [connection.execute(f"PRAGMA index_info('{row[1]}')").fetchall()
                   for row in connection.execute("PRAGMA index_list(events)")]
    finally:
        connection.close()
    assert all(column[2] != "event_id" for columns in indexed for column in columns)


def test_every_entry_has_its_own_nonce_within_a_batch_and_across(
        tmp_path: Path, make_event: EventFactory) -> None:
    """Nonces are drawn for a whole group commit at once: none may repeat under a key (GCM
    with a repeated nonce leaks the plaintexts' XOR and its authentication key)."""
    log = open_sealed(tmp_path)
    try:
        same = [make_event("alice", "i1", timestamp=1.0) for _ in range(300)]
        log.append(same)
        log.append(same)
    finally:
        log.close()
    blobs = [bytes(row[8]) for row in raw_rows(tmp_path)]
    nonces = {blob[17:29] for blob in blobs}
    assert len(blobs) == 600 and len(nonces) == 600
    assert len({blob[29:] for blob in blobs}) == 600  # the same event never seals the same


def test_the_key_cache_keeps_the_recently_used_keys(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bounded: past the bound the least recently used key goes, not every key."""
    from streamrec.storage import codec

    monkeypatch.setattr(codec, "_MAX_CACHED", 2)
    cipher = open_cipher(f"sqlite:///{tmp_path / 'user_keys.db'}", SECRET)
    asked: list[list[str]] = []
    get_or_create = cipher.keys.get_or_create

    def counted(users):  # type: ignore[no-untyped-def]
        users = list(users)
        asked.append(users)
        return get_or_create(users)

    monkeypatch.setattr(cipher.keys, "get_or_create", counted)
    try:
        first = cipher.prepare(["a", "b"])
        assert cipher.prepare(["a"]) == {"a": first["a"]}  # a hit: a is the most recent
        cipher.prepare(["c"])  # b, the least recently used, goes
        cipher.prepare(["a", "c"])
        assert asked == [["a", "b"], ["c"]]
        assert cipher.prepare(["b"])["b"][0] == first["b"][0]  # fetched again: the same key
        assert asked[-1] == ["b"]
    finally:
        cipher.close()


def test_a_reader_asks_the_key_store_once_a_batch_not_once_a_user(
        tmp_path: Path, make_event: EventFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A restart's replay opens entries of tens of thousands of users its cache has never
    seen: their keys come in one round trip a read, not one each (a query each on SQLite,
    a network round trip each on a shared store). An erased user's entries are still left
    out, their key looked up alone."""
    log = open_sealed(tmp_path)
    log.append([make_event(f"user{n % 40}", f"i{n}") for n in range(120)])
    log.close()
    backup = (tmp_path / "events.db").read_bytes()
    log = open_sealed(tmp_path)
    assert log.delete_user("user7") == 3
    log.close()
    (tmp_path / "events.db").write_bytes(backup)  # user7's rows back, their key destroyed
    log = open_sealed(tmp_path)
    assert log.cipher is not None
    many: list[list[str]] = []
    one: list[str] = []
    get_many, get = log.cipher.keys.get_many, log.cipher.keys.get
    monkeypatch.setattr(log.cipher.keys, "get_many",
                        lambda users: many.append(list(users)) or get_many(many[-1]))
    monkeypatch.setattr(log.cipher.keys, "get", lambda user: one.append(user) or get(user))
    try:
        read = log.read(0, 1_000)
        assert len(read) == 117 and "user7" not in {e.event.user_id for e in read}
        assert [sorted(users) for users in many] == [sorted(f"user{n}" for n in range(40))]
        assert one == ["user7"]  # its key destroyed: found missing, looked up alone
        log.read(0, 1_000)  # cached now: no round trip
        assert len(many) == 1
    finally:
        log.close()


@pytest.mark.parametrize("reader", ["one entry", "a batch"])
def test_a_key_read_while_its_user_is_erased_is_not_kept(
        tmp_path: Path, make_event: EventFactory, monkeypatch: pytest.MonkeyPatch,
        reader: str) -> None:
    """A reader fetches alice's key from the store; before it caches it, alice is erased.
    The read that began before the erasure may open its entry, but the key must not stay
    cached: later reads would open erased entries, and sealing would use a destroyed key
    (events a restart then reads as erased)."""
    log = open_sealed(tmp_path)
    log.append([make_event("alice", "i1"), make_event("bob", "i2")])
    log.close()
    log = open_sealed(tmp_path)
    cipher = log.cipher
    assert cipher is not None
    connection = sqlite3.connect(tmp_path / "events.db")
    try:
        blob = connection.execute("SELECT sealed FROM events WHERE log_offset = 1").fetchone()[0]
    finally:
        connection.close()
    erased: list[bool] = []
    get, get_many = cipher.keys.get, cipher.keys.get_many

    def erase_once() -> None:
        if not erased:
            erased.append(True)
            cipher.erase("alice")  # between the store's answer and the cache

    def racing_get(user: str) -> object:
        found = get(user)
        erase_once()
        return found

    def racing_get_many(users: list[str]) -> object:
        found = get_many(users)
        erase_once()
        return found

    try:
        if reader == "one entry":
            monkeypatch.setattr(cipher.keys, "get", racing_get)
            cipher.open("alice", blob, 1)
        else:
            monkeypatch.setattr(cipher.keys, "get_many", racing_get_many)
            cipher.fetch_missing([("alice", blob)])
        assert erased
        monkeypatch.undo()
        assert cipher.open("alice", blob, 1) is None  # erased from now on
        assert "alice" not in {e.event.user_id for e in log.read(0, 10)}
        assert cipher.prepare(["alice"])["alice"][0] != blob[1:17]  # a new key seals
    finally:
        log.close()


def test_duplicates_are_found_past_one_look_up_of_ids(
        tmp_path: Path, make_event: EventFactory) -> None:
    """Duplicate ids are looked up a few hundred at a time: every one of a large batch is
    found, earlier in the log and earlier in the same batch."""
    log = open_sealed(tmp_path)
    try:
        first = [make_event(f"u{n % 7}", f"i{n}", event_id=f"e{n}") for n in range(1_200)]
        assert log.append(first).accepted == 1_200
        again = [*first[::-1], *(make_event("u1", f"n{n}", event_id=f"new{n}")
                                 for n in range(5)), first[3]]
        appended = log.append(again)
        assert (appended.accepted, appended.duplicates) == (5, 1_201)
        assert log.count() == 1_205
    finally:
        log.close()


def test_reads_at_the_head_from_memory_equal_reads_from_the_file(
        tmp_path: Path, make_event: EventFactory) -> None:
    """The newest entries are served from the writer's memory: exactly the events a reader
    of the file gets (types included), and none of an erased user's."""
    log = open_sealed(tmp_path)
    try:
        log.append([make_event("alice", "i1", value=3, context={"k": [1, "x"]}, event_id="a1"),
                    make_event("bob", "i2", timestamp=1_700_000_000)])
        log.append([make_event("", "catalogue-change", "$items", context={"n": 1})])
        from_memory = log.read(0, 10)
        assert log._read_tail(0, 10) is not None  # served from memory indeed
    finally:
        log.close()
    log = open_sealed(tmp_path)
    try:
        assert log._read_tail(0, 10) is None  # a fresh open reads the file
        from_file = log.read(0, 10)
        assert from_file == from_memory
        assert [type(e.event.timestamp) for e in from_memory] == [float] * 3
        assert from_memory[0].event.value == 3.0 and isinstance(from_memory[0].event.value,
                                                                float)
        log.append([make_event("alice", "i3")])
        assert log.delete_user("alice") == 2
        assert [e.event.user_id for e in log.read(0, 10)] == ["bob", ""]
        log.append([make_event("alice", "i4")])
        assert [e.event.item_id for e in log.read(0, 10)] == ["i2", "catalogue-change", "i4"]
    finally:
        log.close()


def test_a_log_opens_before_its_rows_are_counted_and_counts_them_before_any_write(
        tmp_path: Path, make_event: EventFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The count scans an index (1.5 s at 10M rows): it is read beside the rest of a start,
    and the log opens without it. ``count`` and the first write wait for it, so it counts
    the rows the log held and every write after, once."""
    log = open_sealed(tmp_path)
    log.append([make_event("alice", f"i{n}") for n in range(3)])
    log.close()
    counting, release = threading.Event(), threading.Event()
    real = sqlite_log._count_rows

    def held(connection: sqlite3.Connection) -> int:
        counting.set()
        assert release.wait(60)
        return real(connection)

    monkeypatch.setattr("streamrec.storage.sqlite_log._count_rows", held)
    log = open_sealed(tmp_path)  # returns while the count is held
    try:
        assert counting.wait(60) and log.last_offset() == 3
        counted: list[int] = []
        counter = threading.Thread(target=lambda: counted.append(log.count()))
        writer = threading.Thread(target=log.append, args=([make_event("bob", "i9")],))
        counter.start()
        writer.start()
        writer.join(0.3)
        assert writer.is_alive() and counter.is_alive()  # both wait for the count
        release.set()
        writer.join(60)
        counter.join(60)
        assert counted[0] in (3, 4)  # before or after the write
        assert log.count() == 4 and log.last_offset() == 4
    finally:
        release.set()
        log.close()


def test_a_reopened_log_finds_its_window_ids_and_refuses_writes_if_it_cannot(
        tmp_path: Path, make_event: EventFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The window is read beside the rest of a start (sqlite_log.py): the first write waits
    for it, so a re-sent id is a duplicate from the first write on; a window that cannot be
    read refuses writes, named, rather than storing duplicates."""
    log = open_sealed(tmp_path)
    log.append([make_event("alice", f"i{n}", event_id=f"e{n}") for n in range(3)])
    log.close()
    log = open_sealed(tmp_path)
    try:
        again = log.append([make_event("alice", "i0", event_id="e2"),
                            make_event("bob", "i9", event_id="e9")])
        assert (again.accepted, again.duplicates) == (1, 1)
    finally:
        log.close()

    def unreadable(connection: sqlite3.Connection, size: int) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr("streamrec.storage.sqlite_log._window_of", unreadable)
    log = open_sealed(tmp_path)
    try:
        with pytest.raises(Unavailable, match="newest event ids: disk I/O error"):
            log.append([make_event("carol", "i1", event_id="e10")])
        assert log.count() == 4
    finally:
        log.close()
