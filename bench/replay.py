"""Replay pace: a kept data directory's log learned again from an older snapshot, as a crash's
restart learns it (issue 18), the catch-up timed alone.

``bench/scale.py --keep`` leaves a directory with its two newest snapshots. This restores the
older one (``--snapshot 2``; 1: the newest) into a fresh state and learns the log after it,
``--runs`` times, printing each run's wall and CPU time and pace. Nothing in the directory
changes (no snapshot is written, the log is only read), so code versions can be compared on
the same directory, run after run, each with its own ``PYTHONPATH``:

    python bench/replay.py DATA_DIR [--snapshot 2] [--runs 3] [--batch 10000]

``--batch``: events per read of the log (a restart's 10,000; the live learner reads 256).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import common  # noqa: E402,F401  (pins BLAS to one thread before numpy loads)

from streamrec.engine.engine import compile_kernels, open_event_log  # noqa: E402
from streamrec.engine.learner import Learner  # noqa: E402
from streamrec.engine.state import EngineState  # noqa: E402
from streamrec.settings import Settings  # noqa: E402
from streamrec.storage.artefacts import ArtefactStore  # noqa: E402
from streamrec.storage.snapshots import SnapshotStore, read_snapshot  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir", type=Path, help="an engine's data directory (or the "
                        "directory bench/scale.py --keep left, which holds it as engine/)")
    parser.add_argument("--snapshot", type=int, default=2,
                        help="restore the n-th newest snapshot (1: the newest)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args()
    data_dir = args.data_dir / "engine" if (args.data_dir / "engine").is_dir() else args.data_dir
    settings = Settings(data_dir=data_dir)
    folders = SnapshotStore(settings.snapshot_dir, settings.snapshots.keep).folders()
    if len(folders) < args.snapshot:
        sys.exit(f"{settings.snapshot_dir} holds {len(folders)} snapshots, not "
                 f"{args.snapshot}")
    compile_kernels()  # before the clock, as at a start
    event_log = open_event_log(settings)
    try:
        for run in range(1, args.runs + 1):
            snapshot = read_snapshot(folders[-args.snapshot])
            state = EngineState(settings, inline_training=False)
            state.artefacts = ArtefactStore(settings.artefact_dir)
            state.restore(snapshot.offset, snapshot.components)
            offset = snapshot.offset
            del snapshot
            wall, cpu = time.perf_counter(), time.thread_time()
            events = Learner(state, event_log).catch_up(args.batch)
            wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
            print(f"run {run}: {events:,} events after offset {offset:,} learned again in "
                  f"{wall:.2f} s ({cpu:.2f} s on a CPU): {events / wall:,.0f} ev/s",
                  flush=True)
            del state
            gc.collect()
    finally:
        event_log.close()


if __name__ == "__main__":
    main()
