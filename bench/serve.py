"""Recommendation latency in process and over HTTP, with peers measured in the same run.

Peers: implicit's ALS recommend() on the same data (what a batch MF service costs per query),
and a bare FastAPI endpoint over the same HTTP stack (the framework's floor).

    python bench/serve.py [--items 100000] [--events 1000000] [--clients 16]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import common  # noqa: E402,F401  (pins BLAS to one thread before numpy loads)
import numpy as np  # noqa: E402
from common import events_of, items_of, percentiles, server, world  # noqa: E402

from streamrec.engine.engine import Engine  # noqa: E402
from streamrec.engine.recommender import Recommender  # noqa: E402
from streamrec.settings import Settings  # noqa: E402


def in_process(engine: Engine, users: list[str], queries: int) -> list[float]:
    recommender = Recommender(engine.state)
    latencies = []
    for n in range(queries):
        started = time.perf_counter()
        recommender.for_user(users[n % len(users)], 10, now=time.time())
        latencies.append(time.perf_counter() - started)
    return latencies


def implicit_peer(engine: Engine, users: list[str], queries: int) -> list[float]:
    als = engine.state.models["als"]
    matrix = als.matrix().tocsr()  # type: ignore[attr-defined]
    solver = als.fit(matrix)  # type: ignore[attr-defined]
    latencies = []
    for n in range(queries):
        user = engine.state.users.lookup(users[n % len(users)]) or 0
        started = time.perf_counter()
        solver.recommend(user, matrix[user], N=10, filter_already_liked_items=True)
        latencies.append(time.perf_counter() - started)
    return latencies


def http(url: str, n_users: int, clients: int, requests: int) -> tuple[float, float, float]:
    out = subprocess.run([sys.executable, str(Path(__file__).parent / "load.py"), url,
                          str(n_users), str(clients), str(requests)],
                         capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1]), float(out[2])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--queries", type=int, default=2_000)
    args = parser.parse_args()
    config = world(args.items, args.events)
    data_dir = Path(tempfile.mkdtemp(prefix="streamrec-bench-"))
    print(f"world: {args.items:,} items, {config.n_users:,} users, {args.events:,} events")
    engine = Engine.open(Settings(data_dir=data_dir), start_learner=False)
    engine.upsert_items(items_of(config))
    events = events_of(config)
    for start in range(0, len(events), 10_000):
        engine.log.append(events[start:start + 10_000])
    engine.learner.catch_up()
    for model in engine.state.refittables():
        model.refit()
    users = [f"u{u}" for u in np.random.default_rng(1).integers(0, config.n_users, 500)]
    ours = in_process(engine, users, args.queries)
    peer = implicit_peer(engine, users, args.queries)
    print(f"in process   streamrec (hybrid, 4 sources)  {percentiles(ours)}")
    print(f"in process   implicit ALS recommend (peer)  {percentiles(peer)}")
    print(f"  ratio p99 streamrec / implicit: "
          f"{np.percentile(ours, 99) / np.percentile(peer, 99):.2f}")
    engine.close()
    with server(data_dir) as url:
        http(url, config.n_users, 4, 50)  # warm-up
        p50, p99, rate = http(url, config.n_users, args.clients, args.queries // args.clients)
    print(f"over HTTP    streamrec, {args.clients} clients: p50 {p50:.2f} ms  p99 {p99:.2f} ms"
          f"  {rate:,.0f} req/s")


if __name__ == "__main__":
    main()
