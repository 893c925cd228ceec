"""Recommendation latency in process and over HTTP, with peers measured in the same run.

In process it is measured twice: idle, and while ALS refits in the background (issue 4: the
refit must never block serving). The refit runs as the engine's trainer runs it
(engine/trainer.py, engine/state.py): the data taken under the state lock (``begin_refit``),
the fit off the lock in another thread, the result swapped in under the lock; the phase ends
once the ANN index of the new factors is built (until then queries score ALS exactly).

Peer: implicit's ALS recommend() on the same data (what a batch MF service costs per query),
idle and while another implicit fit runs beside it, so each ratio compares like with like.

Over HTTP, ``--clients`` closed-loop clients (bench/load.py) ask for users' lists: requests/s
and p99. ``--peer-commit REV`` serves a copy of the same data directory from the code at REV
(a temporary git worktree) in the same run, rounds alternating between the two servers, so a
change to the read path is measured against the code before it on the same machine state.

    python bench/serve.py [--items 100000] [--events 1000000] [--clients 16] [--no-http]
    python bench/serve.py --http-only --peer-commit main~3 [--rounds 3]
    python bench/serve.py --data-dir /tmp/world-100k [...]   # built once, reused after
    python bench/serve.py --sealing [--rounds 4]   # encryption at rest against none

``--data-dir DIR``: build the world there the first time (and keep it), and on later runs with
the same ``--items`` and ``--events`` reopen it from its snapshot instead of building it again
(at 100k items and 1M events the build takes 9+ minutes on a loaded machine). Each run starts
from a copy of the snapshot as built (``DIR/built-snapshots``), not from what the last run's
refits and closing snapshot left, so every run sees the same state.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import common  # noqa: E402,F401  (pins BLAS to one thread before numpy loads)
import numpy as np  # noqa: E402
from common import events_of, items_of, percentiles, server, worktree_at, world  # noqa: E402

from streamrec.engine.engine import Engine  # noqa: E402
from streamrec.engine.recommender import Recommender  # noqa: E402
from streamrec.engine.state import EngineState  # noqa: E402
from streamrec.models.als import ALSModel  # noqa: E402
from streamrec.settings import Settings  # noqa: E402


def in_process(recommender: Recommender, users: list[str], queries: int,
               more: Callable[[], bool] = lambda: False) -> list[float]:
    """At least ``queries`` recommendations, and on while ``more()`` says so."""
    latencies: list[float] = []
    while len(latencies) < queries or more():
        started = time.perf_counter()
        recommender.for_user(users[len(latencies) % len(users)], 10, now=time.time())
        latencies.append(time.perf_counter() - started)
    return latencies


def refit_in_background(state: EngineState, prepare_index: bool) -> threading.Thread:
    """One ALS refit the way the trainer runs it: begin under the lock, fit off it, swap
    under it (without the log's markers, which only make replays take the same steps).
    ``prepare_index``: build the ANN index of the new factors in the fit's thread before
    the swap (``VectorIndexes.prepare``), as the engine's trainer does."""
    model = state.models["als"]
    assert isinstance(model, ALSModel)

    def refit() -> None:
        with state.lock:
            data, events = model.begin_refit()
        fitted = model.fit(data)
        if prepare_index:
            state.ranker.indexes.prepare("als", model.serving_vectors(fitted))
        with state.lock:
            model.swap(fitted, events)

    thread = threading.Thread(target=refit, name="bench-refit")
    thread.start()
    return thread


def while_refitting(state: EngineState, users: list[str], queries: int,
                    prepare_index: bool = False) -> tuple[list[float], int, float]:
    """Latencies of queries served while ALS refits, refit after refit until ``queries``;
    each refit counts until the ANN index of its factors is ready. Returns the latencies,
    the number of refits and their mean seconds (fit + swap + index)."""
    recommender = Recommender(state)
    als = state.models["als"]
    assert isinstance(als, ALSModel)
    latencies: list[float] = []
    refits, seconds = 0, 0.0

    def refitting() -> bool:  # the read path itself asks for the new index when it sees it
        return thread.is_alive() or (state.ranker.indexes.ready("als", als.item_vectors())
                                     is None and len(als.item_vectors()) >=
                                     state.ranker.indexes.config.min_items)

    while len(latencies) < queries:
        started = time.perf_counter()
        thread = refit_in_background(state, prepare_index)
        latencies += in_process(recommender, users, 1, refitting)
        thread.join()
        refits += 1
        seconds += time.perf_counter() - started
    return latencies, refits, seconds / refits


def implicit_peer(engine: Engine, users: list[str], queries: int, fit_beside: bool = False
                  ) -> list[float]:
    """implicit's recommend() for the same users; ``fit_beside``: while another implicit fit
    of the same data runs in a thread, as streamrec's refit does."""
    als = engine.state.models["als"]
    assert isinstance(als, ALSModel)
    matrix = als.matrix().tocsr()
    solver = als.fit(matrix).solver
    rows = [matrix[engine.state.users.lookup(u) or 0] for u in users]
    done = threading.Event()

    def fit_again() -> None:
        while not done.is_set():
            als.fit(matrix)

    fitter = threading.Thread(target=fit_again, name="bench-peer-fit")
    if fit_beside:
        fitter.start()
    latencies = []
    for n in range(queries):
        user = engine.state.users.lookup(users[n % len(users)]) or 0
        started = time.perf_counter()
        solver.recommend(user, rows[n % len(users)], N=10, filter_already_liked_items=True)
        latencies.append(time.perf_counter() - started)
    done.set()
    if fit_beside:
        fitter.join()
    return latencies


def p99(seconds: list[float]) -> float:
    return float(np.percentile(seconds, 99))


def http(url: str, n_users: int, clients: int, requests: int) -> tuple[float, float, float]:
    out = subprocess.run([sys.executable, str(Path(__file__).parent / "load.py"), url,
                          str(n_users), str(clients), str(requests)],
                         capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1]), float(out[2])


def over_http(data_dir: Path, n_users: int, clients: int, queries: int, rounds: int,
              peer_commit: str | None, unsealed_dir: Path | None = None) -> None:
    """Requests/s and p99 of ``clients`` concurrent clients, this code and (``peer_commit``)
    the code at that commit on a copy of the same data, or (``unsealed_dir``) this code on
    the same world stored without encryption at rest, rounds alternating."""
    servers: dict[str, tuple[Path, tuple[tuple[str, str], ...], bool]] = {
        "this tree": (data_dir, (), True)}
    with ExitStack() as stack:
        if peer_commit is not None:
            peer_dir = data_dir.with_name(data_dir.name + "-peer")
            shutil.copytree(data_dir, peer_dir)
            tree = stack.enter_context(worktree_at(peer_commit))
            servers[f"{peer_commit} (peer)"] = (peer_dir, (("PYTHONPATH", str(tree / "src")),),
                                                True)
        if unsealed_dir is not None:
            servers["this tree, log unsealed (peer)"] = (unsealed_dir, (), False)
        urls = {name: stack.enter_context(server(directory, *env, sealed=sealed))
                for name, (directory, env, sealed) in servers.items()}
        for url in urls.values():
            http(url, n_users, 4, 50)  # warm-up
        results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in urls}
        for round_ in range(rounds):
            order = list(urls.items())
            for name, url in order if round_ % 2 == 0 else order[::-1]:
                results[name].append(http(url, n_users, clients, queries // clients))
    for name, runs in results.items():
        for p50, p99_ms, rate in runs:
            print(f"over HTTP    {name}, {clients} clients: p50 {p50:.2f} ms  "
                  f"p99 {p99_ms:.2f} ms  {rate:,.0f} req/s")
    if unsealed_dir is not None:
        ours, peer = results["this tree"], results["this tree, log unsealed (peer)"]
        ratios = [[mine[n] / theirs[n] for mine, theirs in zip(ours, peer, strict=True)]
                  for n in range(3)]
        print(f"sealed / unsealed, round by round (load {os.getloadavg()[0]:.1f}): p50 "
              + ", ".join(f"{r:.2f}x" for r in ratios[0]) + "; p99 "
              + ", ".join(f"{r:.2f}x" for r in ratios[1]) + "; req/s "
              + ", ".join(f"{r:.2f}x" for r in ratios[2]))


def built_world(items: int, n_events: int, keep_in: Path | None = None
                ) -> tuple[Engine, Path, int]:
    """An engine over a data directory holding a synthetic world, ALS fitted: ``keep_in``'s
    if it holds this world already (reopened from its snapshot), else built (in ``keep_in``
    when given, and kept there with a note of what it holds)."""
    config = world(items, n_events)
    made = {"items": items, "events": n_events, "users": config.n_users, "seed": config.seed}
    note = keep_in / "bench-world.json" if keep_in is not None else None
    if note is not None and note.exists():
        found = json.loads(note.read_text())
        if found != made:
            raise SystemExit(f"{keep_in} holds another world ({found}); give another "
                             "--data-dir or delete it")
        started = time.perf_counter()
        # the snapshot as built: a run's refits and closing snapshot changed the one in data/
        shutil.rmtree(keep_in / "data" / "snapshots", ignore_errors=True)
        shutil.copytree(keep_in / "built-snapshots", keep_in / "data" / "snapshots")
        engine = Engine.open(Settings(data_dir=keep_in / "data"), start_learner=False)
        for model in engine.state.refittables():  # fitted in the snapshot; else fit here
            if not getattr(model, "is_fitted", True):
                model.refit()
        print(f"world: {items:,} items, {config.n_users:,} users, {n_events:,} events, "
              f"reopened from {keep_in} in {time.perf_counter() - started:.1f} s")
        return engine, keep_in / "data", config.n_users
    root = keep_in if keep_in is not None else Path(tempfile.mkdtemp(prefix="streamrec-bench-"))
    data_dir = root / "data"
    if data_dir.exists():
        raise SystemExit(f"{data_dir} exists but holds no finished world: delete it")
    print(f"world: {items:,} items, {config.n_users:,} users, {n_events:,} events")
    engine = Engine.open(Settings(data_dir=data_dir), start_learner=False)
    engine.upsert_items(items_of(config))
    events = events_of(config)
    for start in range(0, len(events), 10_000):
        engine.log.append(events[start:start + 10_000])
    engine.learner.catch_up()
    for model in engine.state.refittables():
        model.refit()
    if note is not None:  # a snapshot of the fitted state, then the note that it is whole
        engine.snapshot()
        engine.snapshotter.wait_written()
        shutil.copytree(data_dir / "snapshots", root / "built-snapshots")
        note.write_text(json.dumps(made))
        print(f"world kept in {keep_in}: later runs with --data-dir {keep_in} reuse it")
    return engine, data_dir, config.n_users


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--no-http", action="store_true", help="In process only.")
    parser.add_argument("--sequence-serving", action="store_true",
                        help="In process: the sequence model serves (as once its online "
                             "trials let it in; the world has had none).")
    parser.add_argument("--http-only", action="store_true", help="Over HTTP only.")
    parser.add_argument("--peer-commit", help="Also serve the same data from this commit.")
    parser.add_argument("--rounds", type=int, default=2, help="HTTP rounds per server.")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="Build the world here once and reuse it on later runs.")
    parser.add_argument("--sealing", action="store_true",
                        help="Over HTTP only: the same world stored sealed (streamrec's only "
                             "mode) and unsealed (a benchmark hook), rounds alternating.")
    args = parser.parse_args()
    engine, data_dir, n_users = built_world(args.items, args.events, args.data_dir)
    if args.sealing:
        engine.close()
        common.unsealed()  # from here on this process builds a world with its log unsealed
        plain_engine, plain_dir, _ = built_world(args.items, args.events)
        plain_engine.close()
        over_http(data_dir, n_users, args.clients, args.queries, args.rounds, None, plain_dir)
        return
    if args.http_only:
        engine.close()
        over_http(data_dir, n_users, args.clients, args.queries, args.rounds, args.peer_commit)
        return
    users = [f"u{u}" for u in np.random.default_rng(1).integers(0, n_users, 500)]
    probation = engine.state.ranker.blend.probation
    if args.sequence_serving and probation.columns:
        # the world is learned without a trainer, so the model, fitted at the end, has had no
        # trials: let it in, to measure the read path as it is once its trials let it in
        probation.serving = True
    sequence = engine.online_quality().get("sequence", {})
    if "admitted" in sequence:  # the sequence model serves only once let in (probation.py)
        print(f"sequence model: {'serving' if sequence['admitted'] else 'kept out'} "
              f"(trials {sequence['trials']:,.0f}, margin {sequence['blend_margin']}"
              f"{'; let in by --sequence-serving' if args.sequence_serving else ''})")
    recommender = Recommender(engine.state)
    in_process(recommender, users, 200)  # warm-up; asks for the ANN index of ALS
    engine.state.ranker.indexes.wait()
    ours = in_process(recommender, users, args.queries)
    peer = implicit_peer(engine, users, args.queries)
    refitting, refits, refit_s = while_refitting(engine.state, users, args.queries)
    prepared, prepared_refits, prepared_s = while_refitting(engine.state, users, args.queries,
                                                            prepare_index=True)
    peer_refitting = implicit_peer(engine, users, args.queries, fit_beside=True)
    print(f"in process   streamrec (hybrid, 4 sources)  {percentiles(ours)}")
    print(f"in process   implicit ALS recommend (peer)  {percentiles(peer)}")
    print(f"  ratio p99 streamrec / implicit: {p99(ours) / p99(peer):.2f}")
    print("while an ALS refit runs in the background:")
    print(f"in process   implicit ALS recommend (peer)  {percentiles(peer_refitting)}"
          "  (another implicit fit beside it)")
    for label, latencies, n, seconds in (
            ("index built after the swap (the engine before 2026-11-23)", refitting, refits,
             refit_s),
            ("index prepared in the fit's thread before the swap (as the engine runs)",
             prepared, prepared_refits, prepared_s)):
        print(f"in process   streamrec, {label}: {percentiles(latencies)}"
              f"  ({n} refits of {seconds:.1f} s, {len(latencies):,} queries)")
        print(f"  ratio p99 streamrec / implicit: {p99(latencies) / p99(peer_refitting):.2f}"
              f"   refitting / idle: {p99(latencies) / p99(ours):.2f}")
    engine.close()
    if not args.no_http:
        over_http(data_dir, n_users, args.clients, args.queries, args.rounds, args.peer_commit)


if __name__ == "__main__":
    main()
