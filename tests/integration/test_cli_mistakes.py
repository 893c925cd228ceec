"""A user's mistake on the command line: one or two lines on stderr naming what and where,
exit status 2, never a traceback. Runs the installed ``streamrec`` console command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def streamrec_command() -> str:
    """The console script of the environment running the tests (as `pip install -e` made it)."""
    beside = Path(sys.executable).with_name("streamrec")
    found = str(beside) if beside.exists() else shutil.which("streamrec")
    assert found, "the streamrec command is not installed: pip install -e '.[test]'"
    return found


def run_streamrec(args: Sequence[str], cwd: Path, env: dict[str, str] | None = None,
                  timeout: float = 120) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("STREAMREC_")}
    environment.update({"OPENBLAS_NUM_THREADS": "1", "COLUMNS": "200", **(env or {})})
    return subprocess.run([streamrec_command(), *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def assert_usage_error(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    report = f"exit {result.returncode}\nstderr:\n{result.stderr}\nstdout:\n{result.stdout}"
    assert result.returncode == 2, report
    assert "Traceback" not in result.stderr + result.stdout, report
    lines = result.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, report
    assert lines[0].startswith("error: "), report
    for text in expected:
        assert text in result.stderr, report


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
def test_an_unknown_setting_stops_every_command(args: list[str], tmp_path: Path) -> None:
    (tmp_path / "events.jsonl").write_text('{"user_id": "u", "item_id": "i", "type": "view"}\n')
    (tmp_path / "items.jsonl").write_text('{"item_id": "i"}\n')
    result = run_streamrec([*args, "--data-dir", str(tmp_path / "data")], tmp_path,
                           env={"STREAMREC_PSEUDONYM_SECRET": "s3cret"})
    assert_usage_error(result, "STREAMREC_PSEUDONYM_SECRET",
                       "did you mean STREAMREC_TRUST__PSEUDONYM_SECRET?")
    assert "s3cret" not in result.stderr
    assert not (tmp_path / "data" / "events.db").exists(), "nothing may be written"


@pytest.mark.parametrize("args", [["generate", "events", "events.jsonl", "--events", "10"],
                                  ["evaluate", "--data", "synthetic:100"]],
                         ids=lambda args: args[0])
def test_an_unknown_setting_stops_even_commands_without_settings(args: list[str],
                                                                 tmp_path: Path) -> None:
    result = run_streamrec(args, tmp_path, env={"STREAMREC_SERVING__PORTT": "9000"})
    assert_usage_error(result, "STREAMREC_SERVING__PORTT", "STREAMREC_SERVING__PORT")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["STREAMREC_TRUST__PSEUDONYM_SECRETT",
                                  "STREAMREC_TRUST__PSEUDONYMSECRET"])
def test_a_misspelt_secret_stops_the_server(name: str, tmp_path: Path) -> None:
    result = run_streamrec(["serve", "--port", "0", "--data-dir", str(tmp_path)], tmp_path,
                           env={name: "s3cret"})
    assert_usage_error(result, name, "STREAMREC_TRUST__PSEUDONYM_SECRET")


def test_a_bad_setting_value_names_the_variable_and_what_is_allowed(tmp_path: Path) -> None:
    result = run_streamrec(["keys", "list", "--data-dir", str(tmp_path)], tmp_path,
                           env={"STREAMREC_STORAGE__SYNCHRONOUS": "fast"})
    assert_usage_error(result, "STREAMREC_STORAGE__SYNCHRONOUS", "'fast'", "'full'", "'normal'")


def test_one_line_per_bad_setting(tmp_path: Path) -> None:
    result = run_streamrec(["keys", "list", "--data-dir", str(tmp_path)], tmp_path,
                           env={"STREAMREC_STORAGE__SYNCHRONOUS": "fast",
                                "STREAMREC_SERVING__PORT": "eighty"})
    assert_usage_error(result, "STREAMREC_STORAGE__SYNCHRONOUS", "STREAMREC_SERVING__PORT")


def test_a_setting_that_is_not_json_names_the_variable(tmp_path: Path) -> None:
    result = run_streamrec(["keys", "list", "--data-dir", str(tmp_path)], tmp_path,
                           env={"STREAMREC_EVENTS__TYPES": "{like: 3}"})
    assert_usage_error(result, "STREAMREC_EVENTS__TYPES", "JSON")


def test_a_csv_without_a_timestamp_column_imports_as_json_lines_do(tmp_path: Path) -> None:
    (tmp_path / "events.csv").write_text("user_id,item_id,type\nu1,i1,view\nu2,i1,purchase\n")
    result = run_streamrec(["import", "events", "events.csv", "--data-dir", "data"], tmp_path)
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
], ids=lambda value: " ".join(value[:2]) if isinstance(value, list) else "")
def test_a_mistake_is_a_message_not_a_traceback(args: list[str], files: dict[str, str],
                                                expected: list[str], tmp_path: Path) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    result = run_streamrec([*args, "--data-dir", "data"], tmp_path)
    assert_usage_error(result, *expected)


def test_plots_without_matplotlib_are_refused_before_the_run(tmp_path: Path) -> None:
    # a matplotlib that is not there, as on an install without the eval extra
    stub = tmp_path / "no-matplotlib" / "matplotlib"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'matplotlib'\", name='matplotlib')\n")
    result = run_streamrec(
        ["evaluate", "--data", "synthetic:2000", "--models", "pop", "--json", "out/r.json",
         "--plots", "plots", "--no-tune", "--jobs", "1"],
        tmp_path, env={"PYTHONPATH": str(stub.parent)})
    assert_usage_error(result, "--plots", "matplotlib", "streamrec[eval]")
    assert not (tmp_path / "out").exists(), "refused before the evaluation ran"
