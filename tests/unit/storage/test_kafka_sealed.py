"""The Kafka log with the entry codec's encryption: replicas sharing a topic and a Redis key
store read each other's sealed entries; an erasure destroys the key, and the records that stay
in the topic read as erased on every replica, now and on a replay from the start."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from streamrec.storage.codec import EntryCipher
from streamrec.storage.kafka_log import KafkaEventLog
from streamrec.storage.keystore import KeyWrapper, master_key
from streamrec.storage.redis_keystore import RedisKeyStore
from streamrec.types import Event

SECRET = "kafka-test-secret"
ALICE_ITEM, ALICE_CONTEXT, ALICE_EVENT = "alice-only-item-4d2e", "alice-ctx-8f1a", "alice-ev-5c"


def sealed_log(url: str, redis_url: str, prefix: str) -> KafkaEventLog:
    keys = RedisKeyStore(f"{redis_url}/0", KeyWrapper(master_key(SECRET, Path("."))), prefix)
    return KafkaEventLog(url, cipher=EntryCipher(keys))


def topic_bytes(bootstrap: str, topic: str) -> bytes:
    """Every record of the topic as Kafka holds it."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        values, empty = [], 0
        while empty < 5:
            batch = consumer.consume(500, 0.5)
            empty = 0 if batch else empty + 1
            values += [m.value() or b"" for m in batch if m.error() is None]
        return b"".join(values)
    finally:
        consumer.close()


def test_replicas_read_sealed_entries_and_an_erasure_reaches_every_copy(
        kafka_broker: Any, redis_url: str) -> None:
    topic, prefix = f"t-{uuid.uuid4().hex[:12]}", f"k-{uuid.uuid4().hex[:8]}:"
    url = f"kafka://{kafka_broker.bootstrap}/{topic}"
    one, two = sealed_log(url, redis_url, prefix), sealed_log(url, redis_url, prefix)
    try:
        alice = [Event("alice", ALICE_ITEM, "view", 1.0, event_id=ALICE_EVENT,
                       context={"campaign": ALICE_CONTEXT}),
                 Event("alice", "shared", "click", 2.0)]
        bob = [Event("bob", "shared", "view", 3.0, event_id="b1")]
        one.append(alice + bob)
        assert two.append(bob).duplicates == 1  # the tag deduplicates across replicas
        two.wait_for(0, 10.0)
        assert [e.event for e in two.read(0, 10)] == alice + bob
        stored = topic_bytes(kafka_broker.bootstrap, topic)
        assert b"alice" in stored  # the test can see the records
        assert ALICE_ITEM.encode() not in stored and ALICE_CONTEXT.encode() not in stored
        assert ALICE_EVENT.encode() not in stored  # its id is a keyed tag

        assert one.delete_user("alice") == 2
        later = Event("carol", "later", "view", 4.0)
        one.append([later])
        two.wait_for(one.last_offset() - 1, 10.0)
        for replica in (one, two):
            assert [e.event for e in replica.read(0, 10)] == bob + [later]
        # a replica started after the erasure reads the topic from its start: the same
        three = sealed_log(url, redis_url, prefix)
        try:
            assert three.read(0, 10) == one.read(0, 10)
            assert three.last_offset() == one.last_offset()
        finally:
            three.close()
        # nothing of hers can be opened by anyone: her key is gone from the shared store
        assert one.cipher is not None and one.cipher.keys.get("alice") is None
    finally:
        one.close()
        two.close()
