"""streamrec import: bring your own files (MovieLens folders, event logs, catalogues)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from streamrec.cli.loading import append_events, console, upsert_items
from streamrec.cli.options import DataDir, build_settings
from streamrec.cli.serve import open_engine_with_progress

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
    from streamrec.importers.report import ImportReport
    from streamrec.importers.spec import EventFileSpec

    if preset is not None and preset not in PRESETS:
        raise typer.BadParameter(f"unknown preset; known: {', '.join(PRESETS)}",
                                 param_hint="--preset")
    spec = PRESETS[preset] if preset else EventFileSpec()
    if map_:
        mapping = dict(pair.split("=", 1) for pair in map_)
        spec = replace(spec, columns=replace(spec.columns, **mapping))
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
    console.print(report.summary())
    console.print(f"stored {accepted:,} events ({duplicates:,} already there)")


@app.command("items")
def import_items(file: Annotated[Path, typer.Argument(help="JSON lines or CSV with item_id")],
                 data_dir: DataDir = None) -> None:
    """A catalogue: item_id, text, attributes (other CSV columns), available."""
    from streamrec.importers.items_file import read_items

    engine = open_engine_with_progress(build_settings(data_dir), start_learner=False)
    try:
        count = upsert_items(engine, read_items(file))
    finally:
        engine.close()
    console.print(f"stored {count:,} items")
