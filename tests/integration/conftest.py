"""The server as a real process over real HTTP.

``server`` (one per test module) and ``start_server`` (a factory, servers stopped after the
test) run ``python -m streamrec.cli.main serve`` on a free port, wait for ``/healthz``, and
stop it with SIGTERM at teardown (SIGKILL if it does not exit). A ``launcher`` runs that
command under another (e.g. as another user) and must end by exec'ing it, so that signals
reach the server. When a test fails, the output of every server it used is added to its
report.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

STARTUP_DEADLINE_S = 60.0
STOP_GRACE_S = 15.0
REQUEST_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """This environment without any STREAMREC_ setting of the caller's, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMREC_")}
    env.update({"OPENBLAS_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **extra})
    return env


@dataclass
class ServerProcess:
    """One data dir served by successive processes (``start`` again after a stop or a kill)."""

    data_dir: Path
    log_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    launcher: list[str] = field(default_factory=list)  # the command is appended to it
    process: subprocess.Popen[bytes] | None = None
    port: int = 0
    outputs: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> ServerProcess:
        assert not self.is_running, "already running"
        self.port = free_port()
        output = self.log_dir / f"{self.data_dir.name}-run{len(self.outputs)}.log"
        self.outputs.append(output)
        command = [*self.launcher, sys.executable, "-m", "streamrec.cli.main", "serve",
                   "--data-dir", str(self.data_dir), "--port", str(self.port)]
        with open(output, "wb") as sink:
            self.process = subprocess.Popen(command, env=server_environment(self.env),
                                            stdout=sink, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, cwd=self.log_dir)
        self._wait_until_healthy()
        return self

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_DEADLINE_S
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode} while "
                                   f"starting:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # polling with a deadline
        raise RuntimeError(f"the server did not answer /healthz within {STARTUP_DEADLINE_S} s:"
                           f"\n{self.output()}")

    def stop(self, grace_s: float = STOP_GRACE_S) -> int:
        """SIGTERM, wait for the exit (SIGKILL after ``grace_s``); returns the exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()

    def kill(self) -> int:
        assert self.process is not None
        self.process.kill()
        return self.process.wait()

    def output(self, lines: int = 200) -> str:
        parts = []
        for number, path in enumerate(self.outputs):
            text = path.read_text(errors="replace").splitlines() if path.exists() else []
            parts.append(f"--- run {number} ({path.name}), last {lines} lines ---")
            parts.extend(text[-lines:])
        return "\n".join(parts)


class ServerFactory:
    """``factory(env={...}, data_dir=..., launcher=[...])`` starts a server; all are stopped at
    teardown."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.servers: list[ServerProcess] = []

    def __call__(self, env: Mapping[str, str] | None = None, data_dir: Path | None = None,
                 launcher: Sequence[str] = ()) -> ServerProcess:
        name = f"server{len(self.servers)}"
        server = ServerProcess(data_dir or self.root / name / "data", self.root / name,
                               dict(env or {}), list(launcher))
        server.log_dir.mkdir(parents=True, exist_ok=True)
        self.servers.append(server)
        return server.start()

    def stop_all(self) -> None:
        for server in self.servers:
            if server.is_running:
                server.stop()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[ServerFactory]:
    factory = ServerFactory(tmp_path)
    yield factory
    factory.stop_all()


@pytest.fixture(scope="module")
def start_module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    """As ``start_server``, the servers kept for the whole module."""
    factory = ServerFactory(tmp_path_factory.mktemp("servers"))
    yield factory
    factory.stop_all()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    factory = ServerFactory(tmp_path_factory.mktemp("server"))
    yield factory()
    factory.stop_all()


@pytest.fixture(scope="module")
def base_url(server: ServerProcess) -> str:
    return server.url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S) as client:
        yield client


class Api:
    """The few calls most tests make, over one HTTP client."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    @staticmethod
    def event(user_id: str, item_id: str, type: str = "view", **fields: Any) -> dict[str, Any]:
        """An event as the API takes it."""
        return {"user_id": user_id, "item_id": item_id, "type": type, **fields}

    def post_events(self, events: list[dict[str, Any]]) -> httpx.Response:
        return self.client.post("/v1/events", json={"events": events})

    def stats(self) -> dict[str, Any]:
        response = self.client.get("/v1/stats")
        assert response.status_code == 200, response.text
        stats: dict[str, Any] = response.json()
        return stats

    def recommend(self, user_id: str, k: int = 10, **params: Any) -> httpx.Response:
        return self.client.get(f"/v1/users/{user_id}/recommendations",
                               params={"k": k, **params})


@pytest.fixture
def connect() -> Iterator[Callable[[ServerProcess], Api]]:
    """``connect(server)``: an Api on the server's current port; clients closed at teardown."""
    clients: list[httpx.Client] = []

    def connect_(server: ServerProcess) -> Api:
        clients.append(httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT_S))
        return Api(clients[-1])

    yield connect_
    for client in clients:
        client.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        for value in getattr(item, "funcargs", {}).values():
            servers = value.servers if isinstance(value, ServerFactory) else [value]
            for server in servers:
                if isinstance(server, ServerProcess):
                    report.sections.append((f"server output ({server.data_dir})",
                                            server.output()))
    return report


class StreamrecCommand:
    """The installed ``streamrec`` console script (as ``pip install -e`` made it, beside the
    Python running the tests), run as a user runs it: ``cli(args, cwd, env={...})``. Only the
    STREAMREC_ variables given in ``env`` reach it."""

    def __init__(self) -> None:
        beside = Path(sys.executable).with_name("streamrec")
        found = str(beside) if beside.exists() else shutil.which("streamrec")
        assert found, "the streamrec command is not installed: pip install -e '.[test]'"
        self.path = found

    def __call__(self, args: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None,
                 timeout: float = 120) -> subprocess.CompletedProcess[str]:
        environment = server_environment({"COLUMNS": "200", **(env or {})})
        return subprocess.run([self.path, *args], cwd=cwd, env=environment,
                              capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    @staticmethod
    def assert_refused(result: subprocess.CompletedProcess[str], *expected: str) -> None:
        """A user's mistake: exit 2, one or two lines on stderr (the first 'error: ...'),
        each of ``expected`` in them, and no traceback."""
        report = f"exit {result.returncode}\nstderr:\n{result.stderr}\nstdout:\n{result.stdout}"
        assert result.returncode == 2, report
        assert "Traceback" not in result.stderr + result.stdout, report
        lines = result.stderr.strip().splitlines()
        assert 1 <= len(lines) <= 2, report
        assert lines[0].startswith("error: "), report
        for text in expected:
            assert text in result.stderr, report


@pytest.fixture(scope="session")
def streamrec_cli() -> StreamrecCommand:
    return StreamrecCommand()


@pytest.fixture(scope="session")
def system_tool() -> Callable[[str, str], str]:
    """``system_tool("chromium", "chromium")``: the program's path; a test needing a program
    that is not installed skips, but fails in CI (CI=true), where .ci/run installs it (the
    second argument names the Debian package)."""

    def locate(program: str, package: str) -> str:
        found = shutil.which(program)
        if found:
            return found
        reason = f"{program} is not installed (Debian: apt-get install {package})"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; CI must install it (.ci/run)")
        pytest.skip(reason)

    return locate
