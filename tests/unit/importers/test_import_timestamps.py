from __future__ import annotations

import pytest

from streamrec.importers.timestamps import TimestampParser


@pytest.mark.parametrize(("text", "seconds"), [
    ("1700000000", 1_700_000_000.0),
    ("1700000000.25", 1_700_000_000.25),
    ("1700000000000", 1_700_000_000.0),  # above 1e11: milliseconds
    ("2010-12-01 08:26:00", 1_291_191_960.0),  # no zone: UTC
    ("2010-12-01T08:26:00Z", 1_291_191_960.0),
    ("2010-12-01T09:26:00+01:00", 1_291_191_960.0),
    ("2016-05-09", 1_462_752_000.0),  # date only: midnight UTC
    ("2016/05/09 00:00:01", 1_462_752_001.0),
    ("  2016-05-09 ", 1_462_752_000.0),
])
def test_recognises_common_forms(text: str, seconds: float) -> None:
    assert TimestampParser(None).parse(text) == seconds


@pytest.mark.parametrize("text", ["", "yesterday", "01/02/2011 10:00", "nan", "-5",
                                  "99999999999"])
def test_refuses_what_it_cannot_read_safely(text: str) -> None:
    # "01/02/2011" could be January or February: never guessed
    with pytest.raises(ValueError):
        TimestampParser(None).parse(text)


def test_an_explicit_format_reads_day_first_dates() -> None:
    parser = TimestampParser("%d/%m/%Y %H:%M")
    assert parser.parse("01/02/2011 10:00") == 1_296_554_400.0
    with pytest.raises(ValueError, match="does not match"):
        parser.parse("2011-02-01 10:00")


def test_explicit_units() -> None:
    assert TimestampParser("unix_ms").parse("1500") == 1.5
    assert TimestampParser("unix_s").parse("1500") == 1500.0
    with pytest.raises(ValueError, match="not a number"):
        TimestampParser("unix_s").parse("2011-02-01")


def test_a_repeated_text_gives_the_same_answer_and_errors_are_not_remembered() -> None:
    parser = TimestampParser(None)
    assert parser.parse("2016-05-09") == parser.parse("2016-05-09")
    with pytest.raises(ValueError):
        parser.parse("later")
    with pytest.raises(ValueError):
        parser.parse("later")
