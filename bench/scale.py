"""Scale: millions of events streamed through one engine, measured every million.

The synthetic generator's events go through ``Engine.ingest`` in batches of 1,000 (durable in
the SQLite log, then learned by every online model; ALS refits in the background as it would
in the server). At each checkpoint: the ingest rate over the last stretch, RSS, the log's
size on disk, recommendation latency for users seen so far, and the state's size. At the end,
the peers, measured in the same run, and the restart time (snapshot + log tail), measured
once the stream's process has exited (its heap would crowd the page cache the restart reads):

- SQLite ``executemany`` of the first checkpoint's rows (at most 1M, made again at the end)
  with the same fsync policy: the floor of any durable log;
- implicit's ALS fitted once on the final user x item matrix: what a batch learner pays to
  see the same data once (streamrec learned it event by event, and refit ALS along the way).

    python bench/scale.py [--items 100000] [--events 10000000] [--every 1000000]
                          [--plot bench/results/scale.png] [--json OUT]

With ``--user-lifetime N`` users come and go, as a shop's visitors do: each of the
generator's users becomes a new person (a new id, nothing of the old one's history) every N
events of the stream, each at its own phase. With ``--max-users M`` (``events.max_users``)
the engine then holds at most about M users, forgetting the idle ones, and per-user state
stops growing with the stream (issue 18's 50M run).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import multiprocessing
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import common  # noqa: E402,F401  (pins BLAS to one thread before numpy loads)
import numpy as np  # noqa: E402
from common import add_users, code_version, items_of, world  # noqa: E402
from rich.progress import (  # noqa: E402
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from soak import rss_bytes  # noqa: E402

from streamrec.datagen import GeneratorConfig, generate_events  # noqa: E402
from streamrec.engine import collector  # noqa: E402
from streamrec.engine.engine import Engine  # noqa: E402
from streamrec.engine.sizes import state_sizes  # noqa: E402
from streamrec.models.sequence_process import running_fits  # noqa: E402
from streamrec.serving import allocator  # noqa: E402
from streamrec.settings import Settings  # noqa: E402
from streamrec.storage.snapshots import SnapshotStore, read_snapshot  # noqa: E402
from streamrec.types import Event  # noqa: E402

MIB = 1024 * 1024
BATCH = 1_000
FLOOR_EVENTS = 1_000_000  # rows the SQLite floor inserts


@dataclass
class Checkpoint:
    events: int
    events_per_s: float  # over the stretch since the previous checkpoint
    rss_mib: float
    log_mib: float
    state_mib: float
    query_ms_p50: float
    query_ms_p99: float  # as the checkpoint falls: with the snapshot it is due for under way
    refits: int
    snapshots: int = 0  # written so far
    snapshot_busy_s: float = 0.0  # seconds spent writing them, so far
    snapshot_written_mib: float = 0.0  # chunks written by them, so far
    snapshot_reused_mib: float = 0.0  # chunks an older snapshot had: not written again
    # of them, those with every sparse part by its changes since a base (not given whole)
    snapshots_by_changes: int = 0
    snapshot_capture_s: float = 0.0  # of their busy seconds, the copies (learning waits)
    components_mib: dict[str, float] = field(default_factory=dict)  # the state, by part
    # child processes' resident memory (a sequence fit under way: sequence_process.py)
    children_rss_mib: float = 0.0
    # whether a snapshot was due or being written as the queries began (checkpoints fall on
    # multiples of snapshots.every_events); with --quiet-queries, the same number of queries
    # again once it was written
    snapshot_under_way: bool = False
    quiet_query_ms_p50: float = 0.0
    quiet_query_ms_p99: float = 0.0
    users_held: int = 0  # users with state (events.max_users bounds it)
    user_slots: int = 0  # length of per-user arrays: the most users held at once, about
    forgets: int = 0  # $forget events logged so far
    # the most events past the newest snapshot on disk at any chunk of this stretch: what a
    # crash then would have left a restart to learn again (the crash restart below measures
    # one tail, whatever it happened to be)
    longest_tail_events: int = 0


def children_rss_bytes() -> int:
    total = 0
    for pid in running_fits():
        with contextlib.suppress(OSError, RuntimeError):  # it ended meanwhile
            total += rss_bytes(pid)
    return total


def directory_mib(path: Path) -> float:
    """Bytes under ``path``; files and folders the snapshot writer renames or removes while
    this walks are left out (a temporary snapshot folder vanished under rglob and stopped
    a 10M run at 4M)."""
    total = 0
    for folder, _, files in os.walk(path):  # os.walk skips what vanished (onerror: None)
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                total += os.stat(os.path.join(folder, name)).st_size
    return total / MIB


def query_latencies_ms(engine: Engine, users: list[str], queries: int) -> np.ndarray:
    rng = random.Random(len(users))
    latencies = []
    for user in rng.choices(users, k=queries):
        started = time.perf_counter()
        engine.recommend(user, 10)
        latencies.append((time.perf_counter() - started) * 1000)
    return np.array(latencies)


def churned(chunks: Iterator[list[Event]], lifetime: int) -> Iterator[list[Event]]:
    """The stream with each user a new person every ``lifetime`` events, at a phase of its
    own: ``u7`` is ``u7.0``, then ``u7.1``, ..."""
    done = 0
    for chunk in chunks:
        out = []
        for position, e in enumerate(chunk, start=done):
            phase = (int(e.user_id[1:]) * 2_654_435_761) % lifetime if e.user_id[1:].isdigit() \
                else 0
            user = f"{e.user_id}.{(position + phase) // lifetime}"
            out.append(Event(user, e.item_id, e.type, e.timestamp, e.value, e.event_id,
                             e.context, e.session_id))
        done += len(chunk)
        yield out


class RecentUsers:
    """The last ``keep`` distinct users of the stream, whom queries ask for when users come and
    go (every user ever seen would grow this process, and most are forgotten)."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self._users: OrderedDict[str, None] = OrderedDict()

    def add(self, chunk: list[Event]) -> None:
        users = self._users
        for event in chunk:
            users[event.user_id] = None
            users.move_to_end(event.user_id)
        while len(users) > self.keep:
            users.popitem(last=False)

    def list(self) -> list[str]:
        return list(self._users)


def first_events(config: GeneratorConfig, n: int) -> list[Event]:
    """The stream's first ``n`` events again (the generator is seeded)."""
    events: list[Event] = []
    for chunk in generate_events(config):
        events.extend(chunk[: n - len(events)])
        if len(events) >= n:
            break
    return events


def sqlite_floor(events: list[Event], path: Path) -> float:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE e (id TEXT UNIQUE, u TEXT, i TEXT, t TEXT, ts REAL)")
    rows = [(e.event_id, e.user_id, e.item_id, e.type, e.timestamp) for e in events]
    started = time.perf_counter()
    for start in range(0, len(rows), BATCH):
        connection.execute("BEGIN")
        connection.executemany("INSERT INTO e VALUES (?,?,?,?,?)", rows[start:start + BATCH])
        connection.execute("COMMIT")
    connection.close()
    return len(rows) / (time.perf_counter() - started)


def implicit_fit_s(engine: Engine) -> tuple[float, int]:
    """One implicit ALS fit, with streamrec's factors and iterations, on the matrix streamrec's
    ALS holds at the end (the same confidence weights)."""
    from implicit.cpu.als import AlternatingLeastSquares

    model = engine.state.models["als"]
    with engine.state.lock:
        matrix = model.matrix()  # type: ignore[attr-defined]
    config = model.config  # type: ignore[attr-defined]
    peer = AlternatingLeastSquares(factors=config.factors, iterations=config.iterations,
                                   regularization=config.regularization, random_state=0)
    started = time.perf_counter()
    peer.fit(matrix.tocsr(), show_progress=False)
    return time.perf_counter() - started, int(matrix.nnz)


def plot(checkpoints: list[Checkpoint], out: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    millions = [c.events / 1e6 for c in checkpoints]
    figure, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    axes[0].plot(millions, [c.events_per_s / 1000 for c in checkpoints], marker="o")
    axes[0].set(title="ingested + learned (k events/s)", xlabel="events (M)", ylim=(0, None))
    axes[1].plot(millions, [c.rss_mib for c in checkpoints], marker="o", label="RSS")
    axes[1].plot(millions, [c.state_mib for c in checkpoints], marker="o", label="model state")
    axes[1].plot(millions, [c.log_mib for c in checkpoints], marker="o", label="data dir on disk")
    axes[1].set(title="memory and disk (MiB)", xlabel="events (M)", ylim=(0, None))
    axes[1].legend()
    axes[2].plot(millions, [c.query_ms_p50 for c in checkpoints], marker="o", label="p50")
    axes[2].plot(millions, [c.query_ms_p99 for c in checkpoints], marker="o", label="p99")
    if any(c.quiet_query_ms_p99 for c in checkpoints):
        axes[2].plot(millions, [c.quiet_query_ms_p99 for c in checkpoints], marker="x",
                     label="p99, no snapshot under way")
    axes[2].set(title="recommend latency in process (ms)", xlabel="events (M)", ylim=(0, None))
    axes[2].legend()
    figure.suptitle(title)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)


def stream(args: argparse.Namespace, directory: Path) -> dict[str, Any]:
    """The stream through one engine, its checkpoints and peers (run in a process of its own:
    ``main``). Returns the figures ``main`` reports, as plain values."""
    config = world(args.items, args.events, args.users).model_copy(update={"chunk_size": BATCH})
    print(f"world: {args.items:,} items, {config.n_users:,} users, {args.events:,} events; "
          f"data dir {directory}")
    # RSS as the server would have it: the same malloc arenas and trims (serving/allocator.py)
    serving = Settings().serving
    allocator.limit_arenas(serving.malloc_arena_max)
    trimmer = allocator.Trimmer(serving.malloc_trim_s)
    trimmer.start()
    events_settings = {} if args.max_users is None else {"max_users": args.max_users}
    settings = Settings(data_dir=directory / "engine", events=events_settings)
    # learning a catalogue of 1M items takes ~80 s here, past the 30 s a write waits by
    # default (it would answer 503 "stored durably, not yet learned"): the bench waits
    settings = settings.model_copy(update={"serving": settings.serving.model_copy(
        update={"learn_timeout_s": 600.0}),
        # one snapshot more than the default kept, for the crash restart at the end to
        # learn a long tail (crash_restart): its pace then is the replay's, not its
        # one-time costs'
        "snapshots": settings.snapshots.model_copy(update={"keep": CRASH_SNAPSHOT + 1})})
    if args.snapshot_log is not None:  # what each snapshot was and cost, as a server logs it
        handler = logging.FileHandler(args.snapshot_log, mode="w")
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        snapshot_log = logging.getLogger("streamrec.engine.snapshotter")
        snapshot_log.addHandler(handler)
        snapshot_log.setLevel(logging.INFO)
    engine = Engine.open(settings)
    collector.settle(serving.gc_young_objects)  # as the server does once open
    engine.upsert_items(items_of(config))

    checkpoints: list[Checkpoint] = []
    users: list[str] = []
    seen_users: set[str] = set()
    recent = RecentUsers(50_000) if args.user_lifetime else None
    done, generating_s, stretch_started = 0, 0.0, time.perf_counter()
    longest_tail = 0
    stretch_generating_s = 0.0
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]} ev/s"), TimeRemainingColumn())
    with Progress(*columns) as bar:
        task = bar.add_task("events", total=args.events, rate="-")
        chunks = generate_events(config)
        if args.user_lifetime:
            chunks = churned(chunks, args.user_lifetime)
        while True:
            generated = time.perf_counter()
            chunk = next(chunks, None)
            if recent is not None and chunk is not None:  # the bench's, not the engine's
                recent.add(chunk)
            stretch_generating_s += time.perf_counter() - generated
            if chunk is None:
                break
            engine.ingest(chunk)
            longest_tail = max(longest_tail,
                               engine.log.last_offset() - engine.snapshotter.written_offset)
            if recent is None:
                add_users(chunk, seen_users, users)
            done += len(chunk)
            if done % args.every < len(chunk) or done == args.events:
                elapsed = time.perf_counter() - stretch_started - stretch_generating_s
                stretch = done - (checkpoints[-1].events if checkpoints else 0)
                generating_s += stretch_generating_s
                under_way = engine.snapshotter.under_way
                if recent is not None:
                    users = recent.list()
                latencies = query_latencies_ms(engine, users, args.queries)
                quiet = np.zeros(1)
                if args.quiet_queries:
                    waited = time.monotonic() + 120
                    while engine.snapshotter.under_way and time.monotonic() < waited:
                        time.sleep(0.05)
                    quiet = query_latencies_ms(engine, users, args.queries)
                sizes = state_sizes(engine.state)
                checkpoints.append(Checkpoint(
                    events=done, events_per_s=stretch / elapsed,
                    rss_mib=rss_bytes(os.getpid()) / MIB,
                    log_mib=directory_mib(directory), state_mib=sizes.total / MIB,
                    query_ms_p50=float(np.percentile(latencies, 50)),
                    query_ms_p99=float(np.percentile(latencies, 99)),
                    snapshot_under_way=under_way,
                    quiet_query_ms_p50=float(np.percentile(quiet, 50)),
                    quiet_query_ms_p99=float(np.percentile(quiet, 99)),
                    refits=engine.trainer.refits, snapshots=engine.snapshotter.writes,
                    snapshot_busy_s=engine.snapshotter.busy_s,
                    snapshot_written_mib=engine.snapshotter.written_bytes / MIB,
                    snapshot_reused_mib=engine.snapshotter.reused_bytes / MIB,
                    snapshots_by_changes=engine.snapshotter.by_changes,
                    snapshot_capture_s=engine.snapshotter.capture_s,
                    children_rss_mib=children_rss_bytes() / MIB,
                    users_held=engine.state.users.live, user_slots=len(engine.state.users),
                    forgets=engine.trainer.forgets,
                    longest_tail_events=longest_tail,
                    components_mib={name: round(size / MIB, 1)
                                    for name, size in sizes.components.items()}))
                c = checkpoints[-1]
                bar.console.print(
                    f"{c.events:>11,} events  {c.events_per_s:>8,.0f} ev/s  RSS {c.rss_mib:>7,.0f}"
                    f" MiB (+{c.children_rss_mib:,.0f} in a fit's process)  state "
                    f"{c.state_mib:>6,.0f} MiB  disk {c.log_mib:>6,.0f} MiB  "
                    f"recommend p50 {c.query_ms_p50:.2f} ms p99 {c.query_ms_p99:.2f} ms"
                    f"{' (a snapshot under way)' if c.snapshot_under_way else ''}"
                    + (f", once written p50 {c.quiet_query_ms_p50:.2f} p99 "
                       f"{c.quiet_query_ms_p99:.2f}" if args.quiet_queries else "") + "  "
                    f"refits {c.refits}  snapshots {c.snapshots} ({c.snapshots_by_changes} by "
                    f"changes, {c.snapshot_busy_s:,.0f} s, copies {c.snapshot_capture_s:,.0f} s, "
                    f"{c.snapshot_written_mib:,.0f} MiB written, {c.snapshot_reused_mib:,.0f} "
                    f"MiB reused)  users held {c.users_held:,} (slots {c.user_slots:,}, "
                    f"forgets {c.forgets})  longest crash tail {c.longest_tail_events:,} events",
                    soft_wrap=True)
                largest = sorted(c.components_mib.items(), key=lambda kv: -kv[1])[:6]
                bar.console.print("    state by part: " + ", ".join(
                    f"{name} {mib:,.0f}" for name, mib in largest) + " MiB", soft_wrap=True)
                stretch_started, stretch_generating_s = time.perf_counter(), 0.0
                longest_tail = 0
            bar.update(task, completed=done,
                       rate=f"{checkpoints[-1].events_per_s:,.0f}" if checkpoints else "-")

    ingest_s = sum((c.events - (checkpoints[i - 1].events if i else 0)) / c.events_per_s
                   for i, c in enumerate(checkpoints))
    print(f"streamed {done:,} events in {ingest_s:,.0f} s of ingest ({done / ingest_s:,.0f} ev/s "
          f"overall; {generating_s:,.0f} s generating them, not counted)")

    fit_s, nnz = implicit_fit_s(engine)
    print(f"peer: implicit ALS, one fit of the final matrix ({nnz:,} user-item pairs): "
          f"{fit_s:,.1f} s; streamrec learned the stream event by event in {ingest_s:,.0f} s "
          f"({ingest_s / fit_s:.1f}x one batch fit), refitting ALS {engine.trainer.refits} "
          "times along the way")
    # the floor's rows made again now, not kept through the run: a stretch of Event objects
    # held from the start (~400 bytes each) was in every RSS figure, and no server holds it
    floor = sqlite_floor(first_events(config, min(args.every, FLOOR_EVENTS)),
                         directory / "floor.db")
    print(f"peer: SQLite executemany, same fsync policy: {floor:,.0f} ev/s; streamrec "
          f"{done / ingest_s / floor:.2f}x the floor (durable + learned)")

    engine.close()
    trimmer.stop()
    return {"checkpoints": [asdict(c) for c in checkpoints], "ingest_s": ingest_s,
            "generating_s": generating_s, "events": done, "users": config.n_users,
            "implicit_fit_s": fit_s, "implicit_nnz": nnz, "sqlite_floor_events_per_s": floor}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=None, help="default: events / 50")
    parser.add_argument("--every", type=int, default=1_000_000, help="events per checkpoint")
    parser.add_argument("--queries", type=int, default=500, help="recommendations per checkpoint")
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    parser.add_argument("--user-lifetime", type=int, default=None,
                        help="events of the stream after which each user is a new person "
                        "(default: users never leave)")
    parser.add_argument("--max-users", type=int, default=None,
                        help="events.max_users (default: the setting's default)")
    parser.add_argument("--snapshot-log", type=Path, default=None,
                        help="write each snapshot's line (kind, MiB, copies, cost) here")
    parser.add_argument("--quiet-queries", action="store_true",
                        help="at each checkpoint, the queries again once the snapshot it is "
                        "due for is written (the next stretch then starts without the write "
                        "beside it: its rate is not comparable with runs without)")
    args = parser.parse_args()

    version = code_version()  # now: the tree may change while a long run goes on
    directory = Path(tempfile.mkdtemp(prefix="streamrec-scale-"))
    # the stream in a process of its own, gone before the restarts are timed: beside the
    # stream's heap (6-10 GiB at 1M items) the page cache could not hold the log and
    # snapshots a restart reads, and a fresh process's open took 9.3 s where the same
    # directory opened alone took 5.3-5.5 s (bench/RESULTS.md, 2026-12-07)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        run = pool.submit(stream, args, directory).result()
    checkpoints = [Checkpoint(**c) for c in run["checkpoints"]]
    ingest_s, generating_s, done = run["ingest_s"], run["generating_s"], run["events"]
    print(f"the bench's own RSS before the restarts (the stream's process gone): "
          f"{rss_bytes(os.getpid()) / MIB:,.0f} MiB")
    store = SnapshotStore(directory / "engine" / "snapshots")
    crash_restart_s, crash_tail, crash_replay_s = crash_restart(store, directory / "engine")
    if crash_tail:
        print(f"restart after a crash, in a fresh process (the snapshot written at close "
              f"and the last periodic one gone: the one before plus {crash_tail:,} events "
              f"of log): "
              f"{crash_restart_s:,.1f} s, {crash_replay_s:,.1f} s of it learning the tail")
    else:
        print("restart after a crash: not measured, no snapshot before the close's")
    # the floor of a restart: reading the newest snapshot once (from the page cache, as the
    # restart right after it will)
    started = time.perf_counter()
    newest = read_snapshot(store.folders()[-1])
    read_s = time.perf_counter() - started
    snapshot_mib = sum(a.nbytes for arrays in newest.components.values()
                       for a in arrays.values()) / MIB
    del newest
    print(f"newest snapshot: {snapshot_mib:,.0f} MiB of arrays, read once in {read_s:,.1f} s")
    started = time.perf_counter()
    engine = Engine.open(Settings(data_dir=directory / "engine"))
    restart_s = time.perf_counter() - started
    print(f"restart (snapshot + log tail), in the bench's process: {restart_s:,.1f} s, "
          f"learned offset {engine.state.offset:,}")
    # its index builds, begun at the open, run in threads a close leaves going: finished
    # first, or the fresh process below shares the two cores with them (at 1M items it
    # took 17.1 s so, 4.8-5.4 s alone)
    engine.state.ranker.indexes.wait(600)
    engine.close()
    del engine
    gc.collect()
    allocator.trim()
    fresh_restart_s, _, _ = fresh_process_restart_s(directory / "engine")
    print(f"restart in a fresh process, as a server's restart (Engine.open alone): "
          f"{fresh_restart_s:,.1f} s")
    # the worst crash of the run: the crash restart's fixed part (all but learning its tail)
    # and the run's longest tail learned at the pace it learned its own (an estimate: that
    # tail's events, not these, were learned). The pace is the replay's alone: dividing the
    # tail by the whole restart's difference from a clean one folded in costs a longer tail
    # does not add to (at 3M: 10-13k ev/s where the replay itself learned 30k)
    longest_tail = max((c.longest_tail_events for c in checkpoints[1:]), default=0)
    worst_crash_s = pace = float("nan")
    if crash_tail < MIN_PACED_TAIL or crash_replay_s <= 0:
        print(f"longest crash tail after the first checkpoint: {longest_tail:,} events (the "
              f"crash restart's tail, {crash_tail:,}, too short to give a pace)")
    else:
        pace = crash_tail / crash_replay_s
        worst_crash_s = crash_restart_s - crash_replay_s + longest_tail / pace
        print(f"longest crash tail after the first checkpoint: {longest_tail:,} events; "
              f"learned at the crash restart's replay pace ({pace:,.0f} ev/s) after its "
              f"{crash_restart_s - crash_replay_s:,.1f} s of fixed costs, a crash then "
              f"restarts in about {worst_crash_s:,.1f} s")

    title = (f"streamrec scale: {args.items:,} items, {run['users']:,} users, "
             f"{args.events:,} events ({version})")
    if args.plot:
        plot(checkpoints, args.plot, title)
        print(f"wrote {args.plot}")
    if args.json:
        args.json.write_text(json.dumps({
            "commit": version,
            "items": args.items, "users": run["users"], "events": done,
            "user_lifetime": args.user_lifetime, "max_users": args.max_users,
            "ingest_s": ingest_s, "generating_s": generating_s, "restart_s": restart_s,
            "fresh_process_restart_s": fresh_restart_s,
            "crash_restart_s": crash_restart_s, "crash_restart_tail_events": crash_tail,
            "crash_replay_s": crash_replay_s, "crash_replay_events_per_s": pace,
            "longest_crash_tail_events": longest_tail, "worst_crash_restart_s": worst_crash_s,
            "snapshot_read_s": read_s, "snapshot_mib": snapshot_mib,
            "implicit_fit_s": run["implicit_fit_s"], "implicit_nnz": run["implicit_nnz"],
            "sqlite_floor_events_per_s": run["sqlite_floor_events_per_s"],
            "checkpoints": [asdict(c) for c in checkpoints]}, indent=1))
    if not args.keep:
        shutil.rmtree(directory, ignore_errors=True)


# the crash restart removes this many of the newest snapshots (the close's, the last periodic)
CRASH_SNAPSHOT = 2
# a crash restart's tail shorter than this gives no pace to project the longest tail by: its
# time is a restart's own noise (the last 10M run: 2 events, "2 ev/s")
MIN_PACED_TAIL = 10_000


def crash_restart(store: SnapshotStore, data_dir: Path) -> tuple[float, int, float]:
    """A restart as after kill -9 with a long tail: a clean close writes a snapshot at the
    log's end, a crash does not, so that one is removed, and so is the run's last periodic
    snapshot (the ``CRASH_SNAPSHOT`` newest in all); the one before them restores, then the
    log's tail since it is learned again: one to two snapshot spacings, as long as the
    longest tails of the run, so the replay's one-time costs (histories taken out of the
    restored arrays) do not set its pace (with the last periodic one, the tail at 10M was
    22k events, learned at 9.8k ev/s). Returns the
    seconds (fresh process), the tail's length and the seconds learning it took. Its own
    close writes a snapshot at the end again, for the restarts measured after it."""
    folders, offsets = store.folders(), store.offsets()
    if len(folders) < CRASH_SNAPSHOT + 1:
        return float("nan"), 0, 0.0
    for folder in folders[-CRASH_SNAPSHOT:]:
        shutil.rmtree(folder)
    seconds, _, replay_s = fresh_process_restart_s(data_dir)
    return seconds, offsets[-1] - offsets[-CRASH_SNAPSHOT - 1], replay_s


def fresh_process_restart_s(data_dir: Path) -> tuple[float, int, float]:
    """``Engine.open`` timed in a new process: what a server's restart pays, without this
    process's heap after the run (imports before the clock, as a server's are). Returns the
    seconds, and the events of the log's tail it learned again and the seconds that took."""
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from streamrec.engine.engine import Engine\n"
        "from streamrec.settings import Settings\n"
        "started = time.perf_counter()\n"
        "engine = Engine.open(Settings(data_dir=Path(sys.argv[1])))\n"
        "print(time.perf_counter() - started, engine.replayed_events, engine.replay_s)\n"
        "engine.close()\n")
    done = subprocess.run([sys.executable, "-c", script, str(data_dir)], check=True,
                          capture_output=True, text=True, env={**os.environ,
                                                               "OPENBLAS_NUM_THREADS": "1"})
    seconds, replayed, replay_s = done.stdout.split()[-3:]
    return float(seconds), int(replayed), float(replay_s)


if __name__ == "__main__":
    main()
