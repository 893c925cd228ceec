"""Rows of a CSV or JSON-lines file, as mappings from column name to cell, with line numbers.

Both formats come out the same shape, so the event and item readers never ask which they got.
A row that cannot be read (wrong number of fields, broken JSON) comes out as ``BadRow`` and
reading goes on; a file that cannot be read at all (missing, wrong encoding, damaged gzip)
raises InvalidInput naming it.
"""

from __future__ import annotations

import csv
import json
import re
import zlib
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple, TextIO

from streamrec.errors import InvalidInput
from streamrec.events.validation import MAX_ID_LENGTH, check_id
from streamrec.importers.textfiles import (
    DEFAULT_ENCODING,
    base_suffix,
    open_text,
    undecodable,
    unreadable,
)

TableFormat = Literal["csv", "jsonl"]
_SUFFIX_FORMATS: dict[str, TableFormat] = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv", ".dat": "csv",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
}
_SNIFFED_DELIMITERS = (",", ";", "\t")
# numbers written plainly; "007" or "1e5x" stay text, so codes keep their leading zeros
_INTEGER = re.compile(r"-?(?:0|[1-9]\d*)")
_DECIMAL = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")


@dataclass(frozen=True, slots=True)
class TableFile:
    """A file looked at once: its format and, for CSV, delimiter and header."""

    path: Path
    format: TableFormat
    encoding: str
    delimiter: str = ","
    header: tuple[str, ...] = ()  # empty for JSON lines: keys may differ row to row

    def require_columns(self, names: Sequence[str]) -> None:
        """Raise InvalidInput for the first name a CSV header lacks (JSON lines: no check)."""
        if self.format != "csv":
            return
        for name in names:
            if name not in self.header:
                raise InvalidInput("columns", f"{self.path}: line 1: no column {name!r}; "
                                   f"the header has {', '.join(map(repr, self.header))}")


# named tuples, not dataclasses: one is made per row, and they are several times cheaper
class Row(NamedTuple):
    line: int  # 1-based; for a CSV record spanning lines, its last line
    fields: Mapping[str, object]  # str for CSV; any JSON value for JSON lines


class BadRow(NamedTuple):
    line: int
    reason: str


class RowRejected(Exception):
    """A row whose ``column`` holds something we will not turn into an event or item."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(f"column {column!r}: {message}")
        self.column = column


def checked_id(identifier: str, column: str) -> str:
    """``identifier`` if the event log would take it as an id; else RowRejected."""
    # the common case in one C call; anything unusual gets the full check and its message
    if identifier and identifier.isprintable() and len(identifier) <= MAX_ID_LENGTH:
        return identifier
    try:
        check_id(identifier, column)
    except InvalidInput as error:
        raise RowRejected(column, error.message) from None
    return identifier


def inspect_file(path: Path, file_format: str = "auto", delimiter: str | None = None,
                 encoding: str = DEFAULT_ENCODING) -> TableFile:
    """Decide format and delimiter and read the CSV header; cheap (reads the first line).

    ``file_format`` is ``auto`` (by suffix, else ``{`` first means JSON lines), ``csv`` or
    ``jsonl``; ``delimiter`` None picks the most frequent of , ; tab in the header line.
    """
    if file_format not in ("auto", "csv", "jsonl"):
        raise InvalidInput("format", f"format must be auto, csv or jsonl, not {file_format!r}")
    first_line = _first_line(path, encoding)
    if file_format == "auto":
        file_format = _SUFFIX_FORMATS.get(base_suffix(path)) or (
            "jsonl" if first_line.lstrip().startswith("{") else "csv")
    if file_format == "jsonl":
        if first_line.lstrip().startswith("["):
            raise InvalidInput("format", f"{path}: line 1: a JSON array; write one JSON object "
                               "per line (JSON lines) instead")
        return TableFile(path, "jsonl", encoding)
    if delimiter is None:
        counts = Counter(char for char in first_line if char in _SNIFFED_DELIMITERS)
        delimiter = max(_SNIFFED_DELIMITERS, key=lambda char: counts[char])
    header = tuple(name.strip() for name in next(csv.reader([first_line], delimiter=delimiter)))
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise InvalidInput("columns", f"{path}: line 1: repeated column names {duplicates}")
    return TableFile(path, "csv", encoding, delimiter, header)


def read_rows(table: TableFile) -> Iterator[Row | BadRow]:
    """Every data row in file order; blank lines are passed over without a word."""
    with open_text(table.path, table.encoding) as stream:
        try:
            if table.format == "csv":
                yield from _csv_rows(stream, table)
            else:
                yield from _json_rows(stream)
        except UnicodeDecodeError as error:
            raise undecodable(table.path, table.encoding, error) from None
        except (OSError, EOFError, zlib.error) as error:
            raise unreadable(table.path, error) from None


def strict_rows(path: Path, columns: Sequence[str],
                encoding: str = DEFAULT_ENCODING) -> Iterator[tuple[int, Mapping[str, str]]]:
    """Rows of a CSV file in a known format (MovieLens): any bad row raises InvalidInput,
    since in a published data set it means a damaged copy, not one odd row."""
    table = inspect_file(path, "csv", ",", encoding)
    table.require_columns(columns)
    for row in read_rows(table):
        if isinstance(row, BadRow):
            raise InvalidInput("path", f"{path}: line {row.line}: {row.reason}")
        yield row.line, {column: as_text(row.fields[column]) for column in columns}


def as_text(value: object) -> str:
    """A cell as text: JSON null is empty, booleans ``true``/``false``, numbers as written."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def as_attribute(text: str) -> str | int | float:
    """A CSV cell as an attribute: plain integers and decimals become numbers, else text.

    >>> as_attribute("12"), as_attribute("2.55"), as_attribute("007"), as_attribute("85123A")
    (12, 2.55, '007', '85123A')
    """
    text = text.strip()
    if _INTEGER.fullmatch(text):
        return int(text)
    if _DECIMAL.fullmatch(text):
        return float(text)
    return text


def _first_line(path: Path, encoding: str) -> str:
    with open_text(path, encoding) as stream:
        try:
            for line in stream:
                if line.strip():
                    return line.rstrip("\r\n")
        except UnicodeDecodeError as error:
            raise undecodable(path, encoding, error) from None
        except (OSError, EOFError, zlib.error) as error:
            raise unreadable(path, error) from None
    raise InvalidInput("path", f"{path}: line 1: the file is empty")


def _csv_rows(stream: TextIO, table: TableFile) -> Iterator[Row | BadRow]:
    reader = csv.reader(stream, delimiter=table.delimiter)
    header, width, seen_header = table.header, len(table.header), False
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:  # one malformed record; the reader can go on after it
            yield BadRow(reader.line_num, f"cannot be read as CSV ({error})")
            continue
        if not record or (len(record) == 1 and not record[0].strip() and width > 1):
            continue
        if not seen_header:
            seen_header = True
            continue
        if len(record) != width:
            yield BadRow(reader.line_num, f"has {len(record)} fields; the header has {width}")
            continue
        yield Row(reader.line_num, dict(zip(header, record, strict=True)))


def _json_rows(stream: TextIO) -> Iterator[Row | BadRow]:
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            yield BadRow(number, f"is not valid JSON ({error.msg}, column {error.colno})")
            continue
        if not isinstance(value, dict):
            yield BadRow(number, "is not a JSON object")
            continue
        yield Row(number, value)

