"""Sparse logs of other domains: streamrec's server defaults against every peer, one table.

A shop that installs streamrec brings a log none of us tuned on: a few events per user, a
catalogue of hundreds, explicit 1-5 stars, a tempo of months or years. Issue 16's held-back
log is one (a product-review log, 5-core, ~7 events per user, 900 items, ten years). These
benchmarks stand in for it, built from what ../shared/datasets holds:

| name | what |
|---|---|
| ml100k-7 | MovieLens-100K, 7 random ratings per user, 5-core, stars kept, over 10 years |
| ml100k-10 | MovieLens-100K, 10 random ratings per user, 5-core, its own 7 months |
| latest-small-7 | latest-small, the same cut but 3-core (a 5-core of 7 per user leaves ~60 users) |
| retail-10 | Online Retail purchases, 10 random per customer, 5-core |
| diginetica | the DIGINETICA view sample as it is (~4 events per user) |
| synthetic-slow | the generator's small slow shop (``synthetic-slow:30000``) |

Each is run with ``streamrec evaluate``'s code in process, under the prequential protocol
(every event asked, HR@10) and the temporal 80/20 split (NDCG@10), for ``streamrec-defaults``
(the engine exactly as ``streamrec serve`` starts: nothing fit on the tuning slice) and the
peers ``pop``, ``decay``, ``cooc``, ``als`` (fold-in) and ``ease``, each peer tuned on the
first 20% as ``evaluate`` tunes it. The table says streamrec's figure, the best peer's and
the ratio; the JSON reports go to ``--out``.

    python bench/sparse.py [--only ml100k-7,retail-10] [--protocols prequential]
        [--models streamrec-defaults,pop,decay,cooc,als,ease] [--out evaluation-results/sparse]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import common  # noqa: E402,F401  (pins BLAS to one thread before numpy loads)
import numpy as np  # noqa: E402

from streamrec.evaluation.datasets import LoadedLog, load_log  # noqa: E402
from streamrec.evaluation.dense_events import DenseEvents  # noqa: E402
from streamrec.evaluation.report import to_report, write_json  # noqa: E402
from streamrec.evaluation.runner import EvaluationConfig, evaluate  # noqa: E402
from streamrec.evaluation.sparse import sparsify  # noqa: E402

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
YEAR_S = 365.25 * 86_400.0
MODELS = "streamrec-defaults,pop,decay,cooc,als,ease"
METRIC = {"prequential": "hr", "temporal": "ndcg"}


def stretched(events: DenseEvents, years: float) -> DenseEvents:
    """The same events, order kept, their times spread linearly over ``years``: a log whose
    tempo is years, for every setting that assumes days."""
    start, end = float(events.timestamps.min()), float(events.timestamps.max())
    scale = years * YEAR_S / max(end - start, 1.0)
    times = start + (events.timestamps - start) * scale
    return dataclasses.replace(events, timestamps=np.asarray(times, dtype=np.float64))


def cut(source: str, per_user: int | None, kcore: int | None,
        years: float | None = None) -> Callable[[], LoadedLog]:
    def build() -> LoadedLog:
        loaded = load_log(source)
        events = sparsify(loaded.events, per_user, kcore, seed=0)
        if years is not None:
            events = stretched(events, years)
        return LoadedLog(events, loaded.items)
    return build


BENCHMARKS: dict[str, Callable[[], LoadedLog]] = {
    "ml100k-7": cut(str(DATASETS / "movielens-100k"), 7, 5, years=10.0),
    "ml100k-10": cut(str(DATASETS / "movielens-100k"), 10, 5),
    "latest-small-7": cut(str(DATASETS / "movielens-latest-small"), 7, 3, years=10.0),
    "retail-10": cut(str(DATASETS / "online-retail"), 10, 5),
    "diginetica": cut(str(DATASETS / "diginetica-sample"), None, None),
    "synthetic-slow": cut("synthetic-slow:30000", None, None),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join(BENCHMARKS))
    parser.add_argument("--protocols", default="prequential,temporal")
    parser.add_argument("--models", default=MODELS)
    parser.add_argument("--out", type=Path, default=Path("evaluation-results/sparse"))
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--reuse", action="store_true",
                        help="Read a report already in --out instead of running it again.")
    args = parser.parse_args()
    unknown = [n for n in args.only.split(",") if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmarks {unknown}; known: {', '.join(BENCHMARKS)}")
    models = tuple(m for m in args.models.split(",") if m)
    rows = []
    for name in args.only.split(","):
        loaded: LoadedLog | None = None
        for protocol in args.protocols.split(","):
            started = time.perf_counter()
            done = args.out / f"{name}-{protocol}.json"
            if args.reuse and done.exists():
                rows.append(row(name, protocol, json.loads(done.read_text()), 0.0))
                continue
            if loaded is None:
                loaded = BENCHMARKS[name]()
                users = len(np.unique(loaded.events.users))
                print(f"{name}: {len(loaded.events):,} events, {users:,} users, "
                      f"{len(np.unique(loaded.events.items)):,} items", file=sys.stderr,
                      flush=True)
            config = EvaluationConfig(data=name, protocol=protocol, models=models,
                                      jobs=args.jobs)
            evaluation = evaluate(config, None, loaded.events, loaded.items)
            report = to_report(evaluation)
            write_json(report, done)
            rows.append(row(name, protocol, report, time.perf_counter() - started))
            print(rows[-1], file=sys.stderr, flush=True)
    print("| benchmark | protocol | streamrec-defaults | best peer | ratio | difference "
          "[95% interval] | queries |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for line in rows:
        print(line)


def row(name: str, protocol: str, report: dict[str, object], seconds: float) -> str:
    metric = METRIC[protocol]
    results = report["results"]
    assert isinstance(results, list)
    figures = {r["model"]: float(r[f"{metric}@10"]) for r in results}
    ours = figures.pop("streamrec-defaults", float("nan"))
    best = max(figures, key=lambda m: figures[m]) if figures else "-"
    theirs = figures.get(best, float("nan"))
    ratio = ours / theirs if theirs else float("nan")
    queries = json.dumps(report["settings"]["queries"])  # type: ignore[index]
    label = f"{'HR' if metric == 'hr' else 'NDCG'}@10"
    versus = next((r.get("versus_best_peer") for r in results
                   if r["model"] == "streamrec-defaults"), None)
    interval = "-" if not versus else (f"{versus['difference']:+.4f} "
                                       f"[{versus['low']:+.4f}, {versus['high']:+.4f}]")
    return (f"| {name} | {protocol} {label} | {ours:.4f} | {theirs:.4f} {best} | "
            f"**{ratio:.2f}x** | {interval} | {queries} ({seconds:.0f} s) |")


if __name__ == "__main__":
    main()
