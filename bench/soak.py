"""Soak: minutes of mixed load against a server subprocess, watching errors and memory.

Several clients post synthetic events (``streamrec.datagen``) while several ask for
recommendations. The world is bounded (``--users`` x ``--items``, default 2,000 x 2,000):
the same users and items come back all the time, so once every pair the traffic makes has
been seen the state has nothing left to grow with, and memory that still grows is a leak or
an unbounded structure. The server's own bounds are set so that the traffic reaches them in
the first minutes too (``--history-length 100``, ``--impressions-kept 5000``; 0 for the
server's defaults, which a 10-minute run does not reach). The server's resident memory is
sampled every few seconds and its per-component size report (``GET /v1/admin/sizes``) every
``--sizes-every-s``. Prints the error count, the throughput of each kind, RSS and state size
after warm-up against the end, and each component's size at warm-up and at the end, so
growth can be told from a leak.

    python bench/soak.py [--minutes 10] [--users 2000] [--items 2000] [--ingest-clients 4]
                         [--read-clients 4] [--batch 100] [--history-length 100]
                         [--impressions-kept 5000] [--warm-up-s 180]
                         [--server-env MALLOC_ARENA_MAX=2] [--json soak.json]

``--users 20000 --items 10000 --history-length 0 --impressions-kept 0`` is the world of the
first (unbounded) soak. Loopback only; every loop ends at the deadline; the data dir is
deleted at the end.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import shutil
import statistics
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

MIB = 2**20


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


@dataclass
class Sample:
    at_s: float
    rss: int
    sizes: dict[str, object] | None = None  # the server's size report, when taken


def event_batches(client: int, batch: int, users: int,
                  items: int) -> Iterator[list[dict[str, object]]]:
    """Endless batches in the API's shape, over the same ``users`` x ``items`` world every
    round; event ids unique across clients and rounds."""
    for round_ in range(1_000_000):
        config = GeneratorConfig(n_users=users, n_items=items, n_events=100_000,
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


def ingest(url: str, client: int, args: argparse.Namespace, deadline: float,
           tally: Tally) -> None:
    with httpx.Client(base_url=url, timeout=60) as http:
        for events in event_batches(client, args.batch, args.users, args.items):
            if time.monotonic() >= deadline:
                return
            started = time.perf_counter()
            try:
                response = http.post("/v1/events", json={"events": events})
                outcome = None if response.status_code == 200 else str(response.status_code)
            except httpx.HTTPError as error:
                outcome = type(error).__name__
            tally.record(started, outcome, len(events))


def read(url: str, client: int, users: int, deadline: float, tally: Tally) -> None:
    rng = random.Random(client)
    with httpx.Client(base_url=url, timeout=60) as http:
        while time.monotonic() < deadline:
            user = f"u{rng.randrange(users)}"
            started = time.perf_counter()
            try:
                response = http.get(f"/v1/users/{user}/recommendations", params={"k": 10})
                outcome = None if response.status_code == 200 else str(response.status_code)
            except httpx.HTTPError as error:
                outcome = type(error).__name__
            tally.record(started, outcome)


def sizes_of(url: str) -> dict[str, object] | None:
    """The server's size report; None (and a note) if it could not be had."""
    try:
        response = httpx.get(f"{url}/v1/admin/sizes", timeout=120)
        if response.status_code == 200:
            report: dict[str, object] = response.json()
            return report
        print(f"  size report: HTTP {response.status_code}", flush=True)
    except httpx.HTTPError as error:
        print(f"  size report: {type(error).__name__}", flush=True)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=2_000, help="distinct users (bounded)")
    parser.add_argument("--items", type=int, default=2_000, help="distinct items (bounded)")
    parser.add_argument("--ingest-clients", type=int, default=4)
    parser.add_argument("--read-clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=100, help="events per POST")
    parser.add_argument("--history-length", type=int, default=100,
                        help="server: events kept per user (its default 500 is reached only "
                        "after ~10 min here); 0: the server's default")
    parser.add_argument("--impressions-kept", type=int, default=5_000,
                        help="server: recommendations remembered (its default 100,000 is "
                        "reached only after ~30 min here); 0: the server's default")
    parser.add_argument("--warm-up-s", type=float, default=None,
                        help="default: 180 s, or 30%% of the run if shorter (the first "
                        "snapshots and refits at the state's full size come in it)")
    parser.add_argument("--sample-s", type=float, default=5.0, help="seconds between RSS samples")
    parser.add_argument("--sizes-every-s", type=float, default=30.0,
                        help="seconds between size reports (each holds the state lock briefly)")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="environment of the server process, e.g. MALLOC_ARENA_MAX=2")
    parser.add_argument("--json", type=Path, help="write the samples and the summary here")
    args = parser.parse_args()
    duration_s = args.minutes * 60
    warm_up_s = args.warm_up_s if args.warm_up_s is not None else min(180.0, duration_s * 0.3)
    if any("=" not in pair for pair in args.server_env):
        parser.error("--server-env takes NAME=VALUE")
    server_env = [(pair.split("=", 1)[0], pair.split("=", 1)[1]) for pair in args.server_env]
    # bounds the traffic reaches during the warm-up, so that growth after it is a leak
    if args.history_length:
        server_env.append(("STREAMREC_EVENTS__HISTORY_LENGTH", str(args.history_length)))
    if args.impressions_kept:
        server_env.append(("STREAMREC_SERVING__IMPRESSIONS_KEPT", str(args.impressions_kept)))
    data_dir = Path(tempfile.mkdtemp(prefix="streamrec-soak-"))
    process, url = common.start_server(data_dir, 120.0, *server_env)
    ingests, reads = Tally(), Tally()
    began = time.monotonic()
    deadline = began + duration_s
    threads = [threading.Thread(target=ingest, args=(url, n, args, deadline, ingests))
               for n in range(args.ingest_clients)]
    threads += [threading.Thread(target=read, args=(url, n, args.users, deadline, reads))
                for n in range(args.read_clients)]
    samples: list[Sample] = []
    last_sizes_at = -float("inf")
    try:
        for thread in threads:
            thread.start()
        while time.monotonic() < deadline and process.poll() is None:
            at = time.monotonic() - began
            sample = Sample(at, rss_bytes(process.pid))
            warm = any(s.sizes is not None and s.at_s >= warm_up_s for s in samples)
            if at - last_sizes_at >= args.sizes_every_s or (at >= warm_up_s and not warm):
                sample.sizes, last_sizes_at = sizes_of(url), at
            samples.append(sample)
            state = f"  state {_total(sample.sizes) / MIB:7.1f} MiB" if sample.sizes else ""
            print(f"  {at:6.0f} s  rss {sample.rss / MIB:7.1f} MiB{state}  "
                  f"events {ingests.events:,}  reads {reads.requests:,}", flush=True)
            time.sleep(min(args.sample_s, max(0.0, deadline - time.monotonic())))
        for thread in threads:
            thread.join(timeout=120)
        samples.append(Sample(time.monotonic() - began, rss_bytes(process.pid), sizes_of(url)))
        stats = httpx.get(f"{url}/v1/stats", timeout=30).json()
    finally:
        process.terminate()
        process.wait(timeout=120)
        shutil.rmtree(data_dir, ignore_errors=True)
    summary = report(args, duration_s, warm_up_s, ingests, reads, samples, stats)
    if args.json is not None:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                         "summary": summary,
                                         "samples": [vars(s) for s in samples]}, indent=1))


def _total(sizes: dict[str, object] | None) -> int:
    return int(sizes["total_bytes"]) if sizes else 0  # type: ignore[call-overload]


def _slope_mib_per_min(samples: list[Sample]) -> float:
    """Least-squares slope of RSS over time."""
    if len(samples) < 3:
        return float("nan")
    ts = [s.at_s / 60 for s in samples]
    ys = [s.rss / MIB for s in samples]
    mean_t, mean_y = sum(ts) / len(ts), sum(ys) / len(ys)
    var = sum((t - mean_t) ** 2 for t in ts)
    return sum((t - mean_t) * (y - mean_y) for t, y in zip(ts, ys, strict=True)) / var


def report(args: argparse.Namespace, duration_s: float, warm_up_s: float, ingests: Tally,
           reads: Tally, samples: list[Sample], stats: dict[str, object]) -> dict[str, object]:
    after = [s for s in samples if s.at_s >= warm_up_s]
    warm, end = after[0], samples[-1]
    peak = max(s.rss for s in samples)
    sized = [s for s in after if s.sizes is not None]
    warm_sizes = sized[0].sizes if sized else None
    end_sizes = end.sizes
    half = [s for s in after if s.at_s >= (warm_up_s + end.at_s) / 2]
    print(f"\nsoak: {duration_s / 60:g} min, world {args.users:,} users x {args.items:,} items, "
          f"{args.ingest_clients} ingest clients (batches of {args.batch}), "
          f"{args.read_clients} read clients; server: history length "
          f"{args.history_length or 'default'}, impressions kept "
          f"{args.impressions_kept or 'default'}"
          + (f", env {' '.join(args.server_env)}" if args.server_env else ""))
    print(f"ingest  {ingests.requests:,} requests, {ingests.events:,} events  "
          f"{ingests.events / duration_s:,.0f} events/s  {ingests.requests / duration_s:,.1f} "
          f"req/s  {common.percentiles(ingests.latencies_s)}")
    print(f"reads   {reads.requests:,} requests  {reads.requests / duration_s:,.0f} req/s  "
          f"{common.percentiles(reads.latencies_s)}")
    errors = ingests.errors + reads.errors
    print(f"errors  {sum(errors.values())}  ingest {dict(ingests.errors)}  "
          f"reads {dict(reads.errors)}")
    print(f"server  events stored {stats['events']:,}, learn lag {stats['learn_lag_events']} "
          f"events, {stats['refits']} refits, {stats['users']:,} users, {stats['items']:,} items")
    growth = (end.rss - warm.rss) / warm.rss * 100
    print(f"memory  RSS after warm-up ({warm.at_s:.0f} s) {warm.rss / MIB:.1f} MiB, end "
          f"{end.rss / MIB:.1f} MiB, peak {peak / MIB:.1f} MiB, growth {growth:+.1f}%")
    print(f"        RSS trend after warm-up {_slope_mib_per_min(after):+.1f} MiB/min, over the "
          f"last half {_slope_mib_per_min(half):+.1f} MiB/min")
    # medians: a snapshot copies the state for seconds, so single samples jump
    first = statistics.median(s.rss for s in after if s.at_s < warm.at_s + 60)
    last = statistics.median(s.rss for s in after if s.at_s >= end.at_s - 60)
    median_growth = (last - first) / first * 100
    print(f"        RSS median over the first minute after warm-up {first / MIB:.1f} MiB, over "
          f"the last minute {last / MIB:.1f} MiB ({median_growth:+.1f}%)")
    minutes = [statistics.median(s.rss for s in after if start <= s.at_s < start + 60) / MIB
               for start in range(int(warm.at_s), int(end.at_s) - 30, 60)]
    print(f"        RSS median per minute after warm-up: "
          f"{', '.join(f'{m:.0f}' for m in minutes)} MiB")
    summary: dict[str, object] = {
        "errors": sum(errors.values()), "events": ingests.events,
        "events_per_s": ingests.events / duration_s, "reads": reads.requests,
        "reads_per_s": reads.requests / duration_s,
        "rss_warm_mib": warm.rss / MIB, "rss_end_mib": end.rss / MIB, "rss_peak_mib": peak / MIB,
        "rss_growth_pct": growth, "rss_median_first_minute_mib": first / MIB,
        "rss_median_last_minute_mib": last / MIB, "rss_median_growth_pct": median_growth,
        "rss_median_per_minute_mib": minutes, "rss_slope_mib_per_min": _slope_mib_per_min(after),
        "rss_slope_last_half_mib_per_min": _slope_mib_per_min(half),
        "refits": stats["refits"], "learn_lag_events": stats["learn_lag_events"],
    }
    if warm_sizes is None or end_sizes is None:
        print("state   no size report (GET /v1/admin/sizes needs an open server or a key)")
        return summary
    before, after_total = _total(warm_sizes), _total(end_sizes)
    outside_warm, outside_end = warm.rss - before, end.rss - after_total
    print(f"state   after warm-up {before / MIB:.1f} MiB, end {after_total / MIB:.1f} MiB "
          f"({(after_total - before) / max(before, 1) * 100:+.1f}%); RSS outside the state "
          f"(interpreter, libraries, buffers, allocator) {outside_warm / MIB:.1f} -> "
          f"{outside_end / MIB:.1f} MiB")
    print(f"\n{'component':<22}{'warm-up':>12}{'end':>12}{'growth':>10}   biggest part at the end")
    components_warm: dict[str, int] = warm_sizes["components"]  # type: ignore[assignment]
    components_end: dict[str, int] = end_sizes["components"]  # type: ignore[assignment]
    parts_end: dict[str, dict[str, int]] = end_sizes["parts"]  # type: ignore[assignment]
    for name in sorted(components_end, key=lambda n: -components_end[n]):
        was, now = components_warm.get(name, 0), components_end[name]
        change = f"{(now - was) / was * 100:+.1f}%" if was else "new"
        parts = parts_end.get(name, {})
        biggest = max(parts, key=lambda p: parts[p]) if parts else None
        part = f"{biggest} {parts[biggest] / MIB:.2f} MiB" if biggest is not None else ""
        print(f"{name:<22}{was / MIB:>8.2f} MiB{now / MIB:>8.2f} MiB{change:>10}   {part}")
    summary.update(state_warm_mib=before / MIB, state_end_mib=after_total / MIB,
                   components_warm=components_warm, components_end=components_end)
    return summary


if __name__ == "__main__":
    main()
