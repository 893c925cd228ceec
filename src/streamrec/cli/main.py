"""The ``streamrec`` command."""

from __future__ import annotations

import typer

import streamrec.cli.blas  # noqa: F401  (must run before numpy is imported)
from streamrec.cli.serve import serve

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="streamrec: real-time recommendations that learn from every event.")


@app.callback()
def main() -> None:
    """streamrec: real-time recommendations that learn from every event."""


app.command()(serve)


if __name__ == "__main__":
    app()
