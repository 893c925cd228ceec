from __future__ import annotations

import pytest

from streamrec.errors import InvalidInput
from streamrec.importers.filters import parse_condition


@pytest.mark.parametrize(("text", "value", "holds"), [
    ("Quantity>0", "6", True),
    ("Quantity>0", "-6", False),
    ("Quantity>0", "0", False),
    ("Quantity>=0", "0", True),
    ("UnitPrice<=2.5", "2.50", True),  # numbers compare as numbers, not as text
    ("UnitPrice<10", "9", True),
    ("Quantity>0", "", False),  # empty is not a number: compared as text, "" < "0"
    ("CustomerID!=", "17850", True),
    ("CustomerID!=", "", False),
    ("CustomerID!=", "   ", False),
    ("CustomerID==", "", True),
    ("Country==United Kingdom", "United Kingdom", True),
    ("Country == United Kingdom", " United Kingdom ", True),
    ("Country!=United Kingdom", "France", True),
    ("eventdate>=2016-03-01", "2016-05-09", True),  # ISO dates order as text
])
def test_conditions(text: str, value: str, holds: bool) -> None:
    assert parse_condition(text).holds(value) is holds


def test_the_condition_reads_back_as_written() -> None:
    condition = parse_condition(" Quantity >= 2 ")
    assert (condition.column, condition.operator, condition.operand) == ("Quantity", ">=", "2")
    assert str(condition) == "Quantity>=2"


@pytest.mark.parametrize("text", ["Quantity", "Quantity=0", ">0", "Quantity=>0", ""])
def test_malformed_filters_are_refused_with_the_operators_listed(text: str) -> None:
    with pytest.raises(InvalidInput, match="== != > >= < <=") as raised:
        parse_condition(text)
    assert raised.value.field == "filters"
