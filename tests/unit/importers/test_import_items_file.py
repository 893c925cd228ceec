from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from streamrec.errors import InvalidInput
from streamrec.importers.items_file import read_items
from streamrec.importers.report import ImportReport
from streamrec.types import Item

FileWriter = Callable[..., Path]


def test_json_lines(write_file: FileWriter) -> None:
    path = write_file("items.jsonl", "\n".join([
        '{"item_id": "i1", "text": "Red shoe", "attributes": {"color": "red"}, '
        '"available": false, "updated_at": "2023-11-14T22:13:20Z"}',
        '{"item_id": 2, "price": 9.5, "tags": ["a", "b"]}',
    ]))
    assert list(read_items(path)) == [
        Item("i1", {"color": "red"}, "Red shoe", is_available=False, updated_at=1_700_000_000.0),
        Item("2", {"price": 9.5, "tags": ["a", "b"]}),
    ]


def test_csv_columns_become_attributes_with_numbers_read(write_file: FileWriter) -> None:
    path = write_file("items.csv.gz", "item_id,text,price,stock,code,color,is_available\n"
                      "i1,Red shoe,9.50,3,007,,no\n" "i2,,12,0,85123A,blue,\n")
    assert list(read_items(path)) == [
        Item("i1", {"price": 9.5, "stock": 3, "code": "007"}, "Red shoe", is_available=False),
        Item("i2", {"price": 12, "stock": 0, "code": "85123A", "color": "blue"}),
    ]


def test_bad_rows_are_rejected_and_counted(write_file: FileWriter) -> None:
    path = write_file("items.jsonl", "\n".join([
        '{"item_id": "ok"}', '{"text": "no id"}', '{"item_id": "i", "attributes": [1]}',
        '{"item_id": "i", "available": "maybe"}', '{"item_id": "i", "updated_at": "soon"}',
        '{"item_id": "i", "text": 5}', 'not json',
    ]))
    report = ImportReport()
    assert [item.item_id for item in read_items(path, report=report)] == ["ok"]
    assert (report.rows_read, report.produced, report.rejected) == (7, 1, 6)
    assert report.reasons[0] == f"{path}: line 2: column 'item_id': is missing, empty or " \
                                "not a string"


def test_a_csv_without_item_id_is_refused(write_file: FileWriter) -> None:
    with pytest.raises(InvalidInput, match="no column 'item_id'"):
        read_items(write_file("items.csv", "id,text\n1,x\n"))


def test_the_format_can_be_forced_and_is_checked(write_file: FileWriter) -> None:
    path = write_file("items.data", '{"item_id": "i1"}\n')
    assert [item.item_id for item in read_items(path, file_format="jsonl")] == ["i1"]
    with pytest.raises(InvalidInput, match="format must be"):
        read_items(path, file_format="xlsx")
