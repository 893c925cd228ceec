"""Events from a user's CSV or JSON-lines file, and the items those events mention.

A bad row is rejected and counted in the ``ImportReport`` (with the first few reasons, each
naming file, line and column); reading goes on. A file that cannot give what the spec asks for
(missing column, unreadable, wrong encoding) raises InvalidInput instead: nothing would come out
right. Events stream in file order; sorting by time is the caller's choice (``read_dataset``
does it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from streamrec.importers.event_rows import EventBuilder
from streamrec.importers.filters import Condition
from streamrec.importers.report import ImportReport
from streamrec.importers.rows import (
    BadRow,
    Row,
    RowRejected,
    TableFile,
    as_attribute,
    as_text,
    inspect_file,
    read_rows,
)
from streamrec.importers.spec import EventFileSpec
from streamrec.types import Event, Item

RowObserver = Callable[[Row, Event], None]


def read_events(path: Path | str, spec: EventFileSpec | None = None, *,
                report: ImportReport | None = None) -> Iterator[Event]:
    """The events of ``path`` in file order, read as they are consumed.

    The header is checked now (InvalidInput if a named column is missing); rows are read as
    the iterator is consumed, and ``report`` (when given) is complete once it is exhausted.
    """
    table, builder = _open(Path(path), spec or EventFileSpec())
    return _events(table, builder, _or_new(report), observe=None)


def read_items_from_events(path: Path | str, spec: EventFileSpec, text_column: str,
                           attribute_columns: Mapping[str, str] | None = None, *,
                           report: ImportReport | None = None) -> Iterator[Item]:
    """One item per distinct item id among the events ``read_events`` would give.

    ``text_column`` becomes the item's text and ``attribute_columns`` maps attribute names to
    columns (``{"price": "UnitPrice"}``; plain numbers become numbers). For each field the last
    non-empty value in file order wins; ``updated_at`` is the item's latest event time. Items
    come in order of first appearance, after the whole file is read; ``report.produced``
    counts items.
    """
    table, builder = _open(Path(path), spec)
    collector = _ItemCollector(text_column, dict(attribute_columns or {}))
    table.require_columns([text_column, *collector.attribute_columns.values()])
    report = _or_new(report)

    def items() -> Iterator[Item]:
        for _ in _events(table, builder, report, observe=collector.add):
            pass
        report.produced = len(collector.drafts)
        yield from collector.items()

    return items()


def read_events_and_items(path: Path | str, spec: EventFileSpec, text_column: str,
                          attribute_columns: Mapping[str, str] | None = None, *,
                          report: ImportReport | None = None) -> tuple[list[Event], list[Item]]:
    """Both of the above in one pass over the file; ``report.produced`` counts events."""
    table, builder = _open(Path(path), spec)
    collector = _ItemCollector(text_column, dict(attribute_columns or {}))
    table.require_columns([text_column, *collector.attribute_columns.values()])
    events = list(_events(table, builder, _or_new(report), observe=collector.add))
    return events, collector.items()


def _or_new(report: ImportReport | None) -> ImportReport:
    return report if report is not None else ImportReport()


def _open(path: Path, spec: EventFileSpec) -> tuple[TableFile, EventBuilder]:
    table = inspect_file(path, spec.format, spec.delimiter, spec.encoding)
    return table, EventBuilder(spec, table)


def _events(table: TableFile, builder: EventBuilder, report: ImportReport,
            observe: RowObserver | None) -> Iterator[Event]:
    conditions = builder.spec.conditions()
    for row in read_rows(table):
        report.rows_read += 1
        if isinstance(row, BadRow):
            report.reject(f"{table.path}: line {row.line}: {row.reason}")
            continue
        failed = _first_failing(conditions, row)
        if failed is not None:
            report.filtered(str(failed))
            continue
        try:
            event = builder.build(row)
        except RowRejected as rejection:
            report.reject(f"{table.path}: line {row.line}: {rejection}")
            continue
        if event is None:
            report.skipped_anonymous += 1
            continue
        report.produced += 1
        if observe is not None:
            observe(row, event)
        yield event


def _first_failing(conditions: tuple[Condition, ...], row: Row) -> Condition | None:
    fields = row.fields
    for condition in conditions:
        value = fields.get(condition.column)
        if not condition.holds(value if isinstance(value, str) else as_text(value)):
            return condition
    return None


@dataclass(slots=True)
class _ItemDraft:
    text: str = ""
    # cells as written; read as numbers once, at the end, rather than on every row
    cells: dict[str, str] = field(default_factory=dict)
    updated_at: float = 0.0


class _ItemCollector:
    """Gathers the latest text and attributes of each item seen in an events file."""

    def __init__(self, text_column: str, attribute_columns: dict[str, str]) -> None:
        self.text_column = text_column
        self.attribute_columns = attribute_columns
        self.drafts: dict[str, _ItemDraft] = {}

    def add(self, row: Row, event: Event) -> None:
        draft = self.drafts.get(event.item_id)
        if draft is None:
            draft = self.drafts[event.item_id] = _ItemDraft()
        text = as_text(row.fields.get(self.text_column)).strip()
        if text:
            draft.text = text
        for name, column in self.attribute_columns.items():
            cell = as_text(row.fields.get(column)).strip()
            if cell:
                draft.cells[name] = cell
        draft.updated_at = max(draft.updated_at, event.timestamp)

    def items(self) -> list[Item]:
        return [Item(item_id=item_id, text=draft.text, updated_at=draft.updated_at,
                     attributes={name: as_attribute(cell) for name, cell in draft.cells.items()})
                for item_id, draft in self.drafts.items()]
