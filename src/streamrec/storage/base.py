"""Storage protocols and the one place that picks a back end by URL scheme."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol

from streamrec.errors import InvalidInput, InvalidSetting
from streamrec.storage.codec import EntryCipher
from streamrec.storage.dedup import pop_dedup_window
from streamrec.storage.integrity import sqlite_path
from streamrec.types import Appended, Event, Item, LoggedEvent


class EventLog(Protocol):
    """An append-only, replayable sequence of events; offsets strictly increase."""

    def append(self, events: Sequence[Event]) -> Appended:
        """Store the events; returns once they are durable. A repeated ``event_id`` (already in
        the log or earlier in the same call) is counted as a duplicate and not stored again."""
        ...

    def read(self, after: int, limit: int) -> list[LoggedEvent]:
        """Up to ``limit`` events with offset > ``after``, in offset order."""
        ...

    def last_offset(self) -> int:
        """Offset of the newest event, 0 when empty."""
        ...

    def count(self) -> int: ...

    def wait_for(self, after: int, timeout_s: float) -> bool:
        """Block until an event with offset > ``after`` exists or the timeout passes."""
        ...

    def delete_user(self, user_id: str) -> int:
        """Erase every event of a user (a stored key): with a cipher, their data key is
        destroyed, so every copy of their entries is unreadable, and a log that can be
        rewritten removes the entries too. Reads leave erased entries out. Returns how many
        entries were erased."""
        ...

    def close(self) -> None: ...


class Catalogue(Protocol):
    """Items with their attributes and text, keyed by ``item_id``."""

    def upsert(self, items: Iterable[Item], logged: bool = False) -> int:
        """Store ``items``; unless ``logged`` (they came from the log), each is ``unlogged``
        until ``mark_logged``."""
        ...

    def get(self, item_id: str) -> Item | None: ...

    def scan(self) -> Iterator[Item]: ...

    def versions(self) -> Iterator[tuple[str, float]]: ...

    def unlogged(self) -> list[Item] | None:
        """Items stored and perhaps not yet logged; None: unknown, compare ``versions``."""
        ...

    def mark_logged(self, item_ids: Iterable[str] | None) -> None:
        """These items are logged as stored; None: all are, and ``unlogged`` knows from now."""
        ...

    def count(self) -> int: ...

    def close(self) -> None: ...


def open_log(url: str, *, synchronous: str = "full",
             max_queued_events: int = 200_000, cipher: EntryCipher | None = None) -> EventLog:
    """``sqlite:///path/events.db`` (default), ``memory:``, ``kafka://HOST:PORT/TOPIC`` (a log
    replicas share: storage/kafka_log.py), each with ``?dedup_window=N`` (how many of the
    newest ids a re-sent event is compared with: storage/dedup.py). ``max_queued_events``
    bounds the sqlite writer's queue (beyond it ``append`` raises ``Unavailable``).
    ``cipher`` seals each user's entries with their key (storage/codec.py); the log closes
    it. A memory log keeps nothing at rest and erases by removing."""
    if url.startswith("sqlite:///"):
        from streamrec.storage.sqlite_log import SQLiteEventLog

        return SQLiteEventLog(sqlite_path(url), synchronous=synchronous,
                              max_queued_events=max_queued_events, cipher=cipher,
                              dedup_window=dedup_window_of(url))
    if url.partition("?")[0] == "memory:":
        from streamrec.storage.memory_log import MemoryEventLog

        return MemoryEventLog(dedup_window_of(url))
    if url.startswith("kafka://"):
        from streamrec.storage.kafka_log import KafkaEventLog

        return KafkaEventLog(url, cipher=cipher)
    raise InvalidInput("storage.log_url", f"unsupported event log URL {url!r}")


def dedup_window_of(url: str) -> int:
    """The ``dedup_window`` of an embedded or memory log's URL (storage/dedup.py), its only
    parameter; a bad or unknown one stops the start with its name."""
    from urllib.parse import parse_qs

    query = {key: values[-1] for key, values in
             parse_qs(url.partition("?")[2], keep_blank_values=True).items()}
    window = pop_dedup_window(query, url)
    if query:
        raise InvalidSetting(f"storage.log_url: unknown parameter(s) {sorted(query)} in {url!r}")
    return window


def open_catalogue(url: str) -> Catalogue:
    """``sqlite:///path/catalogue.db`` (default), ``memory:``."""
    from streamrec.storage.sqlite_catalogue import SQLiteCatalogue

    if url.startswith("sqlite:///"):
        return SQLiteCatalogue(url.removeprefix("sqlite:///"))
    if url == "memory:":
        return SQLiteCatalogue(":memory:")
    raise InvalidInput("storage.catalogue_url", f"unsupported catalogue URL {url!r}")
