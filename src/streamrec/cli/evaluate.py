"""streamrec evaluate: streamrec and its peers over one event log; JSON, table and plots."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

import streamrec.cli.native  # noqa: F401  (must run before numpy is imported)
from streamrec.errors import InvalidInput, StreamrecError
from streamrec.evaluation.peers import source_models
from streamrec.evaluation.report import markdown_table, to_report, write_json
from streamrec.evaluation.runner import ALL_MODELS, EvaluationConfig
from streamrec.evaluation.runner import evaluate as run_evaluation


def evaluate(
    data: Annotated[str, typer.Option(
        "--data", help="Event log the importers read (MovieLens directory, online-retail, "
        "diginetica, events CSV/JSONL), or synthetic:N for N generated events, "
        "synthetic-slow:N for a sparse shop of months-long tempo.")],
    protocol: Annotated[str, typer.Option(
        help="prequential (test-then-train) | temporal | leave-last-out")] = "prequential",
    k: Annotated[int, typer.Option(help="List length K.")] = 10,
    sample: Annotated[int, typer.Option(
        help="Prequential: ask about every n-th event only (all events are learned).")] = 1,
    block: Annotated[int, typer.Option(
        help="Prequential: queries see nothing of their block of B events.")] = 1,
    models: Annotated[str, typer.Option(
        help="Comma-separated models. Also: " + ", ".join(source_models()) + " (each of "
        "streamrec's sources alone, ranked by its own score; only when named).")] = ",".join(
        ALL_MODELS),
    url: Annotated[str | None, typer.Option(
        help="Evaluate a running streamrec server (fresh data directory) over HTTP.")] = None,
    api_key: Annotated[str | None, typer.Option(
        envvar="STREAMREC_API_KEY", help="With --url: the server's API key (never written "
        "to the report).")] = None,
    json_path: Annotated[Path | None, typer.Option(
        "--json", help="Report file; the markdown table goes beside it (.md).",
        show_default="evaluation-results/<data>-<protocol>.json")] = None,
    plots: Annotated[Path | None, typer.Option(
        help="Directory for the PNG plots (needs matplotlib: the eval extra).",
        show_default="the JSON file's directory")] = None,
    refit_fraction: Annotated[float, typer.Option(
        help="Batch peers (ALS, BPR, EASE) refit after every this share of the stream.")] = 0.1,
    train_fraction: Annotated[float, typer.Option(help="Temporal split: training share.")] = 0.8,
    jobs: Annotated[int, typer.Option(
        help="Models run in this many processes at once.", show_default="min(2, CPUs)")] = 0,
    tune: Annotated[bool, typer.Option(
        help="Tune peers on a validation slice of the training part.")] = True,
    seed: Annotated[int, typer.Option(help="Seed of every randomised peer.")] = 0,
    max_per_user: Annotated[int | None, typer.Option(
        help="Sparse cut: keep N of each user's events, drawn with --seed [default: all].")] = None,
    kcore: Annotated[int | None, typer.Option(
        help="Sparse cut, after --max-per-user: keep users and items with at least K events "
        "(repeated until all have) [default: no cut].")] = None,
) -> None:
    """Evaluate streamrec against its peers over an event log (see docs/evaluation.md)."""
    console = Console(stderr=True)
    plotter = _plotter()
    if plots is not None and plotter is None:  # before the run, not after it
        raise InvalidInput("plots", "--plots needs matplotlib, which is not installed: "
                           "pip install 'streamrec[eval]'")
    config = EvaluationConfig(
        data=data, protocol=protocol, k=k, sample=sample, block=block,
        models=tuple(m.strip() for m in models.split(",") if m.strip()), url=url,
        api_key=api_key,
        refit_fraction=refit_fraction, train_fraction=train_fraction,
        jobs=jobs or min(2, os.cpu_count() or 1), tune=tune, seed=seed,
        max_per_user=max_per_user, kcore=kcore)
    try:
        with Progress(TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), TimeRemainingColumn(), console=console) as bar:
            evaluation = run_evaluation(config, ProgressBars(bar))
    except StreamrecError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    report = to_report(evaluation)
    stem = f"{config.name}-{protocol}"
    json_file = json_path or Path("evaluation-results") / f"{stem}.json"
    write_json(report, json_file)
    table = markdown_table(report)
    json_file.with_suffix(".md").write_text(table)
    written = plotter(report, plots or json_file.parent, stem) if plotter else []
    typer.echo(table)
    for skipped in evaluation.skipped:
        console.print(f"skipped {skipped}: not installed")
    if plotter is None:
        console.print("no plots: matplotlib is not installed (pip install 'streamrec[eval]')")
    console.print(f"{evaluation.seconds:.0f} s; wrote {json_file}, "
                  f"{json_file.with_suffix('.md')}, " + ", ".join(str(p) for p in written))


def _plotter() -> Callable[[dict[str, Any], Path, str], list[Path]] | None:
    """write_plots, or None without matplotlib (an optional dependency: the eval extra)."""
    try:
        from streamrec.evaluation.plots import write_plots
    except ModuleNotFoundError as error:
        if error.name != "matplotlib":
            raise
        return None
    return write_plots


class ProgressBars:
    """One rich bar per model and phase, fed by the runner's (model, phase, done, total)."""

    def __init__(self, bar: Progress) -> None:
        self.bar = bar
        self.tasks: dict[tuple[str, str], TaskID] = {}

    def __call__(self, model: str, phase: str, done: int, total: int) -> None:
        task = self.tasks.get((model, phase))
        if task is None:
            task = self.tasks[(model, phase)] = self.bar.add_task(f"{model} {phase}", total=total)
        self.bar.update(task, completed=done, total=total)
