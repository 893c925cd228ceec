"""streamrec check: a full check of every file of a data dir, without starting a server."""

from __future__ import annotations

import typer

from streamrec.cli.options import DataDir, build_settings
from streamrec.errors import Damaged
from streamrec.storage.integrity import check_header, check_pages, sqlite_paths
from streamrec.storage.snapshots import DamagedSnapshot, SnapshotStore, read_snapshot


def check(data_dir: DataDir = None) -> None:
    """Check every SQLite file page by page (PRAGMA integrity_check) and read every snapshot
    whole. One line per file; exit status 1 if any is damaged. Safe beside a running server
    (reads only), but slow on a big log."""
    settings = build_settings(data_dir)
    if not settings.data_dir.is_dir():
        typer.echo(f"error: {settings.data_dir} is not a directory", err=True)
        raise typer.Exit(2)
    damaged = 0
    for path in sqlite_paths(settings.data_dir, settings.log_url, settings.catalogue_url):
        if not path.exists():
            continue
        try:
            check_header(path)
            check_pages(path, full=True)
        except Damaged as error:
            damaged += 1
            typer.echo(f"DAMAGED {error.message}")
            continue
        typer.echo(f"ok      {path}")
    store = SnapshotStore(settings.snapshot_dir)
    for folder in store.folders():
        try:
            read_snapshot(folder)
        except DamagedSnapshot as error:
            damaged += 1
            typer.echo(f"DAMAGED {error.file}: {error.reason} (an older snapshot or a replay "
                       "of the log is used instead)")
            continue
        typer.echo(f"ok      {folder}")
    if damaged:
        raise typer.Exit(1)
