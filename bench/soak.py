"""Soak: minutes of mixed load against a server subprocess, watching errors and memory.

Several clients post synthetic events (``streamrec.datagen``) while several ask for
recommendations; the server's resident memory is sampled every few seconds. Prints the
error count, the throughput of each kind, and memory after warm-up against the end.

    python bench/soak.py [--minutes 10] [--ingest-clients 4] [--read-clients 4] [--batch 100]

Loopback only; every loop ends at the deadline.
"""

from __future__ import annotations

import argparse
import collections
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import common  # noqa: E402  (pins BLAS to one thread before numpy loads)
import httpx  # noqa: E402

from streamrec.datagen import GeneratorConfig, generate_events  # noqa: E402
from streamrec.types import Event  # noqa: E402

N_USERS = 20_000
N_ITEMS = 10_000


@dataclass
class Tally:
    """One kind of request, counted by the threads doing it (under ``lock``)."""

    requests: int = 0
    events: int = 0
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    latencies_s: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, started: float, outcome: str | None, events: int = 0) -> None:
        with self.lock:
            self.requests += 1
            self.latencies_s.append(time.perf_counter() - started)
            if outcome is None:
                self.events += events
            else:
                self.errors[outcome] += 1


def rss_bytes(pid: int) -> int:
    try:
        import psutil  # optional

        return int(psutil.Process(pid).memory_info().rss)
    except ImportError:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no resident memory figure for process {pid}")


def event_batches(client: int, batch: int) -> Iterator[list[dict[str, object]]]:
    """Endless batches in the API's shape; ids unique across clients and rounds."""
    for round_ in range(1_000_000):
        config = GeneratorConfig(n_users=N_USERS, n_items=N_ITEMS, n_events=100_000,
                                 seed=client * 1_000 + round_)
        for chunk in generate_events(config):
            for start in range(0, len(chunk), batch):
                yield [as_json(e, f"c{client}r{round_}") for e in chunk[start:start + batch]]


def as_json(event: Event, prefix: str) -> dict[str, object]:
    body: dict[str, object] = {"user_id": event.user_id, "item_id": event.item_id,
                               "type": event.type, "event_id": f"{prefix}-{event.event_id}"}
    if event.value is not None:
        body["value"] = event.value
    return body  # no timestamp: the server stamps "now", as for live traffic


def ingest(url: str, client: int, batch: int, deadline: float, tally: Tally) -> None:
    with httpx.Client(base_url=url, timeout=60) as http:
        for events in event_batches(client, batch):
            if time.monotonic() >= deadline:
                return
            started = time.perf_counter()
            try:
                response = http.post("/v1/events", json={"events": events})
                outcome = None if response.status_code == 200 else str(response.status_code)
            except httpx.HTTPError as error:
                outcome = type(error).__name__
            tally.record(started, outcome, len(events))


def read(url: str, client: int, deadline: float, tally: Tally) -> None:
    rng = random.Random(client)
    with httpx.Client(base_url=url, timeout=60) as http:
        while time.monotonic() < deadline:
            user = f"u{rng.randrange(N_USERS)}"
            started = time.perf_counter()
            try:
                response = http.get(f"/v1/users/{user}/recommendations", params={"k": 10})
                outcome = None if response.status_code == 200 else str(response.status_code)
            except httpx.HTTPError as error:
                outcome = type(error).__name__
            tally.record(started, outcome)


def start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    return common.start_server(data_dir, 120.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--ingest-clients", type=int, default=4)
    parser.add_argument("--read-clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=100, help="events per POST")
    parser.add_argument("--sample-s", type=float, default=5.0, help="seconds between samples")
    args = parser.parse_args()
    duration_s = args.minutes * 60
    warm_up_s = min(60.0, duration_s / 4)
    data_dir = Path(tempfile.mkdtemp(prefix="streamrec-soak-"))
    process, url = start_server(data_dir)
    ingests, reads = Tally(), Tally()
    began = time.monotonic()
    deadline = began + duration_s
    threads = [threading.Thread(target=ingest, args=(url, n, args.batch, deadline, ingests))
               for n in range(args.ingest_clients)]
    threads += [threading.Thread(target=read, args=(url, n, deadline, reads))
                for n in range(args.read_clients)]
    samples: list[tuple[float, int]] = []
    try:
        for thread in threads:
            thread.start()
        while time.monotonic() < deadline and process.poll() is None:
            samples.append((time.monotonic() - began, rss_bytes(process.pid)))
            print(f"  {samples[-1][0]:6.0f} s  rss {samples[-1][1] / 2**20:7.1f} MiB  "
                  f"events {ingests.events:,}  reads {reads.requests:,}", flush=True)
            time.sleep(min(args.sample_s, max(0.0, deadline - time.monotonic())))
        for thread in threads:
            thread.join(timeout=120)
        samples.append((time.monotonic() - began, rss_bytes(process.pid)))
        stats = httpx.get(f"{url}/v1/stats", timeout=30).json()
    finally:
        process.terminate()
        process.wait(timeout=120)
    report(args, duration_s, warm_up_s, ingests, reads, samples, stats)


def report(args: argparse.Namespace, duration_s: float, warm_up_s: float, ingests: Tally,
           reads: Tally, samples: list[tuple[float, int]], stats: dict[str, object]) -> None:
    after_warm_up = next(rss for at, rss in samples if at >= warm_up_s)
    end, peak = samples[-1][1], max(rss for _, rss in samples)
    mib = 2**20
    print(f"\nsoak: {duration_s / 60:g} min, {args.ingest_clients} ingest clients "
          f"(batches of {args.batch}), {args.read_clients} read clients")
    print(f"ingest  {ingests.requests:,} requests, {ingests.events:,} events  "
          f"{ingests.events / duration_s:,.0f} events/s  {ingests.requests / duration_s:,.1f} "
          f"req/s  {common.percentiles(ingests.latencies_s)}")
    print(f"reads   {reads.requests:,} requests  {reads.requests / duration_s:,.0f} req/s  "
          f"{common.percentiles(reads.latencies_s)}")
    errors = ingests.errors + reads.errors
    print(f"errors  {sum(errors.values())}  ingest {dict(ingests.errors)}  "
          f"reads {dict(reads.errors)}")
    print(f"server  events stored {stats['events']:,}, learn lag {stats['learn_lag_events']} "
          f"events, {stats['refits']} refits")
    print(f"memory  after warm-up ({warm_up_s:.0f} s) {after_warm_up / mib:.1f} MiB, end "
          f"{end / mib:.1f} MiB, peak {peak / mib:.1f} MiB, growth "
          f"{(end - after_warm_up) / after_warm_up * 100:+.1f}%")


if __name__ == "__main__":
    main()
