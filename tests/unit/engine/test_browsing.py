"""Reads for the dashboard: the log's tail, an item's days, items found by text."""

from __future__ import annotations

from pathlib import Path

from streamrec.engine.browsing import FindsEvents, item_activity, recent_events, search_items
from streamrec.storage.base import open_log
from streamrec.storage.memory_log import MemoryEventLog
from streamrec.trust.pseudonyms import SESSION_PREFIX
from streamrec.types import Event, Item

DAY = 86_400.0
NOW = 1_700_000_000.0 // DAY * DAY + 3_600  # an hour into a UTC day


def log_of(events: list[Event]) -> MemoryEventLog:
    log = MemoryEventLog()
    log.append(events)
    return log


def test_recent_events_are_newest_first_with_sessions_and_feedback_named() -> None:
    log = log_of([Event("u1", "i1", "view", NOW), Event(SESSION_PREFIX + "s9", "i2", "view", NOW),
                  Event("u1", "i3", "click", NOW, context={"recommendation_id": "r1"})])
    shown, read = recent_events(log, 10)
    assert [e.item_id for e in shown] == ["i3", "i2", "i1"] and read == 3
    assert shown[0].recommendation_id == "r1" and shown[0].user_id == "u1"
    assert shown[1].session_id == "s9" and shown[1].user_id is None


def test_one_users_events_are_found_past_other_users() -> None:
    log = log_of([Event("u1", f"i{n}", "view", NOW) for n in range(3)]
                 + [Event("u2", f"j{n}", "view", NOW) for n in range(12_000)])
    shown, read = recent_events(log, 2, user_key="u1")
    assert [e.item_id for e in shown] == ["i2", "i1"]
    assert read == 12_002


def test_erased_rows_are_not_read_twice() -> None:
    log = log_of([Event(f"u{n % 3}", f"i{n}", "view", NOW) for n in range(12_000)])
    log.delete_user("u1")
    shown, _ = recent_events(log, 20_000)
    offsets = [e.offset for e in shown]
    assert offsets == sorted(set(offsets), reverse=True) and len(offsets) == 8_000


def test_an_items_events_are_counted_per_day() -> None:
    log = log_of([Event("u1", "i1", "view", NOW), Event("u2", "i1", "purchase", NOW - DAY),
                  Event("u2", "i1", "view", NOW - DAY), Event("u3", "i2", "view", NOW),
                  Event("u3", "i1", "view", NOW - 40 * DAY)])
    days, read, complete = item_activity(log, "i1", days=3, now=NOW)
    assert [d.events for d in days] == [0, 2, 1]
    assert days[1].by_type == {"purchase": 1, "view": 1}
    assert days[2].day == "2023-11-14" and read == 5 and complete


def test_items_are_found_by_id_first_then_by_text_or_title() -> None:
    items = [Item("coat-2", {"title": "Red coat"}), Item("shoe", {}, "a coat hanger shoe"),
             Item("coat", {"title": "Blue"}), Item("hat", {"title": "Wool hat"})]
    assert [i.item_id for i in search_items(items, "COAT", 10)] == ["coat", "coat-2", "shoe"]
    assert [i.item_id for i in search_items(items, "wool", 10)] == ["hat"]
    assert search_items(items, "coat", 1)[0].item_id == "coat"


def test_the_sqlite_logs_own_queries_answer_as_the_scan_does(tmp_path: Path) -> None:
    events = [Event(f"u{n % 5}", f"i{n % 7}", "view" if n % 3 else "cart", NOW - (n % 4) * DAY)
              for n in range(300)]
    scanned, indexed = log_of(events), open_log(f"sqlite:///{tmp_path / 'events.db'}")
    try:
        indexed.append(events)
        assert isinstance(indexed, FindsEvents) and not isinstance(scanned, FindsEvents)
        for user in ("u0", "u3", "nobody"):
            # the same events (the scan stops reading once it has them)
            assert recent_events(indexed, 7, user, scan=120)[0] == recent_events(
                scanned, 7, user, scan=120)[0]
        for item in ("i0", "i6"):
            assert item_activity(indexed, item, 5, NOW, scan=200) == item_activity(
                scanned, item, 5, NOW, scan=200)
    finally:
        indexed.close()
