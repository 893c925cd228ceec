"""How to read an events file: which column holds what, and which rows to keep.

Built by the CLI from flags or taken from ``presets.PRESETS``; every option is checked when the
spec is made, so a mistake is reported before any file is opened.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, get_args

from streamrec.errors import InvalidInput
from streamrec.importers.filters import Condition, parse_condition
from streamrec.importers.textfiles import DEFAULT_ENCODING

FileFormat = Literal["auto", "csv", "jsonl"]
Anonymous = Literal["skip", "session"]
DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True, slots=True)
class Columns:
    """Column names (JSON keys for JSON lines) for each part of an event.

    ``user`` and ``item`` must be present. The optional ones, left as None, use the
    conventional column (``timestamp``, ``type``, ``value``, ``event_id``) when the file has
    it; named explicitly, the column must exist. ``session`` is only used when named. Without
    a timestamp, an event gets the time the import started (as the API gives it the time the
    request arrives).
    ``timestamp_offset_ms`` names a column of milliseconds added to the timestamp: DIGINETICA
    gives a date (``eventdate``) and the time into the session (``timeframe``) separately.
    """

    user: str = "user_id"
    item: str = "item_id"
    timestamp: str | None = None
    type: str | None = None
    value: str | None = None
    event_id: str | None = None
    session: str | None = None
    timestamp_offset_ms: str | None = None


@dataclass(frozen=True, slots=True)
class EventFileSpec:
    """Options for ``read_events``; see each field's comment.

    Rows without a user (empty or ``NA``) become ``user_id = "session:{session}"`` when
    ``anonymous="session"`` and a session column is named, and are skipped otherwise.
    """

    format: FileFormat = "auto"  # auto: by suffix (.csv, .tsv, .jsonl, ...), else by content
    delimiter: str | None = None  # CSV only; None: the most frequent of , ; tab in the header
    encoding: str = DEFAULT_ENCODING
    columns: Columns = field(default_factory=Columns)
    fixed_type: str | None = None  # every event gets this type (the file has no type column)
    timestamp_format: str | None = None  # see TimestampParser; None recognises each value
    filters: tuple[str, ...] = ()  # e.g. ("Quantity>0", "CustomerID!="); all must hold
    anonymous: Anonymous = "session"
    user_prefix: str = ""  # put before every user id, to keep imported users apart
    value_scale: float = 1.0  # the value column is multiplied by this
    # with no event-id column: event_id = prefix + line number, so importing the same file
    # again stores each event once (the log keeps one event per event_id)
    event_id_prefix: str | None = None

    def __post_init__(self) -> None:
        _check_choice("format", self.format, get_args(FileFormat))
        _check_choice("anonymous", self.anonymous, get_args(Anonymous))
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise InvalidInput("delimiter", f"delimiter must be one character, not "
                               f"{self.delimiter!r}")
        if self.fixed_type is not None and not self.fixed_type.strip():
            raise InvalidInput("fixed_type", "fixed_type must not be empty")
        if self.fixed_type is not None and self.columns.type is not None:
            raise InvalidInput("fixed_type", f"give either a type column "
                               f"({self.columns.type!r}) or fixed_type, not both")
        if not math.isfinite(self.value_scale):
            raise InvalidInput("value_scale", "value_scale must be a finite number")
        self.conditions()  # raises on the first filter that does not parse

    def conditions(self) -> tuple[Condition, ...]:
        return tuple(parse_condition(text) for text in self.filters)

    def named_columns(self) -> list[str]:
        """Every column this spec names explicitly: each must exist in a CSV header."""
        columns = self.columns
        named = [columns.user, columns.item, columns.timestamp, columns.type, columns.value,
                 columns.event_id, columns.session, columns.timestamp_offset_ms]
        named += [condition.column for condition in self.conditions()]
        return list(dict.fromkeys(name for name in named if name is not None))


def _check_choice(field_name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise InvalidInput(field_name, f"{field_name} must be one of {', '.join(choices)}, "
                           f"not {value!r}")
