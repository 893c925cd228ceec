"""streamrec fit-ranker: the ranker's starting weights, fit on a replay of your own log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import streamrec.cli.native  # noqa: F401  (must run before numpy is imported)
from streamrec.cli.options import DataDir, build_settings
from streamrec.errors import StreamrecError
from streamrec.evaluation.dense_events import DenseEvents
from streamrec.types import Item


def fit_ranker(
    data_dir: DataDir = None,
    data: Annotated[str | None, typer.Option(
        "--data", help="Instead of the data directory's log: a file or folder the importers "
        "read, or synthetic:N.")] = None,
    first: Annotated[float, typer.Option(
        help="Use only this first share of the log (e.g. the part a validation may see).")] = 1.0,
    held_out: Annotated[float, typer.Option(
        help="Share of the log, at its end, held out to check the fit.")] = 0.2,
    max_lessons: Annotated[int, typer.Option(help="Candidate lists to learn from.")] = 20_000,
    epochs: Annotated[int, typer.Option(help="Passes over the lessons.")] = 5,
    output: Annotated[Path | None, typer.Option(
        help="Also write the weights here, as JSON.")] = None,
) -> None:
    """Fit the hybrid ranker's starting weights on a replay of a log (the question it learns
    online: which candidate the user takes next) and print them as the setting to start the
    server with. The server keeps learning online from there."""
    from streamrec.evaluation.next_item_prior import fit_next_item_prior

    console = Console(stderr=True)
    try:
        if not 0.0 < first <= 1.0:
            raise ValueError("--first must be above 0 and at most 1")
        events, items = _load(data_dir, data)
        events = events.slice(0, max(1, int(round(len(events) * first))))  # as evaluate cuts
        with Progress(TextColumn("replaying, asking"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task("", total=None)
            fit = fit_next_item_prior(
                events, items, held_out=held_out, max_lessons=max_lessons, epochs=epochs,
                tick=lambda done, total: bar.update(task, completed=done, total=total))
    except (StreamrecError, ValueError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    console.print(
        f"fit on {fit.fit_lessons:,} lists; on {fit.held_out_lessons:,} held-out lists the "
        f"taken item is in the top {fit.k} for {fit.held_out_hit_rate_fitted:.1%} with these "
        f"weights, {fit.held_out_hit_rate_built_in:.1%} with the built-in prior")
    if not fit.is_better:
        console.print("[yellow]the fit is no better than the built-in prior on the held-out "
                      "part: keep the default[/yellow]")
    weights = json.dumps(fit.prior, separators=(",", ":"))
    if output is not None:
        output.write_text(json.dumps(fit.prior, indent=2) + "\n")
    typer.echo(f"STREAMREC_MODELS__HYBRID__PRIOR='{weights}'")


def _load(data_dir: Path | None, data: str | None) -> tuple[DenseEvents, tuple[Item, ...]]:
    if data is not None:
        from streamrec.evaluation.datasets import load_log

        loaded = load_log(data)
        return loaded.events, loaded.items
    from streamrec.engine.engine import open_event_log
    from streamrec.engine.state import is_control
    from streamrec.storage.base import open_catalogue
    from streamrec.storage.integrity import sqlite_path

    settings = build_settings(data_dir)
    if settings.log_url.startswith("sqlite:///") and not sqlite_path(settings.log_url).exists():
        raise StreamrecError(f"no event log in {settings.data_dir}", field="data_dir")
    log, catalogue = open_event_log(settings), open_catalogue(settings.catalogue_url)
    try:
        behaviour, after = [], 0
        while chunk := log.read(after, 10_000):
            behaviour += [e.event for e in chunk if not is_control(e.event)]
            after = chunk[-1].offset
        items = tuple(catalogue.scan())
    finally:
        log.close()
        catalogue.close()
    if not behaviour:
        raise StreamrecError(f"the event log in {settings.data_dir} is empty", field="data_dir")
    return DenseEvents.from_events(behaviour, settings.events.types), items
