"""The importers on the shared public datasets, checked against their verified counts.

Each data set is read once per module. Counts come from the datasets' READMEs (verified there
independently, with pandas); a change here means a reader changed, not the data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import pytest

from streamrec.importers.dataset import Dataset, read_dataset
from streamrec.importers.movielens import detect_layout

Locate = Callable[[str], Path]


def _utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def _check_sorted(dataset: Dataset) -> None:
    assert all(a.timestamp <= b.timestamp for a, b in pairwise(dataset.events))


@pytest.fixture(scope="module")
def ml_100k(shared_dataset: Locate) -> Dataset:
    return read_dataset(shared_dataset("movielens-100k"))


@pytest.fixture(scope="module")
def ml_latest_small(shared_dataset: Locate) -> Dataset:
    return read_dataset(shared_dataset("movielens-latest-small"))


@pytest.fixture(scope="module")
def online_retail(shared_dataset: Locate) -> Dataset:
    return read_dataset(shared_dataset("online-retail") / "online_retail.csv.gz")


@pytest.fixture(scope="module")
def diginetica(shared_dataset: Locate) -> Dataset:
    return read_dataset(shared_dataset("diginetica-sample") / "sample_train-item-views.csv.gz")


def test_movielens_100k(ml_100k: Dataset) -> None:
    assert ml_100k.name == "ml-100k"
    assert len(ml_100k.events) == 100_000
    assert len({event.user_id for event in ml_100k.events}) == 943
    assert len({event.item_id for event in ml_100k.events}) == 1_682
    assert len(ml_100k.items) == 1_682
    assert Counter(event.value for event in ml_100k.events) == {
        1.0: 6_110, 2.0: 11_370, 3.0: 27_145, 4.0: 34_174, 5.0: 21_201}
    assert (ml_100k.events[0].timestamp, ml_100k.events[-1].timestamp) == (874_724_710.0,
                                                                            893_286_638.0)
    assert len({event.event_id for event in ml_100k.events}) == 100_000
    _check_sorted(ml_100k)
    toy_story = ml_100k.items[0]
    assert toy_story.attributes == {"title": "Toy Story (1995)", "year": 1995, "tags": [],
                                    "genres": ["Animation", "Children's", "Comedy"]}


def test_movielens_latest_small(ml_latest_small: Dataset, shared_dataset: Locate) -> None:
    assert detect_layout(shared_dataset("movielens-latest-small")) == "ml-latest"
    assert len(ml_latest_small.events) == 100_004
    assert len({event.user_id for event in ml_latest_small.events}) == 671
    assert len({event.item_id for event in ml_latest_small.events}) == 9_066
    assert len(ml_latest_small.items) == 9_125
    first, last = ml_latest_small.events[0].timestamp, ml_latest_small.events[-1].timestamp
    assert _utc("1995-01-09") <= first < _utc("1995-01-10")
    assert _utc("2016-10-16") <= last < _utc("2016-10-17")
    _check_sorted(ml_latest_small)
    assert sum(1 for item in ml_latest_small.items if item.attributes["tags"]) > 0


def test_online_retail_clean_purchases(online_retail: Dataset) -> None:
    assert online_retail.name == "online-retail"
    report = online_retail.report
    assert report is not None
    assert report.rows_read == 541_909
    assert len(online_retail.events) == report.produced == 397_884
    # each row counted once, by the first filter it fails, in the preset's order
    assert report.filtered_by == {"CustomerID!=": 135_080, "Quantity>0": 8_905,
                                  "UnitPrice>0": 40}
    assert (report.rejected, report.skipped_anonymous) == (0, 0)
    assert len({event.user_id for event in online_retail.events}) == 4_338
    assert len({event.item_id for event in online_retail.events}) == 3_665
    assert {event.type for event in online_retail.events} == {"purchase"}
    assert all(event.value is not None and event.value > 0 for event in online_retail.events)
    assert online_retail.events[0].timestamp == _utc("2010-12-01 08:26:00")
    assert online_retail.events[-1].timestamp == _utc("2011-12-09 12:50:00")
    _check_sorted(online_retail)


def test_online_retail_items(online_retail: Dataset) -> None:
    assert len(online_retail.items) == 3_665
    assert all(item.attributes["price"] > 0 for item in online_retail.items)
    assert sum(1 for item in online_retail.items if item.text) == 3_665
    # 210 stock codes were renamed over the year; the last name and price in file order win
    lantern = next(item for item in online_retail.items if item.item_id == "71053")
    assert (lantern.text, lantern.attributes) == ("WHITE MOROCCAN METAL LANTERN",
                                                  {"price": 3.75})


def test_diginetica_views(diginetica: Dataset) -> None:
    assert diginetica.name == "diginetica"
    assert len(diginetica.events) == 12_391
    assert {event.type for event in diginetica.events} == {"view"}
    assert len({event.item_id for event in diginetica.events}) == 7_139
    known = [event for event in diginetica.events if not event.user_id.startswith("session:")]
    assert len(known) == 4_710
    assert len({event.user_id for event in known}) == 1_270
    sessions = {event.context["session"] for event in diginetica.events if event.context}
    assert len(sessions) == 2_986
    assert _utc("2016-01-03") <= diginetica.events[0].timestamp < _utc("2016-01-04")
    assert _utc("2016-06-01") <= diginetica.events[-1].timestamp < _utc("2016-06-02")
    _check_sorted(diginetica)
