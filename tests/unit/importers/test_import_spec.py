from __future__ import annotations

from typing import Any

import pytest

from streamrec.errors import InvalidInput
from streamrec.importers.presets import PRESETS, preset_for_header
from streamrec.importers.spec import Columns, EventFileSpec

RETAIL_HEADER = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
                 "UnitPrice", "CustomerID", "Country"]
DIGINETICA_HEADER = ["session_id", "user_id", "item_id", "timeframe", "eventdate"]


@pytest.mark.parametrize(("options", "field"), [
    ({"format": "xlsx"}, "format"),
    ({"anonymous": "drop"}, "anonymous"),
    ({"delimiter": "::"}, "delimiter"),
    ({"fixed_type": " "}, "fixed_type"),
    ({"fixed_type": "view", "columns": Columns(type="kind")}, "fixed_type"),
    ({"value_scale": float("nan")}, "value_scale"),
    ({"filters": ("Quantity=1",)}, "filters"),
])
def test_bad_options_are_refused_when_the_spec_is_made(options: dict[str, Any],
                                                        field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        EventFileSpec(**options)
    assert raised.value.field == field


def test_named_columns_include_filters_once_each() -> None:
    spec = EventFileSpec(columns=Columns(user="CustomerID"), filters=("CustomerID!=", "Qty>0"))
    assert spec.named_columns() == ["CustomerID", "item_id", "Qty"]  # timestamp: optional


def test_presets_are_recognised_by_their_headers() -> None:
    assert preset_for_header(RETAIL_HEADER) == "online-retail"
    assert preset_for_header(DIGINETICA_HEADER) == "diginetica"
    assert preset_for_header(["user_id", "item_id", "type", "timestamp"]) is None


def test_the_online_retail_preset_keeps_clean_purchases() -> None:
    spec = PRESETS["online-retail"]
    assert spec.fixed_type == "purchase" and spec.anonymous == "skip"
    assert set(spec.filters) == {"Quantity>0", "UnitPrice>0", "CustomerID!="}
