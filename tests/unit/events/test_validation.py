"""The one id rule and the rule for free-form JSON (context, attributes), at the domain."""

from __future__ import annotations

import pytest

from streamrec.errors import InvalidInput
from streamrec.events.validation import check_json_value, id_problem, validate_item
from streamrec.types import Item


@pytest.mark.parametrize("refused", ["", " ", "a\x00b", "a\x1fb", "a\x7fb", "a\x85b",
                                     "a\u2028b", "a\u2029b", "a\ud800b", ".", "..",
                                     "x/similar", "x" * 257])
def test_ids_with_what_no_url_or_log_line_can_carry_are_refused(refused: str) -> None:
    assert id_problem(refused) is not None


@pytest.mark.parametrize("accepted", ["a/b", "a%2Fb", "/", "a/..", "é中🙂", "\ufffd", "a b",
                                      "similar", "x/similarity", "x" * 256])
def test_ids_with_url_syntax_or_any_text_are_accepted(accepted: str) -> None:
    assert id_problem(accepted) is None


@pytest.mark.parametrize(("value", "field", "says"), [
    ({"p": 10**30}, "attributes.p", "beyond 64 bits"),
    ({"p": [1, float("nan")]}, "attributes.p[1]", "finite"),
    ({"p": float("-inf")}, "attributes.p", "finite"),
    ({"p": {"q": object()}}, "attributes.p.q", "not a JSON value"),
])
def test_json_values_the_stores_cannot_keep_are_refused_by_their_path(
    value: dict[str, object], field: str, says: str,
) -> None:
    with pytest.raises(InvalidInput, match=says) as refused:
        check_json_value(value, "attributes")
    assert refused.value.field == field


def test_nesting_is_bounded_and_named() -> None:
    deep: object = 1
    for _ in range(40):
        deep = [deep]
    with pytest.raises(InvalidInput, match="nested deeper than 32") as refused:
        validate_item(Item("x", {"p": deep}), "items[2]")
    assert str(refused.value.field).startswith("items[2].attributes.p")
    check_json_value({"ok": [2**63 - 1, -(2**63), 1.5, None, True, "s"]}, "attributes")
