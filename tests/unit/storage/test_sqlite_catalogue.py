"""The SQLite catalogue: upsert replaces, get and scan read back, a reopen keeps everything."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from streamrec.errors import Damaged
from streamrec.storage.base import open_catalogue
from streamrec.storage.sqlite_catalogue import SQLiteCatalogue
from streamrec.types import Item


def test_items_round_trip_and_upsert_replaces(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalogue.db'}"
    catalogue = open_catalogue(url)
    try:
        first = Item("i1", {"category": "books", "tags": ["a", "b"], "price": 9.5}, "A book",
                     True, 1.0)
        catalogue.upsert([first, Item("i2", is_available=False)])
        assert catalogue.get("i1") == first
        catalogue.upsert([Item("i1", {"category": "films"}, "", False, 2.0)])
        assert catalogue.get("i1") == Item("i1", {"category": "films"}, "", False, 2.0)
        assert catalogue.get("missing") is None
        assert catalogue.count() == 2
    finally:
        catalogue.close()
    reopened = open_catalogue(url)
    try:
        assert [item.item_id for item in reopened.scan()] == ["i1", "i2"]
        assert reopened.get("i2") == Item("i2", is_available=False)
    finally:
        reopened.close()


def test_scan_pages_through_many_items_in_id_order(tmp_path: Path) -> None:
    catalogue = open_catalogue("memory:")
    try:
        ids = [f"item-{n:05d}" for n in range(2_500)]
        catalogue.upsert(Item(item_id) for item_id in reversed(ids))
        assert [item.item_id for item in catalogue.scan()] == ids
    finally:
        catalogue.close()


def test_a_catalogue_file_damaged_under_it_is_named_not_a_bare_error(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.db"
    catalogue = SQLiteCatalogue(str(path))
    catalogue.upsert([Item("a")])
    for file in tmp_path.iterdir():  # overwritten while open (a bad disk, a stray copy)
        file.write_bytes(b"not a database " * 1000)
    with pytest.raises(Damaged, match=re.escape(str(path))):
        catalogue.upsert([Item("b")])
    with pytest.raises(Damaged, match="is damaged"):
        catalogue.get("a")


def test_versions_are_every_item_id_with_its_updated_at(tmp_path: Path) -> None:
    catalogue = SQLiteCatalogue(str(tmp_path / "catalogue.db"))
    try:
        catalogue.upsert([Item(f"i{n:05d}", {"n": n}, "", True, float(n)) for n in range(12_345)])
        assert list(catalogue.versions()) == [(item.item_id, item.updated_at)
                                             for item in catalogue.scan()]
        assert len(list(catalogue.versions())) == 12_345
    finally:
        catalogue.close()


def test_items_stay_marked_unlogged_until_marked_logged(tmp_path: Path) -> None:
    """What a start compares with the log: only the items the catalogue stored and no one
    has marked logged since (a crash, or a refused log write, between the two writes)."""
    catalogue = SQLiteCatalogue(str(tmp_path / "catalogue.db"))
    try:
        assert catalogue.unlogged() == []  # a new catalogue tracks from its first item
        catalogue.upsert([Item("a", updated_at=1.0), Item("b", updated_at=2.0)])
        catalogue.upsert([Item("c")], logged=True)  # from the log (a replica following it)
        assert [item.item_id for item in catalogue.unlogged() or []] == ["a", "b"]
        catalogue.mark_logged(["a"])
        assert catalogue.unlogged() == [Item("b", updated_at=2.0)]
    finally:
        catalogue.close()
    reopened = SQLiteCatalogue(str(tmp_path / "catalogue.db"))
    try:
        assert [item.item_id for item in reopened.unlogged() or []] == ["b"]
    finally:
        reopened.close()


def test_a_catalogue_from_before_the_marks_is_unknown_until_checked_whole(
    tmp_path: Path,
) -> None:
    path = tmp_path / "catalogue.db"
    old = sqlite3.connect(path)  # the items table alone, as earlier versions made it
    old.execute("CREATE TABLE items (item_id TEXT PRIMARY KEY, attributes BLOB NOT NULL,"
                " text TEXT NOT NULL, available INTEGER NOT NULL, updated_at REAL NOT NULL)")
    old.execute("INSERT INTO items VALUES ('a', '{}', '', 1, 1.0)")
    old.commit()
    old.close()
    catalogue = SQLiteCatalogue(str(path))
    try:
        assert catalogue.unlogged() is None  # every item's version must be compared
        catalogue.upsert([Item("b")])
        assert catalogue.unlogged() is None
        catalogue.mark_logged(None)  # compared: from now on the marks say
        assert catalogue.unlogged() == []
        catalogue.upsert([Item("c")])
        assert catalogue.unlogged() == [Item("c")]
    finally:
        catalogue.close()


def test_marking_an_upsert_logged_leaves_the_other_marks(tmp_path: Path) -> None:
    """The last upsert's marks are deleted as one range of rows; any other ids one by one.
    Neither may clear a mark left by an earlier upsert (a log that refused it)."""
    catalogue = SQLiteCatalogue(str(tmp_path / "catalogue.db"))
    try:
        catalogue.upsert([Item("refused-1"), Item("refused-2")])  # never marked logged
        catalogue.upsert([Item("a"), Item("b"), Item("refused-1")])
        catalogue.mark_logged(["a", "b", "refused-1"])  # the last upsert: its range
        assert [item.item_id for item in catalogue.unlogged() or []] == ["refused-1",
                                                                         "refused-2"]
        catalogue.upsert([Item("c"), Item("d")])
        catalogue.mark_logged(["d", "refused-2"])  # not the last upsert's ids: one by one
        assert [item.item_id for item in catalogue.unlogged() or []] == ["c", "refused-1"]
    finally:
        catalogue.close()
