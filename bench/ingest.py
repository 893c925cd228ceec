"""Events per second: learned in process, stored through the log, and over HTTP in batches.

Peers in the same run: the same rows inserted into SQLite with executemany and the same fsync
policy (the floor any durable log pays), and implicit's ALS fit (a batch learner's rate).

    python bench/ingest.py [--items 100000] [--events 200000]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import common  # noqa: E402,F401  (pins BLAS to one thread before numpy loads)
import httpx  # noqa: E402
from common import events_of, server, world  # noqa: E402

from streamrec.engine.engine import Engine  # noqa: E402
from streamrec.engine.state import EngineState  # noqa: E402
from streamrec.settings import Settings  # noqa: E402
from streamrec.types import LoggedEvent  # noqa: E402


def learn_in_process(events: list, batch: int) -> float:  # type: ignore[type-arg]
    """Events/s learned by every online model, ALS folding each event's user in: the first
    10% are learned untimed and ALS is fitted on them, as the engine's trainer would have
    by then (the fits themselves run in a background thread in the engine: not counted)."""
    state = EngineState(Settings(), inline_training=False)
    logged = [LoggedEvent(n + 1, e) for n, e in enumerate(events)]
    warm = len(logged) // 10
    for start in range(0, warm, batch):
        state.apply(logged[start:min(warm, start + batch)])
    for model in state.refittables():
        model.refit()
    started = time.perf_counter()
    for start in range(warm, len(logged), batch):
        state.apply(logged[start:start + batch])
    return (len(events) - warm) / (time.perf_counter() - started)


def sqlite_floor(events: list, directory: Path) -> float:  # type: ignore[type-arg]
    connection = sqlite3.connect(directory / "floor.db", isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE e (id TEXT UNIQUE, u TEXT, i TEXT, t TEXT, ts REAL)")
    rows = [(e.event_id, e.user_id, e.item_id, e.type, e.timestamp) for e in events]
    started = time.perf_counter()
    for start in range(0, len(rows), 1000):
        connection.execute("BEGIN")
        connection.executemany("INSERT INTO e VALUES (?,?,?,?,?)", rows[start:start + 1000])
        connection.execute("COMMIT")
    return len(rows) / (time.perf_counter() - started)


def engine_ingest(events: list, directory: Path, threads: int) -> float:  # type: ignore[type-arg]
    engine = Engine.open(Settings(data_dir=directory / "engine"))
    chunks = [events[s:s + 1000] for s in range(0, len(events), 1000)]
    started = time.perf_counter()

    def worker(mine: list) -> None:  # type: ignore[type-arg]
        for chunk in mine:
            engine.ingest(chunk)

    pool = [threading.Thread(target=worker, args=(chunks[t::threads],)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    rate = len(events) / (time.perf_counter() - started)
    engine.close()
    return rate


def http_ingest(events: list, directory: Path, batch: int, clients: int) -> float:  # type: ignore[type-arg]
    bodies = [{"events": [{"event_id": e.event_id, "user_id": e.user_id, "item_id": e.item_id,
                           "type": e.type, "timestamp": e.timestamp}
                          for e in events[s:s + batch]]} for s in range(0, len(events), batch)]
    with server(directory / f"http-{batch}") as url:
        started = time.perf_counter()

        def worker(mine: list) -> None:  # type: ignore[type-arg]
            with httpx.Client(base_url=url, timeout=60) as client:
                for body in mine:
                    client.post("/v1/events", json=body).raise_for_status()

        pool = [threading.Thread(target=worker, args=(bodies[c::clients],))
                for c in range(clients)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        return len(events) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    config = world(args.items, args.events)
    events = events_of(config)
    directory = Path(tempfile.mkdtemp(prefix="streamrec-bench-"))
    print(f"world: {args.items:,} items, {config.n_users:,} users, {len(events):,} events")
    learned = learn_in_process(events, 1000)
    print(f"learned in process (all online models, ALS fold-in, batches of 1000): "
          f"{learned:,.0f} events/s")
    floor = sqlite_floor(events, directory)
    print(f"peer: SQLite executemany, same fsync policy:            {floor:,.0f} events/s")
    stored = engine_ingest(events, directory, threads=4)
    print(f"engine.ingest, 4 threads x 1000 (durable + learned):   {stored:,.0f} events/s"
          f"  ({stored / floor:.2f}x the SQLite floor)")
    for batch in (100, 1000):
        rate = http_ingest(events[: min(len(events), 100_000)], directory, batch, clients=8)
        print(f"over HTTP, batches of {batch:>4}, 8 clients:               {rate:,.0f} events/s")


if __name__ == "__main__":
    main()
