"""Shared by the benchmarks: synthetic data at a given scale, a server subprocess, percentiles."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# what the server sets before numpy loads (streamrec/cli/native.py), written out here so a
# peer commit's code, run by these benches, gets it too
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from streamrec.datagen import GeneratorConfig, generate_events, generate_items  # noqa: E402
from streamrec.types import Event, Item  # noqa: E402


def world(n_items: int, n_events: int, n_users: int | None = None) -> GeneratorConfig:
    users = n_users or max(1_000, n_events // 50)
    return GeneratorConfig(n_users=users, n_items=n_items, n_events=n_events,
                           n_categories=max(20, n_items // 1000), seed=7)


def events_of(config: GeneratorConfig) -> list[Event]:
    return [e for chunk in generate_events(config) for e in chunk]


def items_of(config: GeneratorConfig) -> list[Item]:
    return [i for chunk in generate_items(config) for i in chunk]


def add_users(chunk: list[Event], seen: set[str], users: list[str]) -> None:
    """Append the users of ``chunk`` not in ``seen`` to ``users``, in order of first event:
    the users a bench asks recommendations for."""
    for event in chunk:
        if event.user_id not in seen:
            seen.add(event.user_id)
            users.append(event.user_id)


def percentiles(seconds: list[float]) -> str:
    ms = np.array(seconds) * 1000
    return f"p50 {np.percentile(ms, 50):.2f} ms  p99 {np.percentile(ms, 99):.2f} ms"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def create_log_as_before_sealing(path: Path) -> None:
    """An empty embedded log file as streamrec made it before sealing: its event ids in a
    UNIQUE index (each id looked up there, however old; storage/sqlite_log.py keeps doing so
    for such a file). The peer a sealed log's ingest is measured against."""
    import sqlite3

    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path)
    try:
        connection.executescript("""
            CREATE TABLE IF NOT EXISTS events (
                log_offset INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT UNIQUE,
                user_id TEXT NOT NULL, item_id TEXT NOT NULL, type TEXT NOT NULL, value REAL,
                timestamp REAL NOT NULL, context BLOB, sealed BLOB);
            CREATE INDEX IF NOT EXISTS events_by_user ON events(user_id);""")
    finally:
        connection.close()


def unsealed() -> None:
    """From now on this process opens the embedded event log as streamrec did before
    encryption at rest: plain rows, ids in a UNIQUE index (``create_log_as_before_sealing``).
    The peer that prices sealing (bench/ingest.py, bench/serve.py ``--sealing``); a benchmark
    hook only: streamrec itself has no setting that turns sealing off."""
    from streamrec.engine import engine
    from streamrec.settings import Settings
    from streamrec.storage.base import EventLog, open_log
    from streamrec.storage.integrity import sqlite_path

    def open_plain(settings: Settings) -> EventLog:
        if not sqlite_path(settings.log_url).exists():
            create_log_as_before_sealing(sqlite_path(settings.log_url))
        return open_log(settings.log_url, synchronous=settings.storage.synchronous,
                        max_queued_events=settings.serving.max_queued_events)

    engine.open_event_log = open_plain


_UNSEALED_SERVE = ("import sys; sys.path.insert(0, {bench!r}); import common; "
                   "common.unsealed(); from streamrec.cli.main import app; app()")


def start_server(data_dir: Path, timeout_s: float = 600.0, *extra_env: tuple[str, str],
                 sealed: bool = True) -> tuple[subprocess.Popen[bytes], str]:
    """``streamrec serve`` on a free loopback port; returns once /healthz answers.
    ``sealed=False``: its log without encryption at rest (``unsealed``)."""
    port = free_port()
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", **dict(extra_env)}
    program = ["-m", "streamrec.cli.main"] if sealed else \
        ["-c", _UNSEALED_SERVE.format(bench=str(Path(__file__).parent))]
    data_dir.mkdir(parents=True, exist_ok=True)
    output = data_dir / "bench-server.log"  # what the server said, for when it stops early
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, *program, "serve", "--data-dir", str(data_dir),
             "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=sink)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            said = output.read_text(errors="replace")
            if "address already in use" in said and time.monotonic() < deadline:
                # another process took the free port before the server bound it: a new one
                return start_server(data_dir, deadline - time.monotonic(), *extra_env,
                                    sealed=sealed)
            raise RuntimeError(f"the server exited with {process.returncode}: "
                               f"{said.strip().splitlines()[-3:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"the server did not become healthy within {timeout_s:.0f} s")


@contextmanager
def server(data_dir: Path, *extra_env: tuple[str, str], sealed: bool = True) -> Iterator[str]:
    with served(data_dir, *extra_env, sealed=sealed) as (url, _):
        yield url


@contextmanager
def served(data_dir: Path, *extra_env: tuple[str, str],
           sealed: bool = True) -> Iterator[tuple[str, int]]:
    """``server``, also giving the server's process id (for ``cpu_seconds``)."""
    process, url = start_server(data_dir, 600.0, *extra_env, sealed=sealed)
    try:
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=120)


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system, every thread) process ``pid`` has used so far: a cost the
    machine's other load changes much less than wall-clock rates (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scratch_dir(prefix: str = "streamrec-bench-") -> Path:
    """A temporary folder, removed when the process exits: a benchmark's data directories
    are ~100 MB each, one per round, and were left in /tmp."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, True)
    return path


def code_version() -> str:
    """The commit the benchmark's code is at, with ``-dirty`` when files differ from it: a
    result file says what it measured, since a rerun under the same name replaces it."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


@contextmanager
def worktree_at(commit: str) -> Iterator[Path]:
    """The repository's code at ``commit`` in a temporary git worktree."""
    root = Path(__file__).resolve().parent.parent
    where = Path(tempfile.mkdtemp(prefix="streamrec-peer-")) / "tree"
    subprocess.run(["git", "-C", str(root), "worktree", "add", "--detach", str(where), commit],
                   check=True, capture_output=True)
    try:
        yield where
    finally:
        subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force", str(where)],
                       check=False, capture_output=True)
        shutil.rmtree(where.parent, ignore_errors=True)
