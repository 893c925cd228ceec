"""One row of an events file to one ``Event``, or the reason it cannot be one."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

from streamrec.errors import InvalidInput
from streamrec.importers.rows import Row, RowRejected, TableFile, as_text, checked_id
from streamrec.importers.spec import EventFileSpec
from streamrec.importers.timestamps import TimestampParser
from streamrec.types import Event

# what exports write for "no user": an empty cell, or R's and pandas' NA
ANONYMOUS_USERS = frozenset({"", "NA"})
SESSION_USER_PREFIX = "session:"


class EventBuilder:
    """Builds events from rows of one file, following one spec.

    Raises InvalidInput at construction when the file cannot give what the spec asks for
    (a named column missing, no type column and no ``fixed_type``). An event without a time
    (no timestamp column; in JSON lines, no ``timestamp`` or null) gets the time the import
    started, as the API gives one the time its request arrives.
    """

    def __init__(self, spec: EventFileSpec, table: TableFile, now: float | None = None) -> None:
        table.require_columns(spec.named_columns())
        self.spec = spec
        self.columns = spec.columns
        self.now = time.time() if now is None else now
        self.timestamp_column = _optional(spec.columns.timestamp, "timestamp", table)
        self.type_column = None if spec.fixed_type else _optional(spec.columns.type, "type",
                                                                   table)
        if spec.fixed_type is None and self.type_column is None:
            raise InvalidInput("fixed_type", f"{table.path}: line 1: no 'type' column; name "
                               "the type column or give a fixed type (e.g. 'purchase')")
        self.value_column = _optional(spec.columns.value, "value", table)
        self.event_id_column = _optional(spec.columns.event_id, "event_id", table)
        self.timestamps = TimestampParser(spec.timestamp_format)
        self.reads_context = table.format == "jsonl"

    def build(self, row: Row) -> Event | None:
        """The row's event; None for a row with no user that is to be skipped."""
        fields = row.fields
        user_id = self._user_id(fields)
        if user_id is None:
            return None
        return Event(
            user_id=user_id,
            item_id=_identifier(fields, self.columns.item),
            type=self.spec.fixed_type or _required(fields, self.type_column or "type"),
            timestamp=self._timestamp(fields),
            value=self._value(fields),
            event_id=self._event_id(fields, row.line),
            context=self._context(fields),
        )

    def _context(self, fields: Mapping[str, object]) -> dict[str, object] | None:
        """JSON lines may carry an object under ``context`` (as streamrec's own API takes);
        a named session column adds ``session``."""
        given = fields.get("context") if self.reads_context else None
        if given is not None and not isinstance(given, dict):
            raise RowRejected("context", "is not a JSON object")
        context: dict[str, object] = dict(given or {})
        if self.columns.session is not None:
            session = _cell(fields, self.columns.session)
            if session:
                context["session"] = session
        return context or None

    def _user_id(self, fields: Mapping[str, object]) -> str | None:
        user = _cell(fields, self.columns.user)
        if user in ANONYMOUS_USERS:
            session_column = self.columns.session
            if self.spec.anonymous == "skip" or session_column is None:
                return None
            session = _cell(fields, session_column)
            if not session:
                return None
            user = SESSION_USER_PREFIX + session
        return checked_id(self.spec.user_prefix + user, self.columns.user)

    def _timestamp(self, fields: Mapping[str, object]) -> float:
        column = self.timestamp_column
        if column is None or fields.get(column) is None:
            return self.now
        try:
            seconds = self.timestamps.parse(_cell(fields, column))
        except ValueError as error:
            raise RowRejected(column, str(error)) from None
        offset_column = self.columns.timestamp_offset_ms
        if offset_column is not None:
            seconds += _required_number(fields, offset_column) / 1000.0
        return seconds

    def _value(self, fields: Mapping[str, object]) -> float | None:
        if self.value_column is None:
            return None
        value = _optional_number(fields, self.value_column)
        return None if value is None else value * self.spec.value_scale

    def _event_id(self, fields: Mapping[str, object], line: int) -> str | None:
        if self.event_id_column is not None:
            event_id = _cell(fields, self.event_id_column)
            if event_id:
                return checked_id(event_id, self.event_id_column)
        prefix = self.spec.event_id_prefix
        return None if prefix is None else f"{prefix}{line}"


def _optional(named: str | None, conventional: str, table: TableFile) -> str | None:
    """The column to read for an optional part: as named, else the conventional one if any."""
    if named is not None:
        return named
    if table.format == "jsonl" or conventional in table.header:
        return conventional
    return None


def _cell(fields: Mapping[str, object], column: str) -> str:
    value = fields.get(column)
    return (value if isinstance(value, str) else as_text(value)).strip()


def _required(fields: Mapping[str, object], column: str) -> str:
    text = _cell(fields, column)
    if not text:
        raise RowRejected(column, "is missing or empty")
    return text


def _identifier(fields: Mapping[str, object], column: str) -> str:
    return checked_id(_required(fields, column), column)


def _optional_number(fields: Mapping[str, object], column: str) -> float | None:
    text = _cell(fields, column)
    return _parse_number(text, column) if text else None


def _required_number(fields: Mapping[str, object], column: str) -> float:
    return _parse_number(_required(fields, column), column)


def _parse_number(text: str, column: str) -> float:
    try:
        number = float(text)
    except ValueError:
        raise RowRejected(column, f"{text!r} is not a number") from None
    if not math.isfinite(number):
        raise RowRejected(column, f"{text!r} is not a finite number")
    return number
