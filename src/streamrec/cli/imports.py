"""streamrec import: bring your own files (MovieLens folders, event logs, catalogues)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from streamrec.cli.loading import append_events, console, upsert_items
from streamrec.cli.options import DataDir, build_settings
from streamrec.cli.serve import open_engine_with_progress
from streamrec.errors import InvalidInput
from streamrec.importers.report import ImportReport

app = typer.Typer(no_args_is_help=True, help="Import MovieLens, event logs or a catalogue.")


@app.command("movielens")
def import_movielens(path: Annotated[Path, typer.Argument(help="An ml-100k, ml-1m or "
                                                          "ml-latest(-small) folder")],
                     data_dir: DataDir = None) -> None:
    """Ratings become events; titles, genres and tags become item text and attributes."""
    from streamrec.importers.movielens import read_movielens

    data = read_movielens(path)
    engine = open_engine_with_progress(build_settings(data_dir), start_learner=False)
    try:
        items = upsert_items(engine, data.items())
        accepted, duplicates = append_events(engine, data.events())
    finally:
        engine.close()
    console.print(f"imported {items:,} items and {accepted:,} events "
                  f"({duplicates:,} already there) into {engine.settings.data_dir}")


@app.command("events")
def import_events(
    file: Annotated[Path, typer.Argument(help="CSV or JSON lines, gzip or not")],
    data_dir: DataDir = None,
    preset: Annotated[str | None, typer.Option(help="online-retail or diginetica")] = None,
    map_: Annotated[list[str] | None, typer.Option(
        "--map", help="field=column, e.g. user=CustomerID (fields: user, item, timestamp, "
        "type, value, event_id, session)")] = None,
    where: Annotated[list[str] | None, typer.Option(
        help="Keep rows where this holds, e.g. 'Quantity>0' or 'CustomerID!='")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="Every event gets this type")]
    = None,
    item_text: Annotated[str | None, typer.Option(
        help="Also create items, with this column as their text")] = None,
) -> None:
    """Events from a file. Rows failing --where are skipped; bad rows are counted, not stored."""
    from dataclasses import replace

    from streamrec.importers.events_file import read_events, read_items_from_events
    from streamrec.importers.presets import PRESET_ITEMS, PRESETS
    from streamrec.importers.spec import EventFileSpec

    if preset is not None and preset not in PRESETS:
        raise typer.BadParameter(f"unknown preset; known: {', '.join(PRESETS)}",
                                 param_hint="--preset")
    spec = PRESETS[preset] if preset else EventFileSpec()
    if map_:
        spec = replace(spec, columns=replace(spec.columns, **_mapping(map_)))
    if where:
        spec = replace(spec, filters=(*spec.filters, *where))
    if type_:
        spec = replace(spec, fixed_type=type_)
    report = ImportReport()
    engine = open_engine_with_progress(build_settings(data_dir), start_learner=False)
    try:
        text_column = item_text or (PRESET_ITEMS[preset].text if preset in PRESET_ITEMS else None)
        if text_column:
            attributes = PRESET_ITEMS[preset].attributes if preset in PRESET_ITEMS else {}
            upsert_items(engine, read_items_from_events(file, spec, text_column, attributes))
        accepted, duplicates = append_events(engine, read_events(file, spec, report=report))
    finally:
        engine.close()
    _refuse_if_nothing_read(report, file, "events")
    console.print(report.summary())
    console.print(f"stored {accepted:,} events ({duplicates:,} already there)")


@app.command("items")
def import_items(file: Annotated[Path, typer.Argument(help="JSON lines or CSV with item_id")],
                 data_dir: DataDir = None) -> None:
    """A catalogue: item_id, text, attributes (other CSV columns), available."""
    from streamrec.importers.items_file import read_items

    report = ImportReport()
    engine = open_engine_with_progress(build_settings(data_dir), start_learner=False)
    try:
        count = upsert_items(engine, read_items(file, report=report))
    finally:
        engine.close()
    _refuse_if_nothing_read(report, file, "items")
    console.print(report.summary())
    console.print(f"stored {count:,} items")


def _mapping(pairs: list[str]) -> dict[str, str]:
    """--map field=column pairs, each field one of Columns'."""
    from dataclasses import fields

    from streamrec.importers.spec import Columns

    known = [field.name for field in fields(Columns)]
    mapping = {}
    for pair in pairs:
        name, equals, column = pair.partition("=")
        if not equals or not column or name not in known:
            raise InvalidInput("map", f"--map {pair!r}: give field=column with a field out of "
                               f"{', '.join(known)}")
        mapping[name] = column
    return mapping


def _refuse_if_nothing_read(report: ImportReport, file: Path, what: str) -> None:
    """A file none of whose rows could be read is a mistake, not an import of nothing."""
    if report.produced == 0 and report.rejected > 0:
        raise InvalidInput("path", f"no {what} could be read from {file}: all "
                           f"{report.rejected:,} rows were rejected, the first as follows\n"
                           f"{report.reasons[0]}")
