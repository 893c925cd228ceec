"""streamrec train: refit the sequence model from the log now, with a progress bar.

The refit is the one the server's trainer would make (engine/trainer.py): a ``$refit-begin``
and a ``$refit-end`` in the log, the fit saved as a safetensors artefact that the end names,
so a server started afterwards (or a replay) serves exactly this fit. Its curves go to
``<data dir>/tensorboard/`` (TensorBoard event files and PNGs)."""

from __future__ import annotations

import time

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from streamrec.cli.loading import console
from streamrec.cli.options import DataDir, build_settings
from streamrec.engine.engine import Engine
from streamrec.engine.refits import begin_event
from streamrec.models.sequence import SequenceModel, is_trainable
from streamrec.storage.dir_lock import hold_data_dir

_MODEL = "sequence"


def train(data_dir: DataDir = None) -> None:
    """Refit the sequence model on the log now (needs the 'deep' extra: torch). Run with the
    server stopped; curves go to <data-dir>/tensorboard/."""
    settings = build_settings(data_dir)
    if not is_trainable():
        typer.echo("error: training needs torch: pip install 'streamrec[deep]'", err=True)
        raise typer.Exit(2)
    hold_data_dir(settings.data_dir)  # the server's trainer would race this refit
    engine = Engine.open(settings, start_learner=False)
    try:
        model = engine.state.models.get(_MODEL)
        if not isinstance(model, SequenceModel) or model.events == 0:
            typer.echo("error: the log holds no events to train on", err=True)
            raise typer.Exit(2)
        started = time.perf_counter()
        with _bar() as bar:
            task = bar.add_task("preparing", total=None)

            def progress(what: str, done: int, total: int) -> None:
                bar.update(task, description=what, completed=done, total=total)

            model.progress = progress
            model.epoch_report = lambda epoch, figures: console.print(
                f"epoch {epoch + 1}: loss {figures['loss']:.4f}, held-out HR@10 "
                f"{figures['hr@10']:.4f}, NDCG@10 {figures['ndcg@10']:.4f}, "
                f"{figures['events_per_s']:,.0f} events/s")
            engine.log.append([begin_event(_MODEL, time.time())])
            engine.learner.catch_up()
            engine.trainer.fit_pending()  # fits what the begin took, logs the end
            engine.learner.catch_up()
        if engine.trainer.error is not None:
            typer.echo(f"error: the refit failed: {engine.trainer.error}", err=True)
            raise typer.Exit(1)
    finally:
        engine.close()
    typer.echo(f"refit the sequence model on {model.events:,} events in "
               f"{time.perf_counter() - started:.1f} s; curves in "
               f"{settings.data_dir / 'tensorboard'} (tensorboard --logdir it)")


def _bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, disable=not console.is_terminal)
