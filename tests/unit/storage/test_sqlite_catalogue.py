"""The SQLite catalogue: upsert replaces, get and scan read back, a reopen keeps everything."""

from __future__ import annotations

import re
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
