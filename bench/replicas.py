"""Replicas on a Kafka topic behind HAProxy, against the embedded single process, in one run.

For 1, 2 and 3 replicas (each its own ``streamrec serve --log kafka://... --redis ...``)
behind HAProxy (Debian's ``haproxy``), and for one embedded server (SQLite log) measured the
same way:

- read throughput and p50/p99: ``--clients`` closed-loop clients asking users' lists
  (bench/load.py, in a process of its own);
- write throughput: ``--writers`` clients posting batches of ``--batch`` events (with ids);
- replica lag (replicas >= 2): a single event posted to one replica, then read on another with
  its consistency token; lag = the read's answer minus the write's acknowledgement, under the
  write load, p50/p99;
- per-replica cost: each replica's CPU seconds and resident memory after the run.

The broker is noida-db (a Kafka-protocol implementation; `pip install noida-db`) and Redis is
Debian's redis-server, both started here on loopback ports and stopped at the end. Every
process shares this machine's cores: the scaling is bounded by them (say how many in
RESULTS.md).

    python bench/replicas.py [--items 2000] [--events 30000] [--clients 16] [--requests 150]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import common  # noqa: E402,F401  (pins BLAS to one thread before numpy loads)
import httpx  # noqa: E402
import numpy as np  # noqa: E402
from common import events_of, free_port, world  # noqa: E402
from tqdm import tqdm  # noqa: E402

HERE = Path(__file__).resolve().parent


def wait_port(port: int, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    import socket

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing on port {port}")


@contextmanager
def process(command: list[str], port: int, env: dict[str, str] | None = None,
            log: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    sink = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    # a session of its own: noida-db's launcher runs the broker as a child, ended with it
    started = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})},
                               start_new_session=True)
    try:
        wait_port(port, started, 600)
        yield started
    finally:
        import signal

        os.killpg(started.pid, signal.SIGTERM)
        try:
            started.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(started.pid, signal.SIGKILL)
            started.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(started.pid, signal.SIGKILL)  # whatever the process left in its group


def tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(str(Path(sys.executable).parent / name))
    if found is None:
        sys.exit(f"error: {name} is not installed (noida-db: pip install noida-db; "
                 "redis-server, haproxy: apt-get install)")
    return found


@contextmanager
def streamrec(data_dir: Path, env: dict[str, str], logs: Path) -> Iterator[dict[str, Any]]:
    port = free_port()
    command = [sys.executable, "-m", "streamrec.cli.main", "serve", "--data-dir",
               str(data_dir), "--port", str(port)]
    base = {"OPENBLAS_NUM_THREADS": "1", "STREAMREC_SERVING__RATE_LIMIT__PER_SECOND": "0",
            # the same models everywhere; the GRU's background refits (tens of seconds on a
            # busy machine) would land in one setup and not another
            "STREAMREC_MODELS__SEQUENCE__ENABLED": "false", **env}
    with process(command, port, base, logs / f"{data_dir.name}.log") as started:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield {"url": url, "pid": started.pid}


@contextmanager
def haproxy(urls: list[str], workdir: Path) -> Iterator[str]:
    port = free_port()
    servers = "\n".join(f"    server r{n} {u.removeprefix('http://')}" for n, u in enumerate(urls))
    config = workdir / f"haproxy-{port}.cfg"
    config.write_text(f"""global
    maxconn 4096
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
frontend api
    bind 127.0.0.1:{port}
    default_backend replicas
backend replicas
    balance leastconn
{servers}
""")
    with process([tool("haproxy"), "-f", str(config), "-db"], port):
        yield f"http://127.0.0.1:{port}"


def post_batches(url: str, events: list[dict[str, Any]], writers: int, batch: int) -> float:
    """All ``events`` in batches from ``writers`` clients; events/s."""
    batches = [events[i:i + batch] for i in range(0, len(events), batch)]
    errors: list[int] = []

    def writer(mine: list[list[dict[str, Any]]]) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            for body in mine:
                response = client.post("/v1/events", json={"events": body})
                if response.status_code != 200:
                    errors.append(response.status_code)

    threads = [threading.Thread(target=writer, args=(batches[w::writers],))
               for w in range(writers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        print(f"  write errors: {len(errors)} (e.g. {errors[0]})", file=sys.stderr)
    return len(events) / elapsed


def reads(url: str, users: int, clients: int, requests: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, str(HERE / "load.py"), url, str(users), str(clients),
                          str(requests)], check=True, capture_output=True, text=True)
    p50, p99, rate, errors = out.stdout.split(maxsplit=3)
    return {"read_p50_ms": float(p50), "read_p99_ms": float(p99), "reads_per_s": float(rate),
            "read_errors": float(errors)}


def replica_lag(urls: list[str], samples: int, load: list[dict[str, Any]], batch: int
                ) -> dict[str, float]:
    """Acknowledged on one replica -> read with its token answered on another, under writes."""
    stop = threading.Event()

    def background() -> None:  # keeps the topic busy while lag is sampled
        with httpx.Client(base_url=urls[0], timeout=60) as client:
            n = 0
            while not stop.is_set():
                client.post("/v1/events", json={"events": load[n:n + batch] or load[:batch]})
                n = (n + batch) % max(1, len(load) - batch)

    thread = threading.Thread(target=background)
    thread.start()
    lags: list[float] = []
    try:
        with httpx.Client(timeout=60) as client:
            for n in range(samples):
                writer, reader = urls[n % len(urls)], urls[(n + 1) % len(urls)]
                answer = client.post(f"{writer}/v1/events", json={"events": [
                    {"user_id": f"lag-{n % 50}", "item_id": "lag-item", "type": "view",
                     "event_id": f"lag-{uuid.uuid4().hex}"}]})
                acknowledged = time.perf_counter()
                token = answer.json()["token"]
                while True:
                    read = client.get(f"{reader}/v1/stats",
                                      headers={"X-Consistency-Token": token})
                    if read.status_code == 200:
                        break
                lags.append(time.perf_counter() - acknowledged)
    finally:
        stop.set()
        thread.join()
    ms = np.array(lags) * 1000
    return {"lag_p50_ms": float(np.percentile(ms, 50)), "lag_p99_ms": float(np.percentile(ms, 99))}


def cost(pid: int) -> dict[str, float]:
    """CPU seconds and resident MiB of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    return {"cpu_s": cpu, "rss_mib": rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2_000)
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--writes", type=int, default=10_000, help="events posted per setup")
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=150, help="per read client")
    parser.add_argument("--lag-samples", type=int, default=200)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "replicas.json")
    args = parser.parse_args()

    config = world(args.items, args.events + args.writes * 5)
    generated = [{"user_id": e.user_id, "item_id": e.item_id, "type": e.type,
                  "event_id": f"g{n}"} for n, e in enumerate(events_of(config))]
    seed, rest = generated[:args.events], generated[args.events:]
    users = len({e["user_id"] for e in seed})
    work = Path(tempfile.mkdtemp(prefix="streamrec-replicas-"))
    logs = work / "logs"
    logs.mkdir()
    results: dict[str, Any] = {"cores": os.cpu_count(), "load_before": os.getloadavg(),
                               "args": vars(args) | {"out": str(args.out)}, "setups": {}}
    setups = ["embedded", "replicas-1", "replicas-2", "replicas-3"]
    progress = tqdm(total=len(setups), desc="setups", unit="setup")
    broker_port, redis_port = free_port(), free_port()
    with process([tool("noida-db"), "start", "--data-dir", str(work / "broker"), "--only",
                  "kafka", "--kafka-port", str(broker_port)], broker_port,
                 log=logs / "broker.log"), \
         process([tool("redis-server"), "--port", str(redis_port), "--bind", "127.0.0.1",
                  "--save", "", "--appendonly", "no", "--dir", str(work)], redis_port):
        for number, setup in enumerate(setups):
            writes = rest[number * args.writes:(number + 1) * args.writes]
            progress.set_postfix_str(setup)
            if setup == "embedded":
                with streamrec(work / "embedded", {}, logs) as one:
                    post_batches(one["url"], seed, args.writers, 500)
                    figures = {"writes_per_s": post_batches(one["url"], writes, args.writers,
                                                            args.batch),
                               **reads(one["url"], users, args.clients, args.requests),
                               **cost(one["pid"])}
            else:
                count = int(setup.rsplit("-", 1)[1])
                topic = f"bench-{count}-{uuid.uuid4().hex[:6]}"
                env = {"STREAMREC_STORAGE__LOG": f"kafka://127.0.0.1:{broker_port}/{topic}",
                       "STREAMREC_REPLICAS__REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
                       "STREAMREC_REPLICAS__REDIS_PREFIX": f"{topic}:",
                       # entries sealed per user, keys shared in Redis (needs the secret)
                       "STREAMREC_TRUST__PSEUDONYM_SECRET": "bench-replicas-secret"}
                with contextlib_stack() as stack:
                    replicas = [stack.enter_context(streamrec(work / f"{topic}-r{n}", env, logs))
                                for n in range(count)]
                    urls = [r["url"] for r in replicas]
                    balanced = stack.enter_context(haproxy(urls, work))
                    post_batches(balanced, seed, args.writers, 500)
                    wait_learned(urls)
                    before = [cost(r["pid"]) for r in replicas]
                    figures = {"writes_per_s": post_batches(balanced, writes, args.writers,
                                                            args.batch)}
                    wait_learned(urls)
                    figures |= reads(balanced, users, args.clients, args.requests)
                    if count > 1:
                        figures |= replica_lag(urls, args.lag_samples, rest[-args.writes:],
                                               args.batch)
                    after = [cost(r["pid"]) for r in replicas]
                    figures["cpu_s_per_replica"] = float(np.mean(
                        [a["cpu_s"] - b["cpu_s"] for a, b in zip(after, before, strict=True)]))
                    figures["rss_mib_per_replica"] = float(np.mean([a["rss_mib"] for a in after]))
            results["setups"][setup] = figures
            progress.update()
            tqdm.write(f"{setup}: " + ", ".join(f"{k} {v:,.1f}" for k, v in figures.items()))
    progress.close()
    results["load_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    plot(results, args.out.with_suffix(".png"))
    print(f"written {args.out} and {args.out.with_suffix('.png')}")
    shutil.rmtree(work, ignore_errors=True)


def plot(results: dict[str, Any], path: Path) -> None:
    """Reads/s and writes/s per setup, read p99 and replica lag p99 beside them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results["setups"])
    figures = [results["setups"][n] for n in names]
    fig, (rates, tails) = plt.subplots(1, 2, figsize=(11, 4))
    x = np.arange(len(names))
    rates.bar(x - 0.2, [f["reads_per_s"] for f in figures], 0.4, label="reads/s")
    rates.bar(x + 0.2, [f["writes_per_s"] for f in figures], 0.4, label="events written/s")
    rates.set_xticks(x, names)
    rates.set_title(f"throughput ({results['cores']} cores shared by every process)")
    rates.legend()
    tails.bar(x - 0.2, [f["read_p99_ms"] for f in figures], 0.4, label="read p99 (ms)")
    tails.bar(x + 0.2, [f.get("lag_p99_ms", 0.0) for f in figures], 0.4,
              label="replica lag p99 (ms)")
    tails.set_xticks(x, names)
    tails.set_title("tails")
    tails.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def wait_learned(urls: list[str], timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        stats = [httpx.get(f"{u}/v1/stats", timeout=30).json() for u in urls]
        head = max(s["log_offset"] for s in stats)
        if all(s["learned_offset"] >= head for s in stats):
            return
        time.sleep(0.2)
    raise RuntimeError("replicas did not catch up")


@contextmanager
def contextlib_stack() -> Iterator[Any]:
    from contextlib import ExitStack

    with ExitStack() as stack:
        yield stack


if __name__ == "__main__":
    main()
