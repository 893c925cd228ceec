from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from streamrec.errors import InvalidInput
from streamrec.importers.dataset import read_dataset

FileWriter = Callable[..., Path]


def test_a_movielens_folder(write_file: FileWriter) -> None:
    write_file("ml/u.item", f"10|Heat (1995)|||x|{'|'.join(['0'] * 19)}\n")
    folder = write_file("ml/u.data", "1\t10\t4\t300\n2\t10\t5\t100\n").parent
    dataset = read_dataset(folder)
    assert dataset.name == "ml-100k" and dataset.report is None
    assert [event.timestamp for event in dataset.events] == [100.0, 300.0]
    assert [item.item_id for item in dataset.items] == ["10"]


def test_a_preset_is_picked_by_header_and_events_are_sorted_stably(
        write_file: FileWriter) -> None:
    path = write_file("retail.csv", "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,"
                      "UnitPrice,CustomerID,Country\n"
                      "2,B,Bee,1,2011-01-02 10:00:00,1.5,7,UK\n"
                      "1,A,Ay,1,2011-01-01 10:00:00,2,7,UK\n"
                      "1,C,Cee,1,2011-01-01 10:00:00,2,8,UK\n")
    dataset = read_dataset(path)
    assert dataset.name == "online-retail"
    assert [event.item_id for event in dataset.events] == ["A", "C", "B"]
    assert [(item.item_id, item.text, item.attributes["price"]) for item in dataset.items] == [
        ("B", "Bee", 1.5), ("A", "Ay", 2), ("C", "Cee", 2)]


def test_a_generic_events_file(write_file: FileWriter) -> None:
    path = write_file("events.jsonl", '{"user_id": "u", "item_id": "i", "type": "view", '
                      '"timestamp": 9}\n{"user_id": "u", "item_id": "j", "type": "view", '
                      '"timestamp": 3}\n')
    dataset = read_dataset(path)
    assert dataset.name == "events" and dataset.items == []
    assert [event.item_id for event in dataset.events] == ["j", "i"]


def test_a_ratings_csv_that_is_not_movielens_is_a_generic_file(write_file: FileWriter) -> None:
    path = write_file("ratings.csv", "user_id,item_id,type,value,timestamp\nu,i,rating,4,9\n")
    assert read_dataset(path).name == "events"


def test_a_file_with_no_usable_event_is_refused_with_reasons(write_file: FileWriter) -> None:
    path = write_file("events.csv", "user_id,item_id,type,timestamp\nu,i,view,someday\n")
    with pytest.raises(InvalidInput, match="(?s)no events could be read.*line 2: column "
                                           "'timestamp'"):
        read_dataset(path)


def test_a_data_set_folder_with_one_data_file_is_read_as_that_file(
        write_file: FileWriter) -> None:
    write_file("shop/README.md", "# a shop's log\n")
    folder = write_file("shop/log.csv", "user_id,item_id,type,timestamp\n"
                        "u,b,view,2\nu,a,view,1\n").parent
    dataset = read_dataset(folder)
    assert [event.item_id for event in dataset.events] == ["a", "b"]


def test_a_folder_with_several_data_files_names_them(write_file: FileWriter) -> None:
    write_file("two/a.csv", "user_id,item_id,type,timestamp\nu,a,view,1\n")
    folder = write_file("two/b.jsonl", "{}\n").parent
    with pytest.raises(InvalidInput, match=r"a\.csv, b\.jsonl"):
        read_dataset(folder)
