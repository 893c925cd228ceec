"""Events per second: learned in process, stored through the log, and over HTTP in batches.

Peers in the same run: the same rows inserted into SQLite with executemany and the same fsync
policy (the floor any durable log pays), and implicit's ALS fit (a batch learner's rate).

``--peer-commit REV`` measures learning alone (in process, and through ``engine.ingest``
with the learner thread) for this tree and for the code at REV (a temporary git worktree), in
fresh processes, rounds alternating: a change to the learner's path against the code before it.

``--sealing`` measures what encryption at rest costs: the log alone (the same events appended
to the embedded SQLite log in batches of 1,000, plain and sealed per user: storage/codec.py,
AES-GCM with each user's key), then end to end (``engine.ingest``, 4 threads x 1,000, durable
and learned; and over HTTP, 8 clients, batches of 100), each in a fresh process with the log
sealed (streamrec's only mode, ids deduplicated by the window of storage/dedup.py) and as the
embedded log was before sealing (a benchmark hook, common.unsealed: plain rows, ids in a
UNIQUE index), rounds alternating which goes first.

    python bench/ingest.py [--items 100000] [--events 200000]
    python bench/ingest.py --peer-commit main~3 [--rounds 3]
    python bench/ingest.py --sealing [--rounds 3] [--end-to-end-only] [--random-ids]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import common  # noqa: E402,F401  (pins BLAS to one thread before numpy loads)
import httpx  # noqa: E402
from common import (  # noqa: E402
    cpu_seconds,
    create_log_as_before_sealing,
    events_of,
    scratch_dir,
    served,
    worktree_at,
    world,
)

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


def log_append(events: list, directory: Path, sealed: bool,  # type: ignore[type-arg]
               keys: Path | None = None) -> tuple[float, float]:
    """Events/s appended to the SQLite log (synchronous=full), batches of 1,000, one thread,
    and the process's CPU microseconds per event; sealed with keys from ``keys`` (default: a
    new key store beside the log)."""
    from streamrec.storage.base import open_log
    from streamrec.storage.codec import open_cipher

    directory.mkdir(parents=True)
    if not sealed:
        create_log_as_before_sealing(directory / "events.db")
    cipher = open_cipher(f"sqlite:///{keys or directory / 'user_keys.db'}", "bench-secret") \
        if sealed else None
    log = open_log(f"sqlite:///{directory / 'events.db'}", cipher=cipher)
    try:
        started, cpu = time.perf_counter(), time.process_time()
        for start in range(0, len(events), 1000):
            log.append(events[start:start + 1000])
        return len(events) / (time.perf_counter() - started), \
            (time.process_time() - cpu) / len(events) * 1e6
    finally:
        log.close()


def sealing(items: int, n_events: int, rounds: int) -> None:
    events = events_of(world(items, n_events))
    directory = scratch_dir()
    for round_ in range(rounds):
        plain = log_append(events, directory / f"plain-{round_}", sealed=False)
        sealed = log_append(events, directory / f"sealed-{round_}", sealed=True)
        # the same users again, into a new log: their keys exist (the steady state)
        known = log_append(events, directory / f"known-{round_}", sealed=True,
                           keys=directory / f"sealed-{round_}" / "user_keys.db")
        print(f"round {round_ + 1} (load {os.getloadavg()[0]:.1f}): SQLite log append, plain "
              f"{plain[0]:,.0f} events/s ({plain[1]:.1f} us CPU/event), sealed "
              f"{sealed[0]:,.0f} events/s ({sealed[0] / plain[0]:.2f}x, {sealed[1]:.1f} us) "
              f"with every user new, {known[0]:,.0f} events/s ({known[0] / plain[0]:.2f}x, "
              f"{known[1]:.1f} us) with their keys made", flush=True)


_END_TO_END = """import sys
sys.path.insert(0, {bench!r})
import common, ingest
if not {sealed}:
    common.unsealed()
events = common.events_of(common.world({items}, {events}))
if {random_ids}:
    events = ingest.with_random_ids(events)
directory = common.scratch_dir()
print(*ingest.engine_ingest_measured(events, directory, 4),
      *ingest.http_ingest_measured(events, directory, 100, 8, sealed={sealed}))
"""


def with_random_ids(events: list) -> list:  # type: ignore[type-arg]
    """The events with random 128-bit hex event ids (seeded: the same in every run), as
    clients that send UUIDs have them, instead of the generator's sequential ``e{n}``: a
    sealed log stores a keyed tag of each id, which scatters its UNIQUE index as random ids
    scatter a plain log's."""
    import random

    rng = random.Random(17)
    return [e._replace(event_id=f"{rng.getrandbits(128):032x}") for e in events]


def sealing_end_to_end(items: int, n_events: int, rounds: int,
                       random_ids: bool = False) -> None:
    """Events/s through ``engine.ingest`` and over HTTP, sealed and unsealed, in fresh
    processes, the order alternating round by round; with the CPU each spent per event,
    which the machine's other load moves much less than the rates."""
    ratios: dict[str, list[float]] = {"engine rate": [], "engine cpu": [],
                                      "engine writer+learner cpu": [], "http rate": [],
                                      "http cpu": []}
    for round_ in range(rounds):
        runs: dict[bool, list[float]] = {}
        for sealed in (True, False) if round_ % 2 == 0 else (False, True):
            code = _END_TO_END.format(bench=str(Path(__file__).parent), items=items,
                                      events=n_events, sealed=sealed, random_ids=random_ids)
            out = subprocess.run([sys.executable, "-c", code], check=True,
                                 capture_output=True, text=True).stdout.split()
            runs[sealed] = [float(value) for value in out]
        plain, sealed_ = runs[False], runs[True]
        for n, name in enumerate(ratios):
            ratios[name].append(sealed_[n] / plain[n])
        print(f"round {round_ + 1} (load {os.getloadavg()[0]:.1f}): engine.ingest 4 threads "
              f"{plain[0]:,.0f} -> {sealed_[0]:,.0f} events/s ({sealed_[0] / plain[0]:.2f}x), "
              f"CPU {plain[1]:.0f} -> {sealed_[1]:.0f} us/event, of which writer + learner "
              f"{plain[2]:.1f} -> {sealed_[2]:.1f}; HTTP 8 clients x 100 "
              f"{plain[3]:,.0f} -> {sealed_[3]:,.0f} events/s ({sealed_[3] / plain[3]:.2f}x), "
              f"server CPU {plain[4]:.0f} -> {sealed_[4]:.0f} us/event (unsealed -> sealed)",
              flush=True)
    print("median sealed / unsealed: " + ", ".join(
        f"{name} {statistics.median(values):.2f}x" for name, values in ratios.items()))


def engine_ingest(events: list, directory: Path, threads: int) -> float:  # type: ignore[type-arg]
    return engine_ingest_measured(events, directory, threads)[0]


def thread_cpu_s(*names: str) -> float:
    """CPU seconds so far of this process's live threads of these names (Linux /proc)."""
    total = 0.0
    for thread in threading.enumerate():
        if thread.name in names and thread.native_id is not None:
            stat = Path(f"/proc/self/task/{thread.native_id}/stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def engine_ingest_measured(events: list, directory: Path,  # type: ignore[type-arg]
                           threads: int) -> tuple[float, float, float]:
    """Events/s through ``engine.ingest``, the process's CPU microseconds per event (every
    thread: callers, the log's writer, the learner, the trainer's refits), and those of the
    log's writer and the learner alone (what sealing changes; refits, whose number and size
    vary from run to run with timing, are left out)."""
    engine = Engine.open(Settings(data_dir=directory / "engine"))
    chunks = [events[s:s + 1000] for s in range(0, len(events), 1000)]
    log_threads = ("event-log-writer", "learner")
    started, cpu = time.perf_counter(), time.process_time()
    log_cpu = thread_cpu_s(*log_threads)

    def worker(mine: list) -> None:  # type: ignore[type-arg]
        for chunk in mine:
            engine.ingest(chunk)

    pool = [threading.Thread(target=worker, args=(chunks[t::threads],)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    rate = len(events) / (time.perf_counter() - started)
    cpu_us = (time.process_time() - cpu) / len(events) * 1e6
    log_us = (thread_cpu_s(*log_threads) - log_cpu) / len(events) * 1e6
    engine.close()
    return rate, cpu_us, log_us


def http_ingest(events: list, directory: Path, batch: int, clients: int,  # type: ignore[type-arg]
                sealed: bool = True) -> float:
    return http_ingest_measured(events, directory, batch, clients, sealed)[0]


def http_ingest_measured(events: list, directory: Path, batch: int,  # type: ignore[type-arg]
                         clients: int, sealed: bool = True) -> tuple[float, float]:
    """Events/s over HTTP and the server's CPU microseconds per event."""
    bodies = [{"events": [{"event_id": e.event_id, "user_id": e.user_id, "item_id": e.item_id,
                           "type": e.type, "timestamp": e.timestamp}
                          for e in events[s:s + batch]]} for s in range(0, len(events), batch)]
    with served(directory / f"http-{batch}", sealed=sealed) as (url, pid):
        started, cpu = time.perf_counter(), cpu_seconds(pid)

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
        return len(events) / (time.perf_counter() - started), \
            (cpu_seconds(pid) - cpu) / len(events) * 1e6


_LEARNING = """import sys
sys.path.insert(0, {bench!r})
import ingest
from common import events_of, scratch_dir, world
events = events_of(world({items}, {events}))
print(ingest.learn_in_process(events, 1000), ingest.engine_ingest(events, scratch_dir(), 4))
"""


def learning_against(peer_commit: str, items: int, n_events: int, rounds: int) -> None:
    """Events/s learned in process and through ``engine.ingest``: this tree's code and the
    code at ``peer_commit`` (this bench's own functions drive both), alternating processes."""
    code = _LEARNING.format(bench=str(Path(__file__).parent), items=items, events=n_events)
    with worktree_at(peer_commit) as tree:
        trees = {"this tree": str(Path(__file__).resolve().parent.parent / "src"),
                 f"{peer_commit} (peer)": str(tree / "src")}
        for _ in range(rounds):
            for name, source in trees.items():
                env = {**os.environ, "PYTHONPATH": source}
                out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                     capture_output=True, text=True).stdout.split()
                print(f"{name:>24}: learned in process {float(out[0]):,.0f} events/s, "
                      f"engine.ingest 4 threads {float(out[1]):,.0f} events/s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--peer-commit", help="Learning alone, against this commit's code.")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sealing", action="store_true",
                        help="Sealed against unsealed: the log alone, then end to end.")
    parser.add_argument("--end-to-end-only", action="store_true",
                        help="With --sealing: skip the log-alone rounds.")
    parser.add_argument("--random-ids", action="store_true",
                        help="With --sealing: random event ids (as UUIDs), not e1, e2, ...")
    args = parser.parse_args()
    if args.sealing:
        if not args.end_to_end_only:
            sealing(args.items, args.events, args.rounds)
        sealing_end_to_end(args.items, args.events, args.rounds, args.random_ids)
        return
    if args.peer_commit is not None:
        learning_against(args.peer_commit, args.items, args.events, args.rounds)
        return
    config = world(args.items, args.events)
    events = events_of(config)
    directory = scratch_dir()
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
