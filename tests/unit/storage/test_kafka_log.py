"""What the Kafka log adds to the EventLog contract (tests/contracts/test_event_log.py):
its bounded dedup window, reads of old offsets from Kafka, and its URL."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from streamrec.errors import InvalidSetting
from streamrec.storage.kafka_log import KafkaEventLog, parse_kafka_url
from streamrec.types import Event


def _topic_url(broker: Any, query: str = "") -> str:
    return f"kafka://{broker.bootstrap}/t-{uuid.uuid4().hex[:12]}{query}"


def test_the_url_names_brokers_topic_and_options() -> None:
    target = parse_kafka_url("kafka://a:9092,b:9092/events?replication=3&dedup_window=10")
    assert (target.bootstrap, target.topic, target.replication, target.dedup_window) == (
        "a:9092,b:9092", "events", 3, 10)
    for wrong in ("kafka://a:9092", "kafka:///events", "kafka://a:9092/t?colour=red",
                  "kafka://a:9092/t?replication=0"):
        with pytest.raises(InvalidSetting):
            parse_kafka_url(wrong)


def test_old_offsets_are_read_from_kafka_with_erasures_and_duplicates_left_out(
        kafka_broker: Any) -> None:
    log = KafkaEventLog(_topic_url(kafka_broker), tail_kept=3)
    try:
        sent = [Event(f"u{n % 3}", f"i{n}", "view", float(n), event_id=f"e{n}")
                for n in range(30)]
        for start in range(0, 30, 4):
            log.append(sent[start:start + 4])
        assert log.append(sent[5:9]).duplicates == 4
        assert log.delete_user("u1") == 10
        kept = [e for e in sent if e.user_id != "u1"]
        assert [e.event for e in log.read(0, 1000)] == kept
        paged = []
        while page := log.read(paged[-1].offset if paged else 0, 4):
            paged.extend(page)
        assert [e.event for e in paged] == kept
        assert log.count() == 20 and log.last_offset() == 30
    finally:
        log.close()


def test_dedup_covers_the_window_of_newest_accepted_ids_only(kafka_broker: Any) -> None:
    log = KafkaEventLog(_topic_url(kafka_broker, "?dedup_window=2"))
    try:
        first = Event("u", "i0", "view", 0.0, event_id="a")
        log.append([first, Event("u", "i1", "view", 1.0, event_id="b")])
        assert log.append([first]).duplicates == 1  # "a" is still among the newest two
        log.append([Event("u", "i2", "view", 2.0, event_id="c")])
        assert log.append([first]).accepted == 1  # "a" left the window: stored again
    finally:
        log.close()


def test_a_second_reader_derives_the_same_offsets(kafka_broker: Any) -> None:
    url = _topic_url(kafka_broker)
    writer = KafkaEventLog(url)
    try:
        writer.append([Event("u", "i", "view", 1.0, event_id="a")] * 3
                      + [Event("v", "j", "view", 2.0)])
        writer.delete_user("u")
        writer.append([Event("u", "i", "view", 3.0, event_id="a")])
        reader = KafkaEventLog(url)
        try:
            assert reader.read(0, 100) == writer.read(0, 100)
            assert (reader.count(), reader.last_offset()) == (writer.count(),
                                                              writer.last_offset())
        finally:
            reader.close()
    finally:
        writer.close()
