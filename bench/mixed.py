"""Reads while the engine learns: recommendation latency in process with nothing else running
and while a stream is learned beside it, and the learning rate alone and beside the reads.

A streaming recommender answers while it learns. Both share one interpreter, so what a read
waits for while the learner works (the state's lock, the GIL) is measured here, not in
``serve.py`` (reads of a still engine) nor in ``scale.py`` (reads at checkpoints, between
stretches of learning).

The world is the synthetic generator's at ``--items`` (100k), with ``--events`` (1M) learned
first through ``Engine.ingest``. Then, each for ``--seconds``:

- reads alone: one closed-loop reader, ``Engine.recommend`` for users seen so far;
- learning alone: the stream's next events through ``Engine.ingest`` in batches of 1,000, each
  returning once learned, as fast as that goes;
- both at once, in two threads: read p50/p90/p99 and the learning rate beside them.

Peer, in the same run: ``--peer-commit REV`` runs the same phases with the code at REV (a
temporary git worktree), in fresh processes, rounds alternating with this tree's.

    python bench/mixed.py [--items 100000] [--events 1000000] [--seconds 20]
                          [--peer-commit REV] [--rounds 2] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import common  # noqa: E402,F401  (pins BLAS to one thread before numpy loads)
import numpy as np  # noqa: E402
from common import add_users, items_of, world  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BATCH = 1_000


def measure(items: int, events: int, seconds: float) -> dict[str, float]:
    """The three phases in this process, with whatever ``streamrec`` is on the path."""
    from streamrec.datagen import generate_events
    from streamrec.engine import collector
    from streamrec.engine.engine import Engine
    from streamrec.settings import Settings

    directory = Path(tempfile.mkdtemp(prefix="streamrec-mixed-"))
    settings = Settings(data_dir=directory / "engine")
    settings = settings.model_copy(update={"serving": settings.serving.model_copy(
        update={"learn_timeout_s": 600.0})})
    # a long stream beyond the world's events: the phases learn its next events
    config = world(items, events * 4, None).model_copy(update={"chunk_size": BATCH})
    engine = Engine.open(settings)
    collector.settle(Settings().serving.gc_young_objects)
    engine.upsert_items(items_of(config))
    chunks = generate_events(config)
    users: list[str] = []
    seen: set[str] = set()
    learned = 0
    started = time.perf_counter()
    for chunk in chunks:
        engine.ingest(chunk)
        add_users(chunk, seen, users)
        learned += len(chunk)
        if learned >= events:
            break
    print(f"  built {learned:,} events in {time.perf_counter() - started:,.0f} s "
          f"(streamrec from {Path(sys.modules['streamrec'].__file__ or '').parent})", flush=True)
    time.sleep(5)  # refits begun by the build get going; every phase runs beside them alike
    rng = random.Random(7)

    def read(until: float) -> list[float]:
        latencies = []
        while time.perf_counter() < until:
            user = rng.choice(users)
            began = time.perf_counter()
            engine.recommend(user, 10)
            latencies.append((time.perf_counter() - began) * 1000)
        return latencies

    def learn(until: float, counted: list[int]) -> None:
        for chunk in chunks:
            if time.perf_counter() >= until:
                return
            engine.ingest(chunk)
            counted[0] += len(chunk)

    results: dict[str, float] = {}
    alone = read(time.perf_counter() + seconds)
    counted = [0]
    began = time.perf_counter()
    learn(began + seconds, counted)
    results["learn_alone_ev_s"] = counted[0] / (time.perf_counter() - began)
    counted = [0]
    began = time.perf_counter()
    learner = threading.Thread(target=learn, args=(began + seconds, counted))
    learner.start()
    beside = read(began + seconds)
    learner.join()
    results["learn_beside_reads_ev_s"] = counted[0] / (time.perf_counter() - began)
    for name, latencies in (("alone", alone), ("beside_learning", beside)):
        p50, p90, p99 = np.percentile(latencies, [50, 90, 99])
        results |= {f"read_{name}_p50_ms": float(p50), f"read_{name}_p90_ms": float(p90),
                    f"read_{name}_p99_ms": float(p99), f"read_{name}_count": len(latencies)}
    engine.close()
    return results


def run_code(source: Path, args: argparse.Namespace) -> dict[str, float]:
    """This script in a fresh process, importing streamrec from ``source``."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        environment = {**os.environ, "PYTHONPATH": str(source)}
        subprocess.run([sys.executable, __file__, "--items", str(args.items), "--events",
                        str(args.events), "--seconds", str(args.seconds), "--only-here",
                        "--json", out.name], env=environment, check=True)
        return dict(json.loads(Path(out.name).read_text()))


def show(label: str, r: dict[str, float]) -> None:
    print(f"{label}: reads alone p50 {r['read_alone_p50_ms']:.2f} p99 "
          f"{r['read_alone_p99_ms']:.2f} ms; beside learning p50 "
          f"{r['read_beside_learning_p50_ms']:.2f} p90 {r['read_beside_learning_p90_ms']:.2f}"
          f" p99 {r['read_beside_learning_p99_ms']:.2f} ms; learning alone "
          f"{r['learn_alone_ev_s']:,.0f} ev/s, beside reads {r['learn_beside_reads_ev_s']:,.0f}"
          " ev/s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--peer-commit", default=None)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--only-here", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.only_here:
        results: object = measure(args.items, args.events, args.seconds)
        show("this process", results)  # type: ignore[arg-type]
    else:
        runs: dict[str, list[dict[str, float]]] = {"tree": []}
        worktree = None
        if args.peer_commit:
            worktree = Path(tempfile.mkdtemp(prefix="streamrec-peer-")) / "tree"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach",
                            str(worktree), args.peer_commit], check=True, capture_output=True)
            runs[args.peer_commit] = []
        try:
            for round_ in range(args.rounds):
                for label in runs:
                    source = ROOT / "src" if worktree is None or label == "tree" else (
                        worktree / "src")
                    print(f"round {round_ + 1}, {label}:", flush=True)
                    runs[label].append(run_code(source, args))
                    show(f"round {round_ + 1}, {label}", runs[label][-1])
        finally:
            if worktree is not None:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                                str(worktree)], check=False)
        for label, found in runs.items():
            for key in ("read_beside_learning_p99_ms", "learn_beside_reads_ev_s"):
                values = ", ".join(f"{r[key]:,.1f}" for r in found)
                print(f"{label}: {key} {values}")
        results = {"items": args.items, "events": args.events, "seconds": args.seconds,
                   "code": common.code_version(), "runs": runs}
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
