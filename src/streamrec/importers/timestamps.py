"""Reading a timestamp column: unix seconds or milliseconds, ISO 8601, or a strptime format.

Times without a zone are taken as UTC, so the same file always gives the same seconds whatever
the machine's zone. Formats that could be read two ways (``01/02/2011``: day or month first?)
are never guessed: give ``timestamp_format`` for them.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

UNIX_SECONDS = "unix_s"
UNIX_MILLISECONDS = "unix_ms"
# a number above this is milliseconds: as seconds it would be after the year 5000
_MILLISECONDS_ABOVE = 1e11
# events from before 1970 or after 2200 are certainly a unit or format mistake
_MIN_SECONDS, _MAX_SECONDS = 0.0, 7258118400.0
# tried after ISO 8601 when no format is given; none can be read two ways
_UNAMBIGUOUS_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d")


class TimestampParser:
    """Turns one column's text into unix seconds (float).

    ``timestamp_format`` is None (recognise each value: a number is unix seconds, or unix
    milliseconds when above 1e11; else ISO 8601, date-only allowed), ``"unix_s"``,
    ``"unix_ms"``, or a ``strptime`` format such as ``"%d/%m/%Y %H:%M"``.

    >>> parser = TimestampParser(None)
    >>> parser.parse("1970-01-02"), parser.parse("1700000000000"), parser.parse("86400.5")
    (86400.0, 1700000000.0, 86400.5)
    >>> TimestampParser("%d/%m/%Y").parse("02/01/1970")
    86400.0
    """

    def __init__(self, timestamp_format: str | None) -> None:
        self.timestamp_format = timestamp_format
        # rows of one order or one session often share a time: parse each distinct text once
        self._last_text: str | None = None
        self._last_seconds = 0.0

    def parse(self, text: str) -> float:
        """Unix seconds; ValueError with a message fit for a user when ``text`` is no time."""
        text = text.strip()
        if text == self._last_text:
            return self._last_seconds
        if not text:
            raise ValueError("is empty")
        seconds = self._parse_new(text)
        if not math.isfinite(seconds) or not _MIN_SECONDS <= seconds <= _MAX_SECONDS:
            raise ValueError(f"{text!r} is outside 1970-2200 (seconds given as milliseconds?)")
        self._last_text, self._last_seconds = text, seconds
        return seconds

    def _parse_new(self, text: str) -> float:
        if self.timestamp_format is None:
            return _recognise(text)
        if self.timestamp_format in (UNIX_SECONDS, UNIX_MILLISECONDS):
            number = _number(text)
            if number is None:
                raise ValueError(f"{text!r} is not a number")
            return number / 1000.0 if self.timestamp_format == UNIX_MILLISECONDS else number
        try:
            return _seconds(datetime.strptime(text, self.timestamp_format))
        except ValueError:
            raise ValueError(f"{text!r} does not match {self.timestamp_format!r}") from None


def _recognise(text: str) -> float:
    number = _number(text)
    if number is not None:
        return number / 1000.0 if abs(number) > _MILLISECONDS_ABOVE else number
    try:
        return _seconds(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        pass
    for candidate in _UNAMBIGUOUS_FORMATS:
        try:
            return _seconds(datetime.strptime(text, candidate))
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not unix seconds, unix milliseconds or ISO 8601; "
                     "give timestamp_format (e.g. '%d/%m/%Y %H:%M')")


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _seconds(moment: datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
