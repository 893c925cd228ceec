"""A user's mistake on the command line: one or two lines on stderr naming what and where,
exit status 2, never a traceback. Runs the installed ``streamrec`` console command
(``streamrec_cli`` in conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

# every command that builds Settings (a data file where the command needs one)
SETTINGS_COMMANDS = [
    ["serve", "--port", "0"],
    ["demo", "--port", "0", "--events", "100", "--items", "20", "--users", "5"],
    ["import", "events", "events.jsonl"],
    ["import", "items", "items.jsonl"],
    ["import", "movielens", "."],
    ["keys", "create", "--scope", "read"],
    ["keys", "list"],
    ["keys", "revoke", "nokey"],
    ["fit-ranker"],
]


@pytest.mark.parametrize("args", SETTINGS_COMMANDS, ids=lambda args: " ".join(args[:2]))
def test_an_unknown_setting_stops_every_command(
        streamrec_cli: Any, args: list[str], tmp_path: Path) -> None:
    (tmp_path / "events.jsonl").write_text('{"user_id": "u", "item_id": "i", "type": "view"}\n')
    (tmp_path / "items.jsonl").write_text('{"item_id": "i"}\n')
    result = streamrec_cli([*args, "--data-dir", str(tmp_path / "data")], tmp_path,
                           env={"STREAMREC_PSEUDONYM_SECRET": "s3cret"})
    streamrec_cli.assert_refused(result, "STREAMREC_PSEUDONYM_SECRET",
                                 "did you mean STREAMREC_TRUST__PSEUDONYM_SECRET?")
    assert "s3cret" not in result.stderr
    assert not (tmp_path / "data" / "events.db").exists(), "nothing may be written"


@pytest.mark.parametrize("args", [["generate", "events", "events.jsonl", "--events", "10"],
                                  ["evaluate", "--data", "synthetic:100"]],
                         ids=lambda args: args[0])
def test_an_unknown_setting_stops_even_commands_without_settings(
        streamrec_cli: Any, args: list[str], tmp_path: Path) -> None:
    result = streamrec_cli(args, tmp_path, env={"STREAMREC_SERVING__PORTT": "9000"})
    streamrec_cli.assert_refused(result, "STREAMREC_SERVING__PORTT", "STREAMREC_SERVING__PORT")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["STREAMREC_TRUST__PSEUDONYM_SECRETT",
                                  "STREAMREC_TRUST__PSEUDONYMSECRET"])
def test_a_misspelt_secret_stops_the_server(
        streamrec_cli: Any, name: str, tmp_path: Path) -> None:
    result = streamrec_cli(["serve", "--port", "0", "--data-dir", str(tmp_path)], tmp_path,
                           env={name: "s3cret"})
    streamrec_cli.assert_refused(result, name, "STREAMREC_TRUST__PSEUDONYM_SECRET")


def test_a_bad_setting_value_names_the_variable_and_what_is_allowed(
        streamrec_cli: Any, tmp_path: Path) -> None:
    result = streamrec_cli(["keys", "list", "--data-dir", str(tmp_path)], tmp_path,
                           env={"STREAMREC_STORAGE__SYNCHRONOUS": "fast"})
    streamrec_cli.assert_refused(result, "STREAMREC_STORAGE__SYNCHRONOUS", "'fast'", "'full'",
                                 "'normal'")


def test_one_line_per_bad_setting(streamrec_cli: Any, tmp_path: Path) -> None:
    result = streamrec_cli(["keys", "list", "--data-dir", str(tmp_path)], tmp_path,
                           env={"STREAMREC_STORAGE__SYNCHRONOUS": "fast",
                                "STREAMREC_SERVING__PORT": "eighty"})
    streamrec_cli.assert_refused(result, "STREAMREC_STORAGE__SYNCHRONOUS",
                                 "STREAMREC_SERVING__PORT")


def test_a_setting_that_is_not_json_names_the_variable(
        streamrec_cli: Any, tmp_path: Path) -> None:
    result = streamrec_cli(["keys", "list", "--data-dir", str(tmp_path)], tmp_path,
                           env={"STREAMREC_EVENTS__TYPES": "{like: 3}"})
    streamrec_cli.assert_refused(result, "STREAMREC_EVENTS__TYPES", "JSON")


def test_a_csv_without_a_timestamp_column_imports_as_json_lines_do(
        streamrec_cli: Any, tmp_path: Path) -> None:
    (tmp_path / "events.csv").write_text("user_id,item_id,type\nu1,i1,view\nu2,i1,purchase\n")
    result = streamrec_cli(["import", "events", "events.csv", "--data-dir", "data"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "stored 2 events" in result.stderr


@pytest.mark.parametrize(("args", "files", "expected"), [
    (["import", "events", "events.csv"], {"events.csv": "user_id,type\nu1,view\n"},
     ["events.csv", "line 1", "no column 'item_id'"]),
    (["import", "events", "missing.csv"], {}, ["missing.csv", "does not exist"]),
    (["import", "events", "events.csv", "--where", "price~3"],
     {"events.csv": "user_id,item_id,type,price\nu,i,view,3\n"}, ["price~3"]),
    (["import", "events", "events.csv", "--map", "user"],
     {"events.csv": "user_id,item_id,type\nu,i,view\n"}, ["--map 'user'", "field=column"]),
    (["import", "events", "events.csv", "--map", "buyer=who"],
     {"events.csv": "user_id,item_id,type\nu,i,view\n"}, ["--map 'buyer=who'"]),
    (["import", "events", "events.jsonl"], {"events.jsonl": '{"user_id": "u"}\n'},
     ["no events could be read", "events.jsonl: line 1", "item_id"]),
    (["import", "items", "items.jsonl"], {"items.jsonl": '{"text": "no id"}\n'},
     ["no items could be read", "items.jsonl: line 1", "item_id"]),
    (["import", "movielens", "nothing-here"], {}, ["nothing-here"]),
    (["keys", "create", "--scope", "everything"], {}, ["everything"]),
    (["keys", "revoke", "nokey"], {}, ["nokey"]),
    (["fit-ranker"], {}, ["no event log"]),
    (["serve", "--port", "70000"], {}, ["--port", "65535"]),
    (["serve", "--port", "eighty"], {}, ["--port", "see 'streamrec serve --help'"]),
    (["import", "events", "events.csv", "--preset", "shop"], {"events.csv": "a\n"},
     ["--preset", "online-retail"]),
    (["serve", "--colour"], {}, ["--colour"]),
    (["servee"], {}, ["No such command 'servee'"]),
    # the root's own options are parsed before any command: the same one line, not a box
    (["--bogus"], {}, ["No such option: --bogus", "see 'streamrec --help'"]),
], ids=lambda value: " ".join(value[:2]) if isinstance(value, list) else "")
def test_a_mistake_is_a_message_not_a_traceback(
        streamrec_cli: Any, args: list[str], files: dict[str, str], expected: list[str],
        tmp_path: Path) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    result = streamrec_cli([*args, "--data-dir", "data"], tmp_path)
    streamrec_cli.assert_refused(result, *expected)


def test_plots_without_matplotlib_are_refused_before_the_run(
        streamrec_cli: Any, tmp_path: Path) -> None:
    # a matplotlib that is not there, as on an install without the eval extra
    stub = tmp_path / "no-matplotlib" / "matplotlib"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'matplotlib'\", name='matplotlib')\n")
    result = streamrec_cli(
        ["evaluate", "--data", "synthetic:2000", "--models", "pop", "--json", "out/r.json",
         "--plots", "plots", "--no-tune", "--jobs", "1"],
        tmp_path, env={"PYTHONPATH": str(stub.parent)})
    streamrec_cli.assert_refused(result, "--plots", "matplotlib", "streamrec[eval]")
    assert not (tmp_path / "out").exists(), "refused before the evaluation ran"
