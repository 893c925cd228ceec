"""streamrec serve: the HTTP API on the embedded default."""

from __future__ import annotations

import logging
import sqlite3

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from streamrec.cli.options import DataDir, Host, LogUrl, Port, RedisUrl, build_settings
from streamrec.engine.engine import Engine
from streamrec.errors import Damaged, Misconfigured, Unavailable
from streamrec.models.sequence_process import FITS_FOLDER, sweep_leftover_fits
from streamrec.serving import allocator
from streamrec.settings import Settings
from streamrec.storage.dir_lock import hold_data_dir
from streamrec.storage.failures import is_read_only, storage_unavailable
from streamrec.trust.keys import KeyRing, is_loopback


def open_engine_with_progress(settings: Settings, start_learner: bool = True) -> Engine:
    """Open the engine, drawing a progress bar while the log replays. This process becomes
    the data directory's one writer (storage/dir_lock.py) until it ends."""
    hold_data_dir(settings.data_dir)
    removed = sweep_leftover_fits(settings.data_dir)  # this process's alone from now on
    if removed:
        logging.getLogger(__name__).info(
            "removed %d leftover sequence fit folder(s) under %s", removed,
            settings.data_dir / FITS_FOLDER)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,}"
                  "/{task.total:,} events"), TimeRemainingColumn(), transient=True) as bar:
        task: TaskID | None = None

        def progress(phase: str, done: int, total: int | None) -> None:
            nonlocal task
            if task is None:
                task = bar.add_task(f"{phase} the event log", total=total)
            bar.update(task, completed=done)

        return Engine.open(settings, progress=progress, start_learner=start_learner)


def run_server(settings: Settings) -> None:
    from streamrec.serving.app import create_app
    from streamrec.serving.http_server import serve_app

    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # before the learner and the request threads start allocating (serving/allocator.py)
    allocator.limit_arenas(settings.serving.malloc_arena_max)
    try:
        engine = open_engine_with_progress(settings)
    except Damaged as error:  # named by storage/integrity.py; never served
        typer.echo(f"error: {error.message}; 'streamrec check' checks every file", err=True)
        raise typer.Exit(1) from None
    except Misconfigured as error:  # a setting that does not fit the data dir
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(2) from None
    except Unavailable as error:  # e.g. the Kafka cluster or Redis cannot be reached
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(1) from None
    except (sqlite3.Error, OSError) as error:
        if not is_read_only(error):
            raise
        # e.g. a dir made read-only after a clean stop: SQLite cannot create the -shm file a
        # WAL database needs even to be read (with it in place, the server serves reads)
        failure = storage_unavailable(f"cannot open {settings.data_dir}", error)
        typer.echo(f"error: {failure.message}", err=True)
        raise typer.Exit(1) from None
    # the app's shutdown closes the engine (final snapshot); SIGTERM and SIGINT end in a
    # graceful shutdown and exit status 0 (serving/http_server.py)
    app = create_app(settings, engine, owns_engine=True)
    serve_app(app, settings.serving)


def serve(
    data_dir: DataDir = None,
    host: Host = None,
    port: Port = None,
    log: LogUrl = None,
    redis: RedisUrl = None,
) -> None:
    """Serve the HTTP API (embedded SQLite log and catalogue in --data-dir). Beyond
    loopback, only with API keys (`streamrec keys create`). With --log kafka://... this
    server is one replica of several on that topic (docs/deploy.md)."""
    settings = build_settings(data_dir, host=host, port=port)
    if log is not None:
        settings.storage.log_url = log
    if redis is not None:
        settings.replicas.redis_url = redis
    refuse_open_public_bind(settings)
    run_server(settings)


def refuse_open_public_bind(settings: Settings) -> None:
    """Exit with an error rather than serve an API without keys beyond this machine."""
    host = settings.serving.host
    if is_loopback(host):
        return
    keys = KeyRing(settings.data_dir / "keys.db")
    try:
        if keys.has_active_keys():
            return
    finally:
        keys.close()
    typer.echo(f"error: refusing to serve on {host} without API keys: anyone who can reach it "
               "could read and change everything. Create one first with 'streamrec keys "
               "create --scope admin', or bind to 127.0.0.1.", err=True)
    raise typer.Exit(2)
