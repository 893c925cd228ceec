"""A timestamp is optional in a file as it is in the API: an event without one gets the time
the import started, from CSV and JSON lines alike; a named or present column still counts."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from streamrec.errors import InvalidInput
from streamrec.importers.events_file import read_events
from streamrec.importers.report import ImportReport
from streamrec.importers.spec import Columns, EventFileSpec

FileWriter = Callable[..., Path]


def _read(path: Path, spec: EventFileSpec | None = None) -> tuple[list[float], ImportReport]:
    report = ImportReport()
    return [event.timestamp for event in read_events(path, spec, report=report)], report


@pytest.mark.parametrize(("name", "text"), [
    ("events.csv", "user_id,item_id,type\nu1,i1,view\nu2,i1,purchase\n"),
    ("events.jsonl", '{"user_id": "u1", "item_id": "i1", "type": "view"}\n'
                     '{"user_id": "u2", "item_id": "i1", "type": "purchase", "timestamp": null}\n'),
])
def test_events_without_a_time_get_the_time_the_import_started(
        write_file: FileWriter, name: str, text: str) -> None:
    before = time.time()
    timestamps, report = _read(write_file(name, text))
    after = time.time()
    assert (report.produced, report.rejected) == (2, 0)
    assert timestamps[0] == timestamps[1]
    assert before <= timestamps[0] <= after


def test_rows_with_and_without_a_time_mix_in_json_lines(write_file: FileWriter) -> None:
    path = write_file("events.jsonl", '{"user_id": "u", "item_id": "i", "type": "view", '
                      '"timestamp": 5}\n{"user_id": "u", "item_id": "j", "type": "view"}\n')
    timestamps, _ = _read(path)
    assert timestamps[0] == 5.0 and timestamps[1] > 5.0


def test_an_empty_cell_in_a_timestamp_column_is_still_rejected(write_file: FileWriter) -> None:
    path = write_file("events.csv", "user_id,item_id,type,timestamp\nu,i,view,\nu,j,view,7\n")
    timestamps, report = _read(path)
    assert timestamps == [7.0]
    assert report.rejected == 1 and "'timestamp': is empty" in report.summary()


def test_a_named_timestamp_column_must_exist(write_file: FileWriter) -> None:
    path = write_file("events.csv", "user_id,item_id,type\nu,i,view\n")
    with pytest.raises(InvalidInput, match="no column 'when'"):
        read_events(path, EventFileSpec(columns=Columns(timestamp="when")))
