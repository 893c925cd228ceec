"""The ``streamrec`` command."""

from __future__ import annotations

import os
from typing import Annotated

import typer

import streamrec.cli.native  # noqa: F401  (must run before numpy is imported)
from streamrec import __version__
from streamrec.cli.check import check
from streamrec.cli.demo import demo, generate_app
from streamrec.cli.erasures import reapply_erasures
from streamrec.cli.evaluate import evaluate
from streamrec.cli.experiments import app as experiments_app
from streamrec.cli.fit_ranker import fit_ranker
from streamrec.cli.imports import app as import_app
from streamrec.cli.keys import app as keys_app
from streamrec.cli.mistakes import MistakesAsMessages
from streamrec.cli.serve import serve
from streamrec.cli.train import train
from streamrec.setting_names import refuse_unknown_names
from streamrec.settings import Settings

app = typer.Typer(cls=MistakesAsMessages, no_args_is_help=True, add_completion=False,
                  help="streamrec: real-time recommendations that learn from every event.")


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"streamrec {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print streamrec's version and exit.")] = False) -> None:
    """streamrec: real-time recommendations that learn from every event."""
    # before any command does any work: a misspelt STREAMREC_ variable is a mistake whatever
    # the command (those that build Settings check again, for callers other than this one)
    refuse_unknown_names(Settings, os.environ)
    # what streamrec writes holds behaviour data: data dirs 0700, files 0600, whatever the
    # caller's umask (SQLite gives its -wal and -shm files the mode of their database)
    os.umask(0o077)


app.command()(serve)
app.command()(demo)
app.command()(evaluate)
app.command(name="fit-ranker")(fit_ranker)
app.command()(train)
app.command()(check)
app.command(name="reapply-erasures")(reapply_erasures)
app.add_typer(import_app, name="import")
app.add_typer(generate_app, name="generate")
app.add_typer(keys_app, name="keys")
app.add_typer(experiments_app, name="experiments")


if __name__ == "__main__":
    app()
