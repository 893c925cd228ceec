"""A read-only data dir under a real server: writes refused with a clear 503 that says so,
nothing half-stored, reads still served, writes accepted again once the dir is writable, and
every acknowledged event stored exactly once in files that pass ``PRAGMA integrity_check``.

Read-only here is file modes (``chmod a-w``), so the server runs as ``nobody`` (uid and gid
65534): root writes through file modes. Permissions are checked when a file is opened, and a
running server holds its SQLite files open, so a chmod under it changes nothing (its writes go
on, rightly: they are durable). What an operator meets is a server started on a read-only
dir (a volume mounted read-only, a restore owned by another user): the test stops the server
once the dir is read-only and starts it again. Last, a dir made read-only after a clean stop
(no ``-shm`` file left) cannot be opened at all: the server must exit saying so.

Needs root, ``setpriv``, and, when ``nobody`` cannot reach this Python (e.g. a pyenv under
``/root``, mode 0700), ``unshare`` with CAP_SYS_ADMIN to show it a searchable view of the way
there in a mount namespace of the server's own; the test skips without them.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import streamrec

pytestmark = pytest.mark.integration

NOBODY = 65534
QUIET = {"STREAMREC_SNAPSHOTS__EVERY_EVENTS": "1000000000",
         "STREAMREC_SNAPSHOTS__EVERY_S": "1000000"}


@dataclass
class Unprivileged:
    """How to run the server as ``nobody`` on ``data_dir`` (owned by it)."""

    launcher: list[str]
    env: dict[str, str]
    data_dir: Path


def _blocked(path: Path) -> tuple[Path, str] | None:
    """The first directory on the way to ``path`` that others may not search, and the name
    of the next step (None when ``nobody`` can reach ``path``)."""
    for parent in reversed(path.parents):
        if not os.stat(parent).st_mode & stat.S_IXOTH:
            return parent, path.relative_to(parent).parts[0]
    return None


def _launch_script(workdir: Path) -> str:
    """Shell run as root: make the way to this Python searchable (a tmpfs of mode 0755 over
    each blocked directory, with the entries we need bound back in), then become nobody and
    exec the command (``"$@"``)."""
    needed = {Path(sys.base_prefix), Path(sys.prefix), Path(streamrec.__file__).parents[1]}
    blocked: dict[Path, set[str]] = {}
    for path in needed:
        found = _blocked(path.resolve())
        if found is not None:
            blocked.setdefault(found[0], set()).add(found[1])
    lines = ["set -e"]
    for number, (directory, names) in enumerate(sorted(blocked.items())):
        staged = [(name, workdir / f"stage-{number}-{name}") for name in sorted(names)]
        for name, stage in staged:
            stage.mkdir()
            lines.append(f"mount --bind {shlex.quote(str(directory / name))} "
                         f"{shlex.quote(str(stage))}")
        lines.append(f"mount -t tmpfs -o mode=0755,size=1m tmpfs {shlex.quote(str(directory))}")
        for name, stage in staged:
            lines.append(f"mkdir {shlex.quote(str(directory / name))}")
            lines.append(f"mount --move {shlex.quote(str(stage))} "
                         f"{shlex.quote(str(directory / name))}")
    lines.append(f"cd {shlex.quote(str(workdir))}")
    lines.append(f'exec setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups -- "$@"')
    return "\n".join(lines)


@pytest.fixture
def unprivileged() -> Iterator[Unprivileged]:
    """A work dir of mode 0755 under the temp dir (pytest's own are 0700), removed at
    teardown (after the servers, which are set up later)."""
    if os.geteuid() != 0:
        pytest.skip("running the server as another user needs root")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    workdir = Path(tempfile.mkdtemp(prefix="streamrec-readonly-"))
    try:
        workdir.chmod(0o755)
        if _blocked(workdir) is not None:
            pytest.skip(f"nobody cannot reach the temp dir {workdir.parent}")
        script = _launch_script(workdir)
        launcher = ["sh", "-c", script, "launch"]
        if "mount" in script:
            if shutil.which("unshare") is None:
                pytest.skip("nobody cannot reach this Python, and unshare is not installed")
            launcher = ["unshare", "--mount", "--propagation", "private", "--", *launcher]
        # a home owned by nobody (the user): numba caches the server's compiled kernels there, so
        # only the first of the test's four starts compiles them (~25 s here, each start)
        home = workdir / "home"
        home.mkdir()
        os.chown(home, NOBODY, NOBODY)
        env = {"HOME": str(home), **QUIET}
        probe = subprocess.run(
            [*launcher, sys.executable, "-c", "import os, sys, streamrec; "
             "print(os.getuid(), sys.prefix, streamrec.__file__)"],
            capture_output=True, text=True, timeout=60, check=False, env={**os.environ, **env})
        expected = f"{NOBODY} {sys.prefix} {streamrec.__file__}"
        if probe.returncode != 0 or probe.stdout.strip() != expected:
            pytest.skip(f"cannot run this Python as nobody here: {probe.stdout}{probe.stderr}")
        data_dir = workdir / "data"
        data_dir.mkdir()
        os.chown(data_dir, NOBODY, NOBODY)
        yield Unprivileged(launcher, env, data_dir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def set_writable(data_dir: Path, writable: bool) -> None:
    """``chmod -R a-w`` or ``u+w``: the dir, its files (``-wal`` and ``-shm`` included) and
    the snapshots."""
    for path in [data_dir, *data_dir.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        path.chmod(mode | stat.S_IWUSR if writable else
                   mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def integrity(path: Path) -> str:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        result: str = connection.execute("PRAGMA integrity_check").fetchone()[0]
    connection.close()
    return result


def assert_read_only_refusal(response: Any, what: str) -> None:
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "unavailable"
    assert what in error["message"]
    assert "read-only" in error["message"], error["message"]


def test_a_read_only_data_dir_refuses_writes_cleanly_and_recovers(
    unprivileged: Unprivileged, start_server: Any, connect: Callable[[Any], Any],
) -> None:
    data = unprivileged.data_dir
    server = start_server(env=unprivileged.env, data_dir=data, launcher=unprivileged.launcher)
    api = connect(server)
    acknowledged = [api.event(f"u{n % 4}", f"i{n % 10}", event_id=f"first-{n}")
                    for n in range(20)]
    assert api.post_events(acknowledged).status_code == 200

    set_writable(data, False)
    server.stop()  # the final snapshot cannot be written: logged, the stores still closed
    assert "no final snapshot" in server.output()
    server.start()
    api = connect(server)
    assert api.stats()["events"] == 20

    later = [api.event(f"u{n % 4}", f"i{n % 10}", event_id=f"later-{n}") for n in range(30)]
    assert_read_only_refusal(api.post_events(later), "could not store events")
    item = {"items": [{"item_id": "new", "text": "a new item"}]}
    assert_read_only_refusal(api.client.post("/v1/items", json=item), "could not store items")
    # an export is not handed out unrecorded, and an erasure stops before it changes anything
    assert_read_only_refusal(api.client.get("/v1/users/u1/export"), "audit log")
    assert_read_only_refusal(api.client.delete("/v1/users/u1"), "erasure")

    assert api.stats()["events"] == 20  # nothing half-stored
    assert api.client.get("/healthz").json() == {"status": "ok"}
    recommended = api.recommend("u1", k=3)
    assert recommended.status_code == 200 and recommended.json()["items"], recommended.text

    set_writable(data, True)  # writes resume without a restart
    stored = api.post_events(later)  # the same events, retried
    assert stored.status_code == 200, stored.text
    assert stored.json()["accepted"] == 30 and stored.json()["duplicates"] == 0
    assert api.client.post("/v1/items", json=item).status_code == 200
    exported = api.client.get("/v1/users/u1/export")
    assert exported.status_code == 200, exported.text
    assert len(exported.json()["events"]) == 5 + 8  # u1: n % 4 == 1 of 20 and of 30

    server.stop()
    server.start()
    api = connect(server)
    assert api.stats()["events"] == 50
    again = api.post_events(acknowledged + later)
    assert again.status_code == 200, again.text
    assert again.json()["accepted"] == 0 and again.json()["duplicates"] == 50  # exactly once
    server.stop()

    # made read-only after a clean stop, the dir has no -shm file, which SQLite needs (and
    # cannot create) to read a WAL database: the server cannot start, and says why
    assert not list(data.glob("events.db-shm"))
    set_writable(data, False)
    with pytest.raises(RuntimeError, match="exited") as refused:
        server.start()
    assert "error: cannot open" in str(refused.value) and "read-only" in str(refused.value)
    assert "Traceback" not in server.output()
    for database in sorted(data.glob("*.db")):
        assert integrity(database) == "ok", database
