"""Log entries <-> events, sealed per user: the one place the log's encryption at rest lives.

Every event stored under a user or session (``user_id`` not empty: clients' events and session
merges) is sealed with that user's data key (storage/keystore.py): AES-256-GCM over its
payload (item, type, value, time, event id, context), a fresh random 96-bit nonce per entry,
and associated data binding the entry to its user and its position in the log, so a sealed
entry moved to another user or another offset fails authentication instead of being read.
What stays in the clear: the user's stored key (a pseudonym with a secret: partitioning and
erasure need it) and a keyed tag of the event id (deduplication must agree on every replica,
whether or not the entry can still be read). The engine's own control events (catalogue
changes, refits, erasures) name nobody and are stored as they are.

Erasing a user destroys their key: their sealed entries read as erased (``None``) and every
reader skips them the same way. An entry whose key exists but that fails authentication is an
error (``Damaged``), never skipped; so is one whose key is missing without a tombstone (a lost
or foreign key store: skipping would silently drop the history).

A log from before encryption keeps its plain rows readable; new entries are sealed (a row is
sealed when its ``sealed`` column holds the blob). The SQLite log and the Kafka log both store
entries through this module, so both have the one erasure path.

Sealed blob: ``0x01 | key id (16) | nonce (12) | ciphertext and tag``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.hmac import HMAC

from streamrec.errors import Damaged, Misconfigured
from streamrec.storage.keystore import (
    KEY_ID_BYTES,
    SECRET_SETTING,
    KeyStore,
    KeyWrapper,
    SQLiteKeyStore,
    master_key,
)
from streamrec.types import Event, LoggedEvent

# the engine's erasure control event (engine/erasures.py): a reader that meets one drops the
# keys it cached, for another replica may have destroyed one of them
ERASE_TYPE = "$erase"
SEALED_FORMAT = 1
_FORMAT_BYTE = bytes((SEALED_FORMAT,))
_NONCE_BYTES = 12
_HEADER_BYTES = 1 + KEY_ID_BYTES + _NONCE_BYTES
_AAD_LABEL = b"streamrec log entry v1\x00"
TAG_PREFIX = "#"
_MAX_CACHED = 200_000  # unwrapped keys kept in memory (a few hundred bytes each)
SealingKeys = dict[str, tuple[bytes, AESGCM]]

# event_id, user_id, item_id, type, value, timestamp, context: an event in the clear
EventRow = tuple[str | None, str, str, str, float | None, float, bytes | None]
# the same and ``sealed``: a stored row, plain (sealed None) or sealed (the rest blank)
StoredRow = tuple[str | None, str, str, str, float | None, float, bytes | None, bytes | None]


class EntryCipher:
    """Seals and opens log entries with per-user keys; caches unwrapped keys in memory."""

    def __init__(self, keys: KeyStore, where: str = "the event log") -> None:
        self.keys = keys
        self._tag_mac = HMAC(keys.tag_key, SHA256())
        self._where = where
        # unwrapped keys, least recently used first (a dict keeps insertion order; a use
        # moves the key to the end): bounded, and no key store round trip per event
        self._cache: dict[str, tuple[bytes, AESGCM]] = {}
        self._destroyed: set[bytes] = set()  # tombstones seen: they never come back
        self._lock = threading.Lock()

    # -- sealing -------------------------------------------------------------------------
    def prepare(self, user_keys: Iterable[str]) -> SealingKeys:
        """Each user's key for sealing, created (durably) when missing. A shared key store is
        asked every time: another replica may have destroyed a key this one cached."""
        wanted = set(user_keys)
        found: SealingKeys = {}
        if not self.keys.shared:
            cache = self._cache
            with self._lock:
                for user in wanted:
                    cached = cache.pop(user, None)
                    if cached is not None:
                        cache[user] = found[user] = cached  # now the most recently used
        missing = wanted - found.keys()
        if missing:  # one key store transaction for every user new to this batch
            created = {user: (data.key_id, AESGCM(data.key)) for user, data in
                       self.keys.get_or_create(sorted(missing)).items()}
            self._remember(created)
            found.update(created)
        return found

    def fetch_missing(self, entries: Iterable[tuple[str, bytes]]) -> None:
        """Cache the keys that ``(user_key, sealed blob)`` entries need and the cache lacks,
        in one key store round trip: a reader about to open a batch asks once, not once per
        user (a restart's replay meets tens of thousands of users, each a query, or a network
        round trip to a shared store). Entries under a destroyed key are left to ``open``."""
        with self._lock:
            cache, destroyed = self._cache, self._destroyed
            missing = list({user for user, blob in entries if user not in cache
                            and bytes(blob[1:1 + KEY_ID_BYTES]) not in destroyed})
        if missing:
            self._remember({user: (data.key_id, AESGCM(data.key))
                            for user, data in self.keys.get_many(missing).items()})

    def _remember(self, keys: SealingKeys) -> None:
        """Cache ``keys``, except one an erasure destroyed since it was read from the store
        (``erase`` names it a tombstone before destroying it): a reader that fetched it just
        before must not keep it, or later reads would open the erased entries and sealing
        would use a key that a restart finds destroyed."""
        with self._lock:
            cache, destroyed = self._cache, self._destroyed
            for user, entry in keys.items():
                if entry[0] not in destroyed:
                    cache[user] = entry
            # bounded memory: the least recently used go; they are fetched again when needed
            while len(cache) > _MAX_CACHED:
                del cache[next(iter(cache))]

    def seal(self, user_key: str, payload: bytes, position: int,
             keys: SealingKeys) -> bytes:
        """``payload`` sealed for the entry of ``user_key`` at ``position``, with the key
        ``prepare`` gave."""
        return self.seal_all([(user_key, payload, position)], keys)[0]

    def seal_all(self, entries: Sequence[tuple[str, bytes, int]],
                 keys: SealingKeys) -> list[bytes]:
        """Each ``(user_key, payload, position)`` sealed with the key ``prepare`` gave. Every
        entry has its own random 96-bit nonce, drawn from the system's CSPRNG in one call for
        the batch (no state kept between calls: a forked process cannot repeat one)."""
        randomness = os.urandom(_NONCE_BYTES * len(entries))
        sealed: list[bytes] = []
        start = 0
        for user_key, payload, position in entries:
            key_id, aead = keys[user_key]
            nonce = randomness[start:start + _NONCE_BYTES]
            start += _NONCE_BYTES
            sealed.append(b"".join((_FORMAT_BYTE, key_id, nonce, aead.encrypt(
                nonce, payload, _aad(user_key, position)))))
        return sealed

    def tag(self, event_id: str) -> str:
        """The keyed tag stored in the clear for deduplication instead of the event id:
        HMAC-SHA256 under the tag key (from a copy of the keyed state: no key schedule per
        event; cryptography's copy costs 2 us, the standard library's Python-level one 3.3)."""
        mac = self._tag_mac.copy()
        mac.update(event_id.encode("utf-8"))
        return TAG_PREFIX + mac.finalize().hex()[:32]

    # -- opening -------------------------------------------------------------------------
    def open(self, user_key: str, blob: bytes, position: int,
             offset: int | None = None) -> bytes | None:
        """The payload of a sealed entry bound to ``position``; None when its key was
        destroyed (erased). Raises ``Damaged`` when it fails authentication, ``Misconfigured``
        when its key is missing from the key store without having been destroyed; both name
        the entry's ``offset`` (default: ``position``)."""
        position_named = position if offset is None else offset
        if len(blob) < _HEADER_BYTES + 16 or blob[0] != SEALED_FORMAT:
            raise Damaged(f"the entry at offset {position_named} of {self._where} is not a "
                          "sealed entry streamrec wrote (truncated or overwritten)")
        key_id = blob[1:1 + KEY_ID_BYTES]
        aead = self._key(user_key, key_id, position_named)
        if aead is None:
            return None
        nonce = blob[1 + KEY_ID_BYTES:_HEADER_BYTES]
        try:
            return aead.decrypt(nonce, blob[_HEADER_BYTES:], _aad(user_key, position))
        except InvalidTag:
            raise Damaged(f"the entry at offset {position_named} of {self._where} fails "
                          "authentication: it was altered, or moved from another offset or "
                          "user; restore the log from a backup") from None

    def _key(self, user_key: str, key_id: bytes, position: int) -> AESGCM | None:
        cached = self._cache.get(user_key)  # a read leaves the order (writes keep it fresh)
        if cached is not None and cached[0] == key_id:
            return cached[1]
        if key_id in self._destroyed:
            return None
        current = self.keys.get(user_key)
        if current is not None and current.key_id == key_id:
            aead = AESGCM(current.key)
            self._remember({user_key: (key_id, aead)})
            return aead
        if self.keys.is_destroyed(key_id):
            with self._lock:
                self._destroyed.add(key_id)
            return None
        raise Misconfigured(
            f"the data key of the entry at offset {position} of {self._where} is missing "
            "from the key store and was never destroyed: the key store is lost or belongs to "
            "another log; restore it (user_keys.db, or the shared store) from a backup")

    def is_erased(self, user_key: str, key_id: bytes) -> bool:
        """Whether entries of ``user_key`` sealed under ``key_id`` are erased (a missing key
        that was never destroyed is not: it is an error left to readers)."""
        try:
            return self._key(user_key, key_id, 0) is None
        except Misconfigured:
            return False

    # -- erasure -------------------------------------------------------------------------
    def erase(self, user_key: str) -> bool:
        """Destroy the user's key (durably); their sealed entries read as erased from now
        on, here and wherever the key store is shared. False when they had none."""
        with self._lock:
            cached = self._cache.pop(user_key, None)
        if cached is not None:
            key_id: bytes | None = cached[0]
        else:  # a reader may be fetching it now: it must know the key is going
            stored = self.keys.get(user_key)
            key_id = None if stored is None else stored.key_id
        if key_id is not None:
            with self._lock:
                self._destroyed.add(key_id)
        destroyed = self.keys.destroy(user_key)
        with self._lock:  # one a reader cached between the pop and the tombstone
            self._cache.pop(user_key, None)
        return destroyed

    def forget_cached(self) -> None:
        """Drop every cached key: another replica may have destroyed some (called when an
        erasure event is read)."""
        with self._lock:
            self._cache.clear()

    def close(self) -> None:
        self.keys.close()


def _aad(user_key: str, position: int) -> bytes:
    return b"".join((_AAD_LABEL, position.to_bytes(8, "big"), user_key.encode("utf-8")))


def payload_of(event: Event) -> bytes:
    """What is sealed of an event; raises ``TypeError`` for a context JSON cannot hold."""
    return orjson.dumps([event.item_id, event.type, event.value, event.timestamp,
                         event.event_id, dict(event.context) if event.context else None])


def event_of(user_key: str, payload: bytes) -> Event:
    item_id, type_, value, timestamp, event_id, context = orjson.loads(payload)
    return Event(user_id=user_key, item_id=item_id, type=type_, timestamp=float(timestamp),
                 value=None if value is None else float(value), event_id=event_id,
                 context=context)


def is_sealable(event: Event) -> bool:
    """Events stored under a user or session are sealed; the engine's control events (no
    user) are not."""
    return event.user_id != ""


class PendingEntry(NamedTuple):
    """An event encoded for the log, before it has an offset (sealing needs one). A named
    tuple: the writer makes one an event, and a frozen dataclass's ``__init__`` cost ~1.5 us
    of the writer's ~30 an event."""

    event_id: str | None  # as the client sent it: deduplication compares it and its tag
    tag: str | None  # what the log stores in the clear for it (the id itself when plain)
    user_id: str
    payload: bytes | None  # to seal; None: stored plain in ``plain``
    plain: StoredRow | None

    def dedup_keys(self) -> tuple[str, ...]:
        """The stored ids an earlier copy of this event may have: its tag (sealed) or the
        raw id (a plain row from before encryption)."""
        if self.event_id is None:
            return ()
        return (self.event_id,) if self.tag in (None, self.event_id) else \
            (self.event_id, str(self.tag))


def encode(event: Event, cipher: EntryCipher | None) -> PendingEntry:
    """The entry for ``event``; raises ``TypeError``/``ValueError`` when it cannot be
    stored (before any transaction: the request is refused alone)."""
    if cipher is not None and is_sealable(event):
        tag = None if event.event_id is None else cipher.tag(event.event_id)
        return PendingEntry(event.event_id, tag, event.user_id, payload_of(event), None)
    return PendingEntry(event.event_id, event.event_id, event.user_id, None,
                        (*event_to_row(event), None))


def sealed_rows(entries: Sequence[tuple[PendingEntry, int]], cipher: EntryCipher | None,
                keys: SealingKeys) -> list[tuple[int, str | None, str, bytes]]:
    """``(position, tag, user key, sealed blob)`` for each of ``(entry, position)`` to seal,
    in order, sealed as one batch: all a sealed row holds that is not blank."""
    to_seal = [(entry.user_id, entry.payload, position) for entry, position in entries
               if entry.payload is not None]
    if not to_seal:
        return []
    assert cipher is not None
    tags = [entry.tag for entry, _ in entries if entry.payload is not None]
    return [(position, tag, user_key, blob) for (user_key, _, position), tag, blob
            in zip(to_seal, tags, cipher.seal_all(to_seal, keys), strict=True)]


def rows_of(entries: Sequence[tuple[PendingEntry, int]], cipher: EntryCipher | None,
            keys: SealingKeys) -> list[StoredRow]:
    """The rows stored for ``(entry, position)``: plain, or sealed with no behaviour in the
    clear (``sealed_rows``, the rest blank)."""
    sealed = iter(sealed_rows(entries, cipher, keys))
    rows: list[StoredRow] = []
    for entry, _ in entries:
        if entry.plain is not None:
            rows.append(entry.plain)
        else:
            _, tag, user_key, blob = next(sealed)
            rows.append((tag, user_key, "", "", None, 0.0, None, blob))
    return rows


def logged_of(rows: Sequence[tuple[Any, ...]], cipher: EntryCipher | None,
              where: str = "the event log", bound: bool = True) -> list[LoggedEvent]:
    """Rows ``(offset, event_id, user_id, item_id, type, value, timestamp, context, sealed)``
    as events; erased entries are left out. ``bound``: sealed entries were bound to their
    offset (the SQLite log's writer knows it); else to position 0 (the Kafka log's writer
    cannot know the offset its readers will give)."""
    logged: list[LoggedEvent] = []
    if cipher is not None:
        cipher.fetch_missing((row[2], row[8]) for row in rows if row[8] is not None)
    for row in rows:
        offset, event_id, user_id, item_id, type_, value, timestamp, context, sealed = row
        if sealed is not None:
            if cipher is None:
                raise Misconfigured(f"{where} holds encrypted entries: open it with its key "
                                    "store (streamrec opens it so from its settings)")
            payload = cipher.open(user_id, bytes(sealed), int(offset) if bound else 0,
                                  int(offset))
            if payload is not None:
                logged.append(LoggedEvent(int(offset), event_of(user_id, payload)))
            continue
        entry = row_to_logged(row[:8])
        if cipher is not None and type_ == ERASE_TYPE:
            cipher.forget_cached()
        logged.append(entry)
    return logged


def logged_entry(entry: PendingEntry, offset: int) -> LoggedEvent:
    """The event a reader of the entry stored at ``offset`` gets (built as ``logged_of``
    builds it from the stored row: the same types and values), without opening it again."""
    if entry.payload is not None:
        return LoggedEvent(offset, event_of(entry.user_id, entry.payload))
    assert entry.plain is not None
    return row_to_logged((offset, *entry.plain[:7]))


def event_to_row(event: Event) -> EventRow:
    """An event's fields in the clear (a control event, or a log without a cipher)."""
    context = orjson.dumps(dict(event.context)) if event.context else None
    return (event.event_id, event.user_id, event.item_id, event.type, event.value,
            event.timestamp, context)


def row_to_logged(row: tuple[Any, ...]) -> LoggedEvent:
    """``(offset, *EventRow)`` as a logged event."""
    offset, event_id, user_id, item_id, type_, value, timestamp, context = row
    return LoggedEvent(
        offset=int(offset),
        event=Event(user_id=user_id, item_id=item_id, type=type_, timestamp=float(timestamp),
                    value=None if value is None else float(value), event_id=event_id,
                    context=orjson.loads(context) if context else None),
    )


def open_cipher(key_store_url: str, secret: str | None,
                redis_prefix: str = "streamrec:") -> EntryCipher:
    """The cipher of the log's entries, its keys in the store at ``key_store_url``."""
    return EntryCipher(open_key_store(key_store_url, secret, redis_prefix))


def open_key_store(url: str, secret: str | None,
                   redis_prefix: str = "streamrec:") -> KeyStore:
    """``sqlite:///path/user_keys.db`` (embedded; without a secret its master key is kept in
    ``log.key`` beside it) or ``redis://host:port/db`` (shared by replicas; needs the
    secret, for replicas could not share a key file; its keys start with ``redis_prefix``)."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        return SQLiteKeyStore(path, KeyWrapper(master_key(secret, path.parent)))
    if url.startswith(("redis://", "rediss://")):
        if not secret:
            raise Misconfigured(f"a shared key store ({url}) needs {SECRET_SETTING}: every "
                                "replica unwraps the data keys with the key derived from it")
        from streamrec.storage.redis_keystore import RedisKeyStore

        return RedisKeyStore(url, KeyWrapper(master_key(secret, Path("."))), redis_prefix)
    raise Misconfigured(f"unsupported key store URL {url!r} (sqlite:///path or redis://...)")
