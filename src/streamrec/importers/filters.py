"""Row filters written as short strings: ``"Quantity>0"``, ``"CustomerID!="``, ``"Country==UK"``.

Both sides are compared as numbers when both read as numbers, else as text (after trimming
spaces). An empty right-hand side tests for emptiness: ``"CustomerID!="`` keeps rows that have
a customer.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streamrec.errors import InvalidInput

# Any: each operator is applied to two numbers or to two strings, never a mix
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne,
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt,
}
# two-character operators first, so that ">=" is not read as ">" followed by "=..."
_CONDITION = re.compile(
    r"^\s*(?P<column>[^=!<>]+?)\s*(?P<operator>==|!=|>=|<=|>|<)(?P<operand>.*)$")


@dataclass(frozen=True, slots=True)
class Condition:
    """One test on one column of a row.

    >>> condition = parse_condition("Quantity>0")
    >>> condition.holds("12"), condition.holds("-3"), condition.holds("")
    (True, False, False)
    >>> parse_condition("CustomerID!=").holds("17850")
    True
    """

    column: str
    operator: str
    operand: str
    operand_number: float | None  # the operand read as a number, when it is one
    compare: Callable[[Any, Any], bool]

    def holds(self, value: str) -> bool:
        value = value.strip()
        compare = self.compare
        if self.operand_number is not None:
            number = _number(value)
            if number is not None:
                return compare(number, self.operand_number)
        return compare(value, self.operand)

    def __str__(self) -> str:
        return f"{self.column}{self.operator}{self.operand}"


def parse_condition(text: str) -> Condition:
    """Read ``"Column<op>value"``; op is one of == != > >= < <=. Raises InvalidInput."""
    match = _CONDITION.match(text)
    if match is None:
        raise InvalidInput("filters", f"filter {text!r} is not 'column<op>value' with op one "
                           "of == != > >= < <= (e.g. 'Quantity>0', 'CustomerID!=')")
    operand = match["operand"].strip()
    return Condition(match["column"], match["operator"], operand, _number(operand),
                     _COMPARE[match["operator"]])


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
