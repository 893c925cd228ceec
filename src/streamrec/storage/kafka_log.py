"""The event log on a Kafka topic: the log replicas share (``kafka://HOST:PORT/TOPIC``).

Every process that opens the topic reads all of it, in order, and derives the same view:
the log's offsets are not Kafka's but positions among the *accepted* records, assigned by
the reader as it goes. Deciding in the reader rather than the writer is what keeps every
replica identical: whatever was appended, by whom and with which retries, each reader
sees one sequence of records and applies the same rules to it.

- **One partition, keyed by user.** A replica is a state machine over one total order (the
  models weigh events by their place in the whole stream: popularity's half-lives in events,
  co-occurrence, the blend's online tests), and Kafka orders records only within a
  partition. So the topic has one partition (created so when missing; a topic of more is
  refused). Records carry the user key, so per-user tooling and a later split of the
  state by user keep working. One partition takes far more than one engine learns.
- **Deduplication in the apply, bounded.** A record whose ``event_id`` was accepted among
  the last ``dedup_window`` accepted ids is a duplicate: it takes no offset and is never
  read. The window is a function of the topic, so every replica drops the same records. The
  producer is idempotent with ``acks=all``: its own retries never write a record twice.
- **Appending** writes the events of one call as one record (up to ~900 KB; a larger call is
  several), so a request is stored whole or not at all, waits until Kafka acknowledged it,
  then until this process has read it back, and reports the offsets (or duplicates) the
  reader gave its events.
- **Encryption** (with a cipher, as the engine opens it): each event stored under a user is
  sealed with that user's data key by storage/codec.py, the same entry codec as the SQLite
  log's; in the clear stay the user key and a keyed tag of the event id, which is what the
  dedup window compares. Sealed entries are bound to their user (a writer does not know the
  offset the readers will give them). An entry whose key was destroyed still takes its
  offset, on every replica alike, and is never read.
- **Erasure** destroys the user's data key in the shared key store, then appends a control
  record naming the user; readers hide the user's earlier events from then on and forget
  their ids. The bytes stay in the topic (Kafka cannot rewrite it): with the key gone, no
  one can read them.
- **Memory**: 16 bytes per accepted event (its record's Kafka offset and place), the ids
  of the dedup window, a count per user, and the newest ``tail_kept`` events decoded; older
  reads (a replay) fetch from Kafka.
- **Retention** must keep every record (the topic is created with ``retention.ms=-1``):
  offsets are positions from the topic's start.
"""

from __future__ import annotations

import logging
import struct
import threading
import time
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from streamrec.errors import InvalidInput, InvalidSetting, StreamrecError, Unavailable
from streamrec.storage.codec import EntryCipher, StoredRow, encode, logged_of, rows_of
from streamrec.storage.dedup import DedupWindow, pop_dedup_window
from streamrec.types import Appended, Event, LoggedEvent

log = logging.getLogger(__name__)

# events of one append: B + per event (u32 length + row JSON, u32 + context or sealed entry);
# the row JSON of a sealed entry has a seventh field, 1
_EVENTS = b"B"
_ERASE = b"X"  # a control record: X + the user key whose earlier events are erased
_RECORD_BYTES = 900_000  # below Kafka's default message.max.bytes (1 MB)
_PARTITION = 0
_LENGTH = struct.Struct(">I")


@dataclass(frozen=True)
class KafkaTarget:
    bootstrap: str
    topic: str
    replication: int
    dedup_window: int


def parse_kafka_url(url: str) -> KafkaTarget:
    """``kafka://HOST:PORT[,HOST:PORT...]/TOPIC[?replication=N&dedup_window=N]``."""
    parts = urlsplit(url)
    topic = parts.path.strip("/")
    if parts.scheme != "kafka" or not parts.netloc or not topic or "/" in topic:
        raise InvalidSetting(f"storage.log_url: {url!r} is not kafka://HOST:PORT/TOPIC")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    window = pop_dedup_window(query, url)
    try:
        replication = int(query.pop("replication", "1"))
    except ValueError:
        replication = 0
    if query:
        raise InvalidSetting(f"storage.log_url: unknown parameter(s) {sorted(query)} in {url!r}")
    if replication < 1:
        raise InvalidSetting(f"storage.log_url: {url!r}: replication is a whole number >= 1")
    return KafkaTarget(parts.netloc, topic, replication, window)


def encode_rows(rows: Sequence[StoredRow]) -> bytes:
    """One record for the rows of one append: stored whole or not at all."""
    parts = [_EVENTS]
    for row in rows:
        sealed = row[7]
        head = orjson.dumps([*row[:6], 1] if sealed is not None else list(row[:6]))
        body = sealed if sealed is not None else row[6] or b""
        parts += [_LENGTH.pack(len(head)), head, _LENGTH.pack(len(body)), body]
    return b"".join(parts)


def decode_rows(value: bytes) -> list[StoredRow]:
    rows: list[StoredRow] = []
    at = 1
    while at < len(value):
        (size,) = _LENGTH.unpack_from(value, at)
        head = orjson.loads(value[at + 4:at + 4 + size])
        at += 4 + size
        (size,) = _LENGTH.unpack_from(value, at)
        body = value[at + 4:at + 4 + size] or None
        at += 4 + size
        sealed = len(head) > 6 and head[6] == 1
        rows.append((head[0], head[1], head[2], head[3], head[4], head[5],
                     None if sealed else body, body if sealed else None))
    return rows


# what a reader holds for an entry it cannot open (its key destroyed): it keeps its offset
_UNREADABLE = Event(user_id="", item_id="", type="$unreadable", timestamp=0.0)


def _chunks(rows: list[StoredRow], keys: list[str]) -> list[tuple[str, bytes]]:
    """Records of at most ~_RECORD_BYTES each (an append beyond that is several records)."""
    records: list[tuple[str, bytes]] = []
    start = 0
    while start < len(rows):
        end, size = start, 0
        while end < len(rows) and (end == start or size < _RECORD_BYTES):
            size += 64 + len(orjson.dumps(list(rows[end][:6]))) + \
                len(rows[end][6] or rows[end][7] or b"")
            end += 1
        records.append((keys[start], encode_rows(rows[start:end])))
        start = end
    return records


@dataclass
class _Delivery:
    """One append's records on their way to Kafka."""

    pending: int
    offsets: list[int] = field(default_factory=list)
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def delivered(self, error: Any, message: Any) -> None:
        if error is not None:
            self.error = str(error)
        else:
            self.offsets.append(int(message.offset()))
        self.pending -= 1  # callbacks run on the one polling thread
        if self.pending == 0:
            self.done.set()


class KafkaEventLog:
    def __init__(self, url: str, *, timeout_s: float = 30.0, tail_kept: int = 50_000,
                 cipher: EntryCipher | None = None) -> None:
        from confluent_kafka import Consumer, Producer, TopicPartition

        self._tp = TopicPartition
        self.target = parse_kafka_url(url)
        self.url = url
        self.cipher = cipher  # None: entries in the clear (the contract tests' plain format)
        self.timeout_s = timeout_s
        self.tail_kept = tail_kept
        self._common: dict[str, str | int | float | bool] = {
            "bootstrap.servers": self.target.bootstrap,
            "socket.connection.setup.timeout.ms": 10_000}
        self._ensure_topic()
        self._producer = Producer({
            **self._common, "enable.idempotence": True, "acks": "all", "linger.ms": 1,
            "message.timeout.ms": int(timeout_s * 1000)})
        # the view every reader derives (see the module's doc), under one condition
        self._changed = threading.Condition()
        # where accepted event n is, at [n - 1]: its record's Kafka offset, its place in it
        self._kafka_offsets = array("q")
        self._places = array("l")
        self._recent: list[LoggedEvent] = []  # the newest accepted events, decoded
        self._recent_first = 1  # the offset of _recent[0]
        self._ids = DedupWindow(self.target.dedup_window)  # storage/dedup.py
        self._per_user: dict[str, int] = {}  # visible events per user
        self._erased: dict[str, int] = {}  # user -> offset up to which theirs are hidden
        self._visible = 0
        self._consumed = 0  # the next Kafka offset to read
        self._failure: BaseException | None = None
        self._closed = False
        self._readers: list[Any] = []  # consumers lent to reads of old offsets
        self._readers_lock = threading.Lock()
        self._consumer = Consumer(self._consumer_config())
        # watermark queries on a consumer of their own: the reader's is busy in consume()
        self._meta = Consumer(self._consumer_config())
        self._meta_lock = threading.Lock()
        self._consumer.assign([TopicPartition(self.target.topic, _PARTITION, 0)])
        self._threads = [threading.Thread(target=self._poll_producer, daemon=True,
                                          name="kafka-log-producer"),
                         threading.Thread(target=self._consume, daemon=True,
                                          name="kafka-log-reader")]
        for thread in self._threads:
            thread.start()
        self._catch_up_at_open()

    # -- set-up ----------------------------------------------------------------------------
    def _consumer_config(self) -> dict[str, Any]:
        # assign(), never subscribe(): every replica reads the whole partition itself, so no
        # group is joined and nothing is committed (the id is librdkafka's requirement only)
        return {**self._common, "group.id": f"streamrec-reader-{id(self)}",
                "enable.auto.commit": False, "enable.partition.eof": False,
                "fetch.wait.max.ms": 20, "auto.offset.reset": "earliest"}

    def _ensure_topic(self) -> None:
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

        admin = AdminClient(self._common)
        try:
            metadata = admin.list_topics(timeout=self.timeout_s)
        except KafkaException as error:
            raise Unavailable(f"the Kafka cluster at {self.target.bootstrap} cannot be "
                              f"reached: {error}") from error
        topic = metadata.topics.get(self.target.topic)
        if topic is not None and topic.error is None:
            if len(topic.partitions) != 1:
                raise InvalidSetting(
                    f"storage.log_url: topic {self.target.topic!r} has "
                    f"{len(topic.partitions)} partitions; streamrec's log is one total order "
                    "and needs a topic of exactly one partition")
            return
        new = NewTopic(self.target.topic, num_partitions=1,
                       replication_factor=self.target.replication,
                       config={"retention.ms": "-1", "retention.bytes": "-1"})
        for future in admin.create_topics([new]).values():
            try:
                future.result(timeout=self.timeout_s)
            except KafkaException as error:
                if "TOPIC_ALREADY_EXISTS" not in str(error):  # another replica was first
                    raise Unavailable(f"could not create topic {self.target.topic!r}: "
                                      f"{error}") from error

    def _high_watermark(self) -> int:
        from confluent_kafka import KafkaException

        try:
            with self._meta_lock:
                _, high = self._meta.get_watermark_offsets(
                    self._tp(self.target.topic, _PARTITION), timeout=self.timeout_s)
        except KafkaException as error:
            raise Unavailable(f"the Kafka topic cannot be read: {error}") from error
        return int(high)

    def _catch_up_at_open(self) -> None:
        """The view of the whole topic before the log is used: offsets, count, dedup."""
        high = self._high_watermark()
        if not self._wait_consumed(high, self.timeout_s * 10):
            self.close()
            raise Unavailable(f"the Kafka topic {self.target.topic!r} could not be read to "
                              f"its end ({high} records) in time")

    # -- the reader: the one place the view changes -----------------------------------------
    def _consume(self) -> None:
        while not self._closed:
            try:
                # consume(n, t) waits for n records or t seconds: poll for the first, then
                # take whatever else has arrived without waiting
                first = self._consumer.poll(0.1)
                messages = [] if first is None else [first, *self._consumer.consume(1000, 0)]
            except Exception as error:  # a closed consumer at shutdown, or worse
                if not self._closed:
                    log.exception("kafka log reader stopped")
                    self._failure = error
                    with self._changed:
                        self._changed.notify_all()
                return
            if not messages:
                continue
            with self._changed:
                for message in messages:
                    if message.error() is not None:
                        log.warning("kafka log reader: %s", message.error())
                        continue
                    offset = int(message.offset() or 0)
                    if offset < self._consumed:
                        continue
                    try:
                        self._apply_record(offset, message.value() or b"")
                    except StreamrecError as error:  # an entry that fails authentication
                        log.error("kafka log reader stopped at record %d: %s", offset, error)
                        self._failure = error
                        self._changed.notify_all()
                        return
                    self._consumed = offset + 1
                self._changed.notify_all()

    def _apply_record(self, kafka_offset: int, value: bytes) -> None:
        if value[:1] == _ERASE:
            self._apply_erasure(value[1:].decode())
            return
        if value[:1] != _EVENTS:
            log.warning("kafka log: record %d is not streamrec's; skipped", kafka_offset)
            return
        rows = decode_rows(value)
        if self.cipher is not None:  # a record's users' keys in one round trip
            self.cipher.fetch_missing((row[1], row[7]) for row in rows if row[7] is not None)
        for place, row in enumerate(rows):
            event_id, user = row[0], row[1]
            if event_id is not None:
                if event_id in self._ids:
                    continue  # a duplicate: no offset, never read
                self._ids.add(event_id, user)
            self._kafka_offsets.append(kafka_offset)
            self._places.append(place)
            offset = len(self._kafka_offsets)
            self._recent.append(self._logged(offset, row))
            self._per_user[user] = self._per_user.get(user, 0) + 1
            self._visible += 1
        if len(self._recent) >= 2 * self.tail_kept:
            self._recent = self._recent[-self.tail_kept:]
            self._recent_first = len(self._kafka_offsets) - len(self._recent) + 1

    def _logged(self, offset: int, row: StoredRow) -> LoggedEvent:
        """The entry at ``offset``; one whose key was destroyed keeps its offset, unreadable.
        Sealed entries are bound to their user alone (``bound=False``): their writer cannot
        know the offset the readers give them."""
        found = logged_of([(offset, *row)], self.cipher, self.url, bound=False)
        return found[0] if found else LoggedEvent(offset, _UNREADABLE)

    def _apply_erasure(self, user: str) -> None:
        self._erased[user] = len(self._kafka_offsets)
        self._visible -= self._per_user.pop(user, 0)
        self._ids.forget_owner(user)  # an erased event is gone: its id may come again

    def _is_visible(self, entry: LoggedEvent) -> bool:
        return entry.event is not _UNREADABLE and \
            entry.offset > self._erased.get(entry.event.user_id, 0)

    def _wait_consumed(self, kafka_offset: int, timeout_s: float) -> bool:
        """Until every record before ``kafka_offset`` is in the view."""
        with self._changed:
            return self._changed.wait_for(
                lambda: self._consumed >= kafka_offset or self._failure is not None
                or self._closed, timeout_s) and self._consumed >= kafka_offset

    # -- writing ---------------------------------------------------------------------------
    def _poll_producer(self) -> None:
        while not self._closed:
            self._producer.poll(0.05)

    def append(self, events: Sequence[Event]) -> Appended:
        self._check_open()
        if not events:
            return Appended((), 0, self.last_offset())
        try:
            entries = [encode(event, self.cipher) for event in events]
        except (TypeError, ValueError) as error:
            raise InvalidInput("events", f"an event cannot be stored: {error}") from None
        # each user's key exists, durably, before anything is sealed with it
        keys = {} if self.cipher is None else self.cipher.prepare(
            {entry.user_id for entry in entries if entry.payload is not None})
        rows = rows_of([(entry, 0) for entry in entries], self.cipher, keys)
        records = _chunks(rows, [event.user_id for event in events])
        delivery = self._produce(records)
        if not self._wait_consumed(max(delivery.offsets) + 1, self.timeout_s):
            raise Unavailable("the events are durable in Kafka but this replica has not read "
                              "them back in time; do not resend them")
        with self._changed:
            accepted = tuple(offset for k in sorted(delivery.offsets)
                             for offset in self._offsets_of(k))
            head = len(self._kafka_offsets)
        return Appended(accepted, len(events) - len(accepted), accepted[-1] if accepted else head)

    def _produce(self, records: list[tuple[str, bytes]]) -> _Delivery:
        delivery = _Delivery(len(records))
        for key, value in records:
            while True:
                try:
                    self._producer.produce(self.target.topic, value, key.encode(),
                                           partition=_PARTITION, on_delivery=delivery.delivered)
                    break
                except BufferError:  # the local queue is full: let deliveries drain
                    time.sleep(0.01)
        if not delivery.done.wait(self.timeout_s + 5):
            raise Unavailable("Kafka did not acknowledge the events in time; retry with the "
                              "same event_ids (repeats are dropped)")
        if delivery.error is not None:
            raise Unavailable(f"Kafka refused the events: {delivery.error}; retry with the same "
                              "event_ids (repeats are dropped)")
        return delivery

    def _offsets_of(self, kafka_offset: int) -> range:
        """The log offsets the reader gave the events of the record at ``kafka_offset``."""
        return range(bisect_left(self._kafka_offsets, kafka_offset) + 1,
                     bisect_right(self._kafka_offsets, kafka_offset) + 1)

    def delete_user(self, user_id: str) -> int:
        self._check_open()
        with self._changed:
            before = self._per_user.get(user_id, 0)
        if self.cipher is not None:
            # first: a crash before the record leaves the entries unreadable, not readable
            self.cipher.erase(user_id)
        delivery = self._produce([(user_id, _ERASE + user_id.encode())])
        if not self._wait_consumed(delivery.offsets[0] + 1, self.timeout_s):
            raise Unavailable("the erasure is durable in Kafka but was not read back in time")
        return before

    # -- reading ---------------------------------------------------------------------------
    def read(self, after: int, limit: int) -> list[LoggedEvent]:
        found: list[LoggedEvent] = []
        while len(found) < limit:
            with self._changed:
                head = len(self._kafka_offsets)
                if after >= head:
                    break
                if after + 1 >= self._recent_first:
                    start = after + 1 - self._recent_first
                    chunk = self._recent[start:start + limit - len(found)]
                    found.extend(e for e in chunk if self._is_visible(e))
                    after = chunk[-1].offset
                    continue
                end = min(after + limit, self._recent_first - 1)
                wanted = list(zip(self._kafka_offsets[after:end], self._places[after:end],
                                  strict=True))
            fetched = self._fetch(after, wanted)
            with self._changed:
                found.extend(e for e in fetched if self._is_visible(e))
            after += len(wanted)
        return found[:limit]

    def _fetch(self, after: int, wanted: list[tuple[int, int]]) -> list[LoggedEvent]:
        """Accepted events ``after + 1 ...`` at (record offset, place) ``wanted``, from Kafka."""
        from confluent_kafka import Consumer

        with self._readers_lock:
            consumer = self._readers.pop() if self._readers else Consumer(
                self._consumer_config())
        try:
            first, last = wanted[0][0], wanted[-1][0]
            consumer.assign([self._tp(self.target.topic, _PARTITION, first)])
            rows: dict[int, list[StoredRow]] = {}
            deadline = time.monotonic() + self.timeout_s
            while last not in rows:
                if time.monotonic() > deadline:
                    raise Unavailable("the Kafka topic did not answer a read in time")
                remaining = last - (max(rows) if rows else first - 1)
                for message in consumer.consume(min(500, remaining), 0.5):
                    offset = int(message.offset() or 0)
                    if message.error() is None and first <= offset <= last:
                        value = message.value() or b""
                        rows[offset] = decode_rows(value) if value[:1] == _EVENTS else []
            return [self._logged(after + 1 + n, rows[record][place])
                    for n, (record, place) in enumerate(wanted)]
        finally:
            with self._readers_lock:
                self._readers.append(consumer)

    @property
    def dedup_ids(self) -> DedupWindow | None:
        """The ids a re-sent event is compared with (storage/dedup.py)."""
        return self._ids

    def last_offset(self) -> int:
        return len(self._kafka_offsets)

    def count(self) -> int:
        return self._visible

    def wait_for(self, after: int, timeout_s: float) -> bool:
        with self._changed:
            return self._changed.wait_for(
                lambda: len(self._kafka_offsets) > after or self._closed, timeout_s
            ) and len(self._kafka_offsets) > after

    def lag(self) -> int:
        """Records in the topic this replica has not read yet (a query to Kafka)."""
        return max(0, self._high_watermark() - self._consumed)

    def _check_open(self) -> None:
        if self._closed:
            raise Unavailable("the event log is closed")
        if self._failure is not None:
            raise Unavailable(f"the Kafka log's reader stopped: {self._failure}")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._changed:
            self._changed.notify_all()
        for thread in self._threads:
            thread.join()
        self._producer.flush(self.timeout_s)
        self._consumer.close()
        self._meta.close()
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for consumer in readers:
            consumer.close()
        if self.cipher is not None:
            self.cipher.close()
