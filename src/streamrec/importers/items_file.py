"""Items from a user's catalogue file: JSON lines or CSV.

JSON lines: ``{"item_id": "i1", "text": "...", "attributes": {...}, "available": true,
"updated_at": 1700000000}``. CSV: columns ``item_id`` (required), ``text``, ``available`` (or
``is_available``), ``updated_at``. In both, every other column (key) becomes an attribute, CSV
cells holding plain numbers as numbers and empty cells left out. As with events, a bad row is
rejected and counted in the report, and reading goes on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from streamrec.importers.report import ImportReport
from streamrec.importers.rows import (
    BadRow,
    RowRejected,
    TableFile,
    as_attribute,
    checked_id,
    inspect_file,
    read_rows,
)
from streamrec.importers.textfiles import DEFAULT_ENCODING
from streamrec.importers.timestamps import TimestampParser
from streamrec.types import Item

_AVAILABLE_COLUMNS = ("available", "is_available")
_RESERVED = frozenset({"item_id", "text", "attributes", "updated_at", *_AVAILABLE_COLUMNS})
_TRUE, _FALSE = frozenset({"true", "yes", "y", "t", "1"}), frozenset({"false", "no", "n", "f", "0"})


def read_items(path: Path | str, *, file_format: str = "auto", delimiter: str | None = None,
               encoding: str = DEFAULT_ENCODING,
               report: ImportReport | None = None) -> Iterator[Item]:
    """The items of ``path`` in file order (a repeated id comes again: the later one wins).

    Raises InvalidInput now when a CSV file has no ``item_id`` column; ``updated_at``
    accepts what a timestamp column does (unix seconds or ms, ISO 8601).
    """
    table = inspect_file(Path(path), file_format, delimiter, encoding)
    table.require_columns(["item_id"])
    return _items(table, report if report is not None else ImportReport())


def _items(table: TableFile, report: ImportReport) -> Iterator[Item]:
    timestamps = TimestampParser(None)
    for row in read_rows(table):
        report.rows_read += 1
        if isinstance(row, BadRow):
            report.reject(f"{table.path}: line {row.line}: {row.reason}")
            continue
        try:
            item = _item(row.fields, timestamps)
        except RowRejected as rejection:
            report.reject(f"{table.path}: line {row.line}: {rejection}")
            continue
        report.produced += 1
        yield item


def _item(fields: Mapping[str, object], timestamps: TimestampParser) -> Item:
    item_id = fields.get("item_id")
    if isinstance(item_id, int) and not isinstance(item_id, bool):
        item_id = str(item_id)  # JSON numbers are accepted as ids, as CSV cells are
    if not isinstance(item_id, str) or not item_id.strip():
        raise RowRejected("item_id", "is missing, empty or not a string")
    text = fields.get("text") or ""
    if not isinstance(text, str):
        raise RowRejected("text", "is not a string")
    return Item(item_id=checked_id(item_id.strip(), "item_id"), attributes=_attributes(fields),
                text=text.strip(), is_available=_is_available(fields),
                updated_at=_updated_at(fields, timestamps))


def _attributes(fields: Mapping[str, object]) -> dict[str, Any]:
    nested = fields.get("attributes") or {}
    if not isinstance(nested, dict):
        raise RowRejected("attributes", "is not a JSON object")
    attributes: dict[str, Any] = dict(nested)
    for name, value in fields.items():
        if name in _RESERVED or value is None:
            continue
        if isinstance(value, str):
            if value.strip():
                attributes[name] = as_attribute(value)
        else:
            attributes[name] = value
    return attributes


def _is_available(fields: Mapping[str, object]) -> bool:
    for column in _AVAILABLE_COLUMNS:
        value = fields.get(column)
        if isinstance(value, bool):
            return value
        text = "" if value is None else str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        if text:
            raise RowRejected(column, f"{value!r} is not true or false")
    return True


def _updated_at(fields: Mapping[str, object], timestamps: TimestampParser) -> float:
    value = fields.get("updated_at")
    if value is None or value == "":
        return 0.0
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise RowRejected("updated_at", f"{value!r} is not a time")
    try:
        return timestamps.parse(str(value))
    except ValueError as error:
        raise RowRejected("updated_at", str(error)) from None
