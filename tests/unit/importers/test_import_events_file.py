from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from streamrec.errors import InvalidInput
from streamrec.importers.events_file import (
    read_events,
    read_events_and_items,
    read_items_from_events,
)
from streamrec.importers.presets import PRESETS
from streamrec.importers.report import ImportReport
from streamrec.importers.spec import Columns, EventFileSpec
from streamrec.types import Event

FileWriter = Callable[..., Path]

GENERIC = """user_id,item_id,type,value,timestamp
u1,i1,view,,1700000000
u2,i2,rating,4.5,2023-11-14T22:13:21Z
"""

RETAIL = """InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom
536366,71053,WHITE METAL LANTERN,6,2010-12-01 08:28:00,3.39,,United Kingdom
C536379,85123A,WHITE HANGING HEART,-1,2010-12-01 09:41:00,2.55,14527,United Kingdom
536380,22139,"LANTERN, RETRO",3,2010-12-01 09:45:00,0,13047,United Kingdom
536381,85123A,,2,2010-12-01 09:50:00,2.95,13047,France
536382,71053,WHITE METAL LANTERN,two,2010-12-01 09:51:00,3.39,13047,France
"""

DIGINETICA = """session_id;user_id;item_id;timeframe;eventdate
1;NA;81766;526309;2016-05-09
1;NA;31331;1031018;2016-05-09
2;5;9654;75848;2016-05-09
3;;1;0;2016-05-10"""


def _read(path: Path, spec: EventFileSpec | None = None) -> tuple[list[Event], ImportReport]:
    report = ImportReport()
    return list(read_events(path, spec, report=report)), report


def test_a_generic_csv_with_the_default_columns(write_file: FileWriter) -> None:
    events, report = _read(write_file("events.csv", GENERIC))
    assert events == [
        Event("u1", "i1", "view", 1_700_000_000.0),
        Event("u2", "i2", "rating", 1_700_000_001.0, value=4.5),
    ]
    assert (report.rows_read, report.produced, report.rejected) == (2, 2, 0)


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_the_delimiter_is_sniffed_from_the_header(write_file: FileWriter,
                                                  delimiter: str) -> None:
    path = write_file("events.txt", GENERIC.replace(",", delimiter))
    events, _ = _read(path)
    assert [event.item_id for event in events] == ["i1", "i2"]


def test_gzip_is_read_by_its_suffix(write_file: FileWriter) -> None:
    events, _ = _read(write_file("events.csv.gz", GENERIC))
    assert len(events) == 2


def test_json_lines_with_mapped_keys_and_a_fixed_type(write_file: FileWriter) -> None:
    path = write_file("events.jsonl", '{"who": "u1", "what": 7, "when": 1700000000000}\n\n'
                      '{"who": "u2", "what": "i2", "when": "2023-11-14", "id": "e2"}\n')
    spec = EventFileSpec(columns=Columns(user="who", item="what", timestamp="when",
                                         event_id="id"), fixed_type="click")
    events, _ = _read(path, spec)
    assert events == [Event("u1", "7", "click", 1_700_000_000.0),
                      Event("u2", "i2", "click", 1_699_920_000.0, event_id="e2")]


def test_json_lines_keep_a_context_object_and_add_the_session(write_file: FileWriter) -> None:
    path = write_file("events.jsonl", '{"user_id": "u", "item_id": "i", "type": "view", '
                      '"timestamp": 5, "sid": "s1", "context": {"page": "home"}}\n'
                      '{"user_id": "u", "item_id": "i", "type": "view", "timestamp": 5, '
                      '"context": "home"}\n')
    events, report = _read(path, EventFileSpec(columns=Columns(session="sid")))
    assert [event.context for event in events] == [{"page": "home", "session": "s1"}]
    assert "line 2: column 'context': is not a JSON object" in report.reasons[0]


def test_a_csv_column_named_context_is_just_a_column(write_file: FileWriter) -> None:
    path = write_file("events.csv", "user_id,item_id,type,timestamp,context\nu,i,view,5,home\n")
    assert _read(path)[0][0].context is None


def test_json_lines_are_recognised_by_content(write_file: FileWriter) -> None:
    path = write_file("events.log", '{"user_id": "u", "item_id": "i", "type": "view", '
                      '"timestamp": 5}\n')
    assert [event.timestamp for event in _read(path)[0]] == [5.0]


def test_bad_rows_are_rejected_counted_and_named(write_file: FileWriter) -> None:
    path = write_file("events.csv", GENERIC + "u3,i3,view,abc,1700000000\n"
                      "u4,,view,,1700000000\n" "u5,i5,view,,someday\n" "u6,i6\n"
                      "u7,i7,,,1700000000\n" "u8,i8,view,inf,1700000000\n"
                      "u9,i9,view,1,1700000009\n")
    events, report = _read(path)
    assert [event.user_id for event in events] == ["u1", "u2", "u9"]
    assert (report.rows_read, report.produced, report.rejected) == (9, 3, 6)
    assert report.reasons[:2] == [f"{path}: line 4: column 'value': 'abc' is not a number",
                                  f"{path}: line 5: column 'item_id': is missing or empty"]
    assert len(report.reasons) == report.max_reasons == 5
    assert "line 7: has 2 fields; the header has 5" in report.reasons[3]


def test_bad_json_lines_are_rejected_and_reading_goes_on(write_file: FileWriter) -> None:
    path = write_file("events.jsonl", '{"user_id": "u", "item_id": "i", "type": "view", '
                      '"timestamp": 5}\n{"user_id": \n[1, 2]\n'
                      '{"user_id": "u", "item_id": "j", "type": "view", "timestamp": 6}\n')
    events, report = _read(path)
    assert [event.item_id for event in events] == ["i", "j"]
    assert report.rejected == 2
    assert "line 2: is not valid JSON" in report.reasons[0]
    assert "line 3: is not a JSON object" in report.reasons[1]


def test_the_online_retail_preset_keeps_clean_purchases(write_file: FileWriter) -> None:
    events, report = _read(write_file("retail.csv", RETAIL), PRESETS["online-retail"])
    assert events == [
        Event("17850", "85123A", "purchase", 1_291_191_960.0, value=6.0,
              event_id="online-retail:2"),
        Event("13047", "85123A", "purchase", 1_291_197_000.0, value=2.0,
              event_id="online-retail:6"),
    ]
    assert report.filtered_by == {"CustomerID!=": 1, "Quantity>0": 1, "UnitPrice>0": 1}
    assert report.rejected == 1 and "column 'Quantity': 'two' is not a number" in \
        report.reasons[0]
    assert report.rows_read == report.produced + report.skipped_by_filters + \
        report.skipped_anonymous + report.rejected


def test_value_scale_and_user_prefix(write_file: FileWriter) -> None:
    spec = EventFileSpec(value_scale=0.5, user_prefix="shop1:")
    events, _ = _read(write_file("events.csv", GENERIC), spec)
    assert [(event.user_id, event.value) for event in events] == [("shop1:u1", None),
                                                                  ("shop1:u2", 2.25)]


def test_diginetica_date_plus_offset_and_session_users(write_file: FileWriter) -> None:
    events, report = _read(write_file("views.csv.gz", DIGINETICA), PRESETS["diginetica"])
    assert [(event.user_id, event.timestamp, event.context) for event in events] == [
        ("session:1", 1_462_752_526.309, {"session": "1"}),
        ("session:1", 1_462_753_031.018, {"session": "1"}),
        ("5", 1_462_752_075.848, {"session": "2"}),
        ("session:3", 1_462_838_400.0, {"session": "3"}),
    ]
    assert {event.type for event in events} == {"view"}
    assert events[0].event_id == "diginetica:2"
    assert report.produced == 4


def test_anonymous_rows_are_skipped_when_asked_or_without_a_session(
        write_file: FileWriter) -> None:
    path = write_file("views.csv", DIGINETICA)
    skip = EventFileSpec(columns=Columns(session="session_id", timestamp="eventdate"),
                         fixed_type="view", anonymous="skip")
    no_session = EventFileSpec(columns=Columns(timestamp="eventdate"), fixed_type="view")
    for spec in (skip, no_session):
        events, report = _read(path, spec)
        assert [event.user_id for event in events] == ["5"]
        assert report.skipped_anonymous == 3


@pytest.mark.parametrize(("spec", "message"), [
    (EventFileSpec(columns=Columns(user="customer")), "no column 'customer'"),
    (EventFileSpec(columns=Columns(value="qty")), "no column 'qty'"),
    (EventFileSpec(filters=("Quantity>0",)), "no column 'Quantity'"),
])
def test_a_missing_column_is_refused_before_reading(write_file: FileWriter,
                                                     spec: EventFileSpec, message: str) -> None:
    path = write_file("events.csv", GENERIC)
    with pytest.raises(InvalidInput, match=message) as raised:
        read_events(path, spec)  # no iteration needed: the header is checked at once
    assert str(path) in raised.value.message and "line 1" in raised.value.message


def test_no_type_column_needs_a_fixed_type(write_file: FileWriter) -> None:
    path = write_file("events.csv", "user_id,item_id,timestamp\nu,i,5\n")
    with pytest.raises(InvalidInput, match="fixed type") as raised:
        read_events(path)
    assert raised.value.field == "fixed_type"
    assert _read(path, EventFileSpec(fixed_type="view"))[0][0].type == "view"


def test_unreadable_files_raise(write_file: FileWriter, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        read_events(tmp_path / "missing.csv")
    with pytest.raises(InvalidInput, match="is a directory"):
        read_events(tmp_path)
    with pytest.raises(InvalidInput, match="empty"):
        read_events(write_file("empty.csv", "\n\n"))
    not_gzip = tmp_path / "plain.csv.gz"
    not_gzip.write_bytes(b"user_id,item_id\n")
    with pytest.raises(InvalidInput, match="cannot be read"):
        read_events(not_gzip)


def test_a_truncated_gzip_raises_after_the_rows_before_the_damage(
        write_file: FileWriter) -> None:
    path = write_file("events.csv.gz", GENERIC * 50)
    path.write_bytes(path.read_bytes()[:-12])
    with pytest.raises(InvalidInput, match="cannot be read"):
        list(read_events(path))


def test_the_wrong_encoding_names_the_line(write_file: FileWriter) -> None:
    path = write_file("events.csv", GENERIC + "u3,Café,view,,1700000000\n", encoding="latin-1")
    with pytest.raises(InvalidInput, match=r"line 4: not valid utf-8-sig") as raised:
        list(read_events(path))
    assert raised.value.field == "encoding"
    events, _ = _read(path, EventFileSpec(encoding="latin-1"))
    assert events[-1].item_id == "Café"


def test_items_from_events_last_non_empty_value_wins(write_file: FileWriter) -> None:
    path = write_file("retail.csv", RETAIL)
    report = ImportReport()
    items = list(read_items_from_events(path, PRESETS["online-retail"], "Description",
                                        {"price": "UnitPrice"}, report=report))
    assert [(item.item_id, item.text, dict(item.attributes), item.updated_at)
            for item in items] == [("85123A", "WHITE HANGING HEART", {"price": 2.95},
                                    1_291_197_000.0)]
    assert report.produced == 1
    events, both = read_events_and_items(path, PRESETS["online-retail"], "Description",
                                         {"price": "UnitPrice"})
    assert len(events) == 2 and both == items


def test_items_from_events_needs_its_columns(write_file: FileWriter) -> None:
    with pytest.raises(InvalidInput, match="no column 'Title'"):
        read_items_from_events(write_file("retail.csv", RETAIL), PRESETS["online-retail"],
                               "Title")
