"""Ready-made specs for public datasets, so the CLI can say ``--preset online-retail``.

A preset is recognised by its header alone (``preset_for_header``), which lets
``read_dataset`` pick one without being told.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from streamrec.importers.spec import Columns, EventFileSpec

# UCI Online Retail: one row per invoice line. The usual "clean purchases": a known customer,
# a positive quantity (cancellations have negative ones) and a positive price (adjustments).
ONLINE_RETAIL = EventFileSpec(
    columns=Columns(user="CustomerID", item="StockCode", timestamp="InvoiceDate",
                    value="Quantity"),
    fixed_type="purchase",
    filters=("CustomerID!=", "Quantity>0", "UnitPrice>0"),
    anonymous="skip",
    event_id_prefix="online-retail:",
)

# DIGINETICA (CIKM Cup 2016) item views: a date plus milliseconds into the session; most
# sessions have no user ("NA") and stand in for one as "session:{session_id}".
DIGINETICA = EventFileSpec(
    delimiter=";",
    columns=Columns(user="user_id", item="item_id", timestamp="eventdate",
                    session="session_id", timestamp_offset_ms="timeframe"),
    fixed_type="view",
    anonymous="session",
    event_id_prefix="diginetica:",
)

PRESETS: dict[str, EventFileSpec] = {"online-retail": ONLINE_RETAIL, "diginetica": DIGINETICA}


@dataclass(frozen=True, slots=True)
class ItemColumns:
    """Where a preset's rows describe the item: its text, and attributes by name."""

    text: str
    attributes: Mapping[str, str] = field(default_factory=dict)


PRESET_ITEMS: dict[str, ItemColumns] = {
    "online-retail": ItemColumns(text="Description", attributes={"price": "UnitPrice"}),
}


def preset_for_header(header: Sequence[str]) -> str | None:
    """The preset whose every named column (and item column) is in ``header``, if any."""
    present = set(header)
    for name, spec in PRESETS.items():
        needed = set(spec.named_columns())
        item_columns = PRESET_ITEMS.get(name)
        if item_columns is not None:
            needed |= {item_columns.text, *item_columns.attributes.values()}
        if needed <= present:
            return name
    return None
