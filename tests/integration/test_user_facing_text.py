"""What a user reads: the OpenAPI descriptions and every command's --help are plain text or
Markdown (no reStructuredText ``markup``), /v1/stats documents each figure it returns, the
options that default to a setting say so, --version answers, and the README's command table
names each command and only options that exist."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer.main
from typer.testing import CliRunner

from streamrec.cli.main import app

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RST_LITERAL = re.compile(r"``[^`]+``")


def _commands(command: Any = None, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The path of every command and group under the root, the root's () first."""
    command = command or typer.main.get_command(app)
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def _command(path: tuple[str, ...]) -> Any:
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return command


def _help(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def test_openapi_text_has_no_restructuredtext_markup(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    assert [text for text in _strings(spec) if RST_LITERAL.search(text)] == []


@pytest.mark.parametrize("path", list(_commands()), ids=lambda path: " ".join(path) or "root")
def test_help_has_no_restructuredtext_markup(path: tuple[str, ...]) -> None:
    assert RST_LITERAL.findall(_help(path)) == []


def test_stats_documents_every_figure_it_returns(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    properties = spec["components"]["schemas"]["StatsOut"]["properties"]
    assert [name for name, schema in properties.items() if not schema.get("description")] == []
    returned = client.get("/v1/stats").json()
    assert sorted(set(returned) - set(properties)) == [], "returned but not documented"


@pytest.mark.parametrize(("path", "defaults"), [
    (("serve",), ["./streamrec-data", "127.0.0.1", "8000"]),
    (("demo",), ["./streamrec-data", "127.0.0.1", "8000"]),
    (("import", "events"), ["./streamrec-data"]),
])
def test_options_that_default_to_a_setting_show_it(path: tuple[str, ...],
                                                   defaults: list[str]) -> None:
    text = " ".join(_help(path).split())
    for default in defaults:
        assert default in text


def test_version_is_the_package_version() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    result = CliRunner().invoke(app, ["--version"])
    assert (result.exit_code, result.output) == (0, f"streamrec {version}\n")


def _readme_table() -> list[list[str]]:
    """The README's command table: per row, the commands its first cell shows."""
    text = (ROOT / "README.md").read_text()
    table = text.split("## Command line", 1)[1].split("\n\n", 2)[1]
    rows = [line.split(" | ")[0] for line in table.splitlines() if line.startswith("| `")]
    return [[code.removeprefix("streamrec ").replace("\\|", "|")
             for code in re.findall(r"`([^`]+)`", row)] for row in rows]


def _split(shown: str) -> tuple[tuple[str, ...], list[str]]:
    """('import', 'events') and the options named in 'import events FILE [--map ...]'."""
    words, path = shown.split(), ()
    command = typer.main.get_command(app)
    while words and words[0] in getattr(command, "commands", {}):
        command = command.commands[words[0]]
        path = (*path, words.pop(0))
    return path, re.findall(r"--[a-z][a-z-]*", " ".join(words))


def test_the_readme_names_every_command() -> None:
    shown = {_split(code)[0] for row in _readme_table() for code in row}
    leaves = {path for path in _commands() if not hasattr(_command(path), "commands")}
    assert sorted(leaves - shown) == []


def test_the_readme_names_only_options_that_exist() -> None:
    wrong = []
    for row in _readme_table():
        for code in row:
            path, options = _split(code)
            known = {opt for param in _command(path).params for opt in param.opts}
            wrong += [f"{' '.join(path)} {option}" for option in options if option not in known]
    assert wrong == []

