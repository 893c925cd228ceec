"""Set-up shared by every test: deterministic hypothesis, event builders, engine settings.

Helpers are fixtures (not imports from this file) so that each test asks for what it uses.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from streamrec.settings import Settings, SnapshotSettings
from streamrec.types import Event

# fixed seeds: the same examples on every run, and no example database written into the repo
hypothesis_settings.register_profile("streamrec", derandomize=True, database=None, deadline=None)
hypothesis_settings.load_profile("streamrec")



def pytest_configure(config: pytest.Config) -> None:
    # When a hypothesis test fails, its pytest plugin imports libcst to suggest a patch; the
    # installed libcst (1.0.1) subclasses mypy_extensions.TypedDict, which warns, and with
    # warnings as errors that turns every hypothesis failure into an INTERNALERROR that stops
    # the run. Ignore exactly that warning (better: pin libcst >= 1.1 in the environment).
    config.addinivalue_line(
        "filterwarnings", "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"
    )
    if not hasattr(config, "workerinput"):  # the controller, before xdist starts its workers
        # compiled once here into numba's cache (~15 s on a fresh clone, ~1 s after), which
        # the workers and every server the tests start then load, instead of each compiling
        # the same kernels at once on two cores
        from streamrec.engine.engine import compile_kernels

        compile_kernels()


T0 = 1_700_000_000.0  # a fixed "now" in unix seconds, so no test depends on the clock

EventFactory = Callable[..., Event]


@pytest.fixture
def make_event() -> EventFactory:
    """``make_event("u1", "i1")``: a view at T0 + n (n counts up per test), overridable."""
    ticks = itertools.count()

    def make(user_id: str, item_id: str, type: str = "view", **fields: Any) -> Event:
        fields.setdefault("timestamp", T0 + next(ticks))
        return Event(user_id=user_id, item_id=item_id, type=type, **fields)

    return make


FitInThread = Callable[[Callable[[], Any]], tuple[threading.Thread, list[BaseException]]]


@pytest.fixture
def fit_in_thread() -> Iterator[FitInThread]:
    """``thread, raised = fit_in_thread(lambda: model.fit(data))``: the fit runs in a
    started thread; what it raised lands in ``raised`` (a stop's ``FitStopped``). Each
    thread is joined at the test's end."""
    threads: list[threading.Thread] = []

    def start(fit: Callable[[], Any]) -> tuple[threading.Thread, list[BaseException]]:
        raised: list[BaseException] = []

        def run() -> None:
            try:
                fit()
            except BaseException as error:
                raised.append(error)

        thread = threading.Thread(target=run)
        thread.start()
        threads.append(thread)
        return thread, raised

    yield start
    for thread in threads:
        thread.join(timeout=60)


@pytest.fixture
def engine_settings(tmp_path: Path) -> Settings:
    """Settings on a fresh data dir; snapshots only when asked for (close, snapshot())."""
    return settings_in(tmp_path / "data")


def settings_in(data_dir: Path, **sections: Any) -> Settings:
    rarely = SnapshotSettings(every_events=10**9, every_s=10.0**6)
    return Settings(data_dir=data_dir, snapshots=rarely, **sections)


@pytest.fixture
def settings_factory() -> Callable[..., Settings]:
    """``settings_factory(data_dir, models={...})``: settings like ``engine_settings``'s."""
    return settings_in


# -- real services: a Kafka-protocol broker and Redis, started per test session ------------
# Each fixture starts its own server on a free loopback port and stops it by PID, so
# `python -m pytest` drives the real thing wherever the binary is installed. Without it the
# tests skip, except under CI=true, where a missing tool fails them (a skip is not a pass).


def require_tool(name: str, install: str) -> str:
    """The path of ``name``; skips the test without it, fails under CI=true."""
    import os
    import shutil
    import sys

    found = shutil.which(name) or shutil.which(str(Path(sys.executable).parent / name))
    if found is None:
        message = f"{name} is not installed ({install})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}: CI must install it (.ci/run)")
        pytest.skip(message)
    return found


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: Any, timeout_s: float = 30.0) -> None:
    import socket
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server on port {port} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout_s} s")


def stop_process(process: Any) -> None:
    import subprocess

    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Broker:
    """A Kafka-protocol broker (noida-db) that a test may stop and start on its port."""

    def __init__(self, binary: str, data_dir: Path) -> None:
        self.binary, self.data_dir, self.port = binary, data_dir, free_port()
        self.process: Any = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        import subprocess

        log = open(self.data_dir.parent / "broker.log", "ab")  # noqa: SIM115 - the child's
        self.process = subprocess.Popen(
            [self.binary, "start", "--data-dir", str(self.data_dir), "--only", "kafka",
             "--kafka-port", str(self.port)], stdout=log, stderr=log, stdin=subprocess.DEVNULL,
            start_new_session=True)  # noida-db's launcher runs the broker as its child
        log.close()
        wait_for_port(self.port, self.process)

    def stop(self) -> None:
        """The launcher and the broker it started: their process group, by its id."""
        import contextlib
        import os
        import signal

        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            stop_process(self.process)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process = None


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A Kafka-protocol broker for the whole session; tests use topics of their own."""
    binary = require_tool("noida-db", "pip install noida-db: a Kafka-protocol broker")
    broker = Broker(binary, tmp_path_factory.mktemp("broker") / "data")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``redis://127.0.0.1:PORT`` of a redis-server of this session (no persistence)."""
    import subprocess

    binary = require_tool("redis-server", "Debian: apt-get install redis-server")
    port, directory = free_port(), tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
         "no", "--dir", str(directory)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, process)
    yield f"redis://127.0.0.1:{port}"
    stop_process(process)
