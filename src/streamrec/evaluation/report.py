"""The figures of a run as one JSON document, and the same as a markdown table.

The JSON holds every figure and every setting (including tuned values and package versions),
and enough raw series (windows, latency histogram) to redraw the plots without rerunning.
Metric keys carry K: ``hr@10``, ``recall@10``, ``ndcg@10``, ``mrr@10``.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np

from streamrec.evaluation.metrics import (
    catalogue_coverage,
    novelty,
    percentile_ms,
    windowed_mean,
)
from streamrec.evaluation.paired import MAIN_METRIC, paired
from streamrec.evaluation.runner import Evaluation, ModelResult, config_settings
from streamrec.types import FloatArray

# log-spaced latency bins: 1 microsecond to 100 seconds, 10 per decade
LATENCY_EDGES_MS = np.logspace(-3, 5, 81)
_PACKAGES = ("streamrec", "numpy", "scipy", "implicit", "rtrec")


def to_report(evaluation: Evaluation) -> dict[str, Any]:
    """``{"protocol", "data", "settings", "results": [...]}``, JSON-ready."""
    config, plan = evaluation.config, evaluation.plan
    settings = config_settings(config)
    for moved in ("data", "protocol"):
        settings.pop(moved)
    settings.update({
        "n_events": evaluation.n_events, "n_users": evaluation.n_users,
        "n_items": evaluation.n_items,
        "queries": evaluation.results[0].run.n_queries if evaluation.results else 0,
        "refit_every_events": plan.context.refit_every,
        "mini_batch_events": plan.context.mini_batch,
        "tuned_on": _tuned_on(evaluation),
        "tuning": {r.run.model: _tuning(r, config.k) for r in evaluation.results},
        "learning": {r.run.model: r.learning for r in evaluation.results},
        "skipped_not_installed": list(evaluation.skipped),
        "cold_test_users_not_asked": plan.split.cold_users if plan.split else 0,
        "versions": _versions(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "seconds": round(evaluation.seconds, 2),
        **evaluation.extra,
    })
    return {"protocol": config.protocol, "data": config.data, "settings": settings,
            "results": [_figures(r, evaluation) for r in evaluation.results]}


# each per-query score (runs.SCORE_NAMES) by its key in the report
_KEYS = {"hit": "hr", "recall": "recall", "ndcg": "ndcg", "reciprocal_rank": "mrr"}


def _figures(result: ModelResult, evaluation: Evaluation) -> dict[str, Any]:
    run, k, plan = result.run, evaluation.config.k, evaluation.plan
    figures: dict[str, Any] = {"model": run.model}
    for name, key in _KEYS.items():
        figures[f"{key}@{k}"] = _mean(run.score(name))
    figures.update({
        "coverage": _round(catalogue_coverage(run.recommended, evaluation.n_items)),
        "novelty": _round(novelty(run.recommended, evaluation.item_users, evaluation.n_users)),
        "queries": run.n_queries,
        "learn_events_per_s": _round(run.learned_events / run.learn_seconds
                                     if run.learn_seconds > 0 else 0.0, 1),
        "query_ms_p50": _round(percentile_ms(run.latencies_s, 50)),
        "query_ms_p99": _round(percentile_ms(run.latencies_s, 99)),
        "seconds": _round(result.seconds, 2),
    })
    if result.online:
        figures["online_quality"] = result.online
    versus = _versus_best_peer(result, evaluation)
    if versus is not None:
        figures["versus_best_peer"] = versus
    if plan.positions is not None:
        later = run.positions >= plan.tuned_before
        figures["after_tuning_slice"] = {
            "from_position": plan.tuned_before, "queries": int(later.sum()),
            f"hr@{k}": _mean(run.score("hit")[later]),
            f"ndcg@{k}": _mean(run.score("ndcg")[later]),
        }
        starts, means, counts = windowed_mean(run.positions, run.score("hit"),
                                              evaluation.n_events, evaluation.config.windows)
        figures["windows"] = {"start": starts.tolist(), f"hr@{k}": [_maybe(m) for m in means],
                              "queries": counts.tolist()}
    counts, _ = np.histogram(run.latencies_s * 1000.0, bins=LATENCY_EDGES_MS)
    figures["latency_histogram"] = {"edges_ms": [_round(e, 6) for e in LATENCY_EDGES_MS],
                                    "counts": counts.tolist()}
    return figures


def _versus_best_peer(result: ModelResult, evaluation: Evaluation) -> dict[str, Any] | None:
    """For one of streamrec's models: the protocol's main figure against the best peer's
    (not streamrec's) on the same queries, with how sure the difference is (paired.py)."""
    if not result.run.model.startswith("streamrec"):
        return None
    metric = MAIN_METRIC[evaluation.config.protocol]
    peers = [r.run for r in evaluation.results if not r.run.model.startswith("streamrec")
             and np.array_equal(r.run.positions, result.run.positions)
             and np.array_equal(r.run.users, result.run.users)]
    if not peers or result.run.n_queries == 0:
        return None
    best = max(peers, key=lambda run: float(run.score(metric).mean()))
    found = paired(result.run.score(metric), best.score(metric))
    return {"model": best.model, "metric": f"{_KEYS[metric]}@{evaluation.config.k}",
            **found.as_dict()}


def _tuned_on(evaluation: Evaluation) -> str:
    plan, config = evaluation.plan, evaluation.config
    if plan.positions is not None:
        return (f"events [0, {plan.tuned_before}) (first {config.tune_fraction:.0%} of the "
                "stream): learn its first 90%, score NDCG@K on its last 10%")
    if config.protocol == "temporal":
        return (f"the training {config.train_fraction:.0%}: learn its first 90%, score NDCG@K "
                "on its last 10%")
    return "the training events: leave-last-out within them, score NDCG@K"


def _tuning(result: ModelResult, k: int) -> dict[str, Any]:
    return {"chosen": dict(result.tuned.params),
            "candidates": [{"params": dict(params), f"ndcg@{k}": _round(score)}
                           for params, score in result.tuned.candidates]}


def _versions() -> dict[str, str]:
    found = {}
    for package in _PACKAGES:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def _mean(values: FloatArray) -> float | None:
    return _round(float(np.mean(values))) if values.size else None


def _maybe(value: float) -> float | None:
    return None if math.isnan(value) else _round(value)


def _round(value: float, digits: int = 5) -> float:
    return round(float(value), digits)


def write_json(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, allow_nan=False) + "\n")


def markdown_table(report: dict[str, Any]) -> str:
    """One row per model, in the order the models ran."""
    k = report["settings"]["k"]
    columns = [("model", "model"), (f"hr@{k}", f"HR@{k}"), (f"recall@{k}", f"Recall@{k}"),
               (f"ndcg@{k}", f"NDCG@{k}"), (f"mrr@{k}", f"MRR@{k}"), ("coverage", "coverage"),
               ("novelty", "novelty (bits)"), ("queries", "queries"),
               ("learn_events_per_s", "learn events/s"), ("query_ms_p50", "query p50 ms"),
               ("query_ms_p99", "query p99 ms"), ("seconds", "time s")]
    lines = ["| " + " | ".join(title for _, title in columns) + " |",
             "|" + "|".join("---" if key == "model" else "---:" for key, _ in columns) + "|"]
    for row in report["results"]:
        lines.append("| " + " | ".join(_seconds(row.get(key)) if key == "seconds" else
                                       _cell(row.get(key)) for key, _ in columns) + " |")
    lines.extend(_versus_lines(report["results"]))
    lines.extend(_online_lines(report["results"]))
    return "\n".join(lines) + "\n"


def _versus_lines(results: list[dict[str, Any]]) -> list[str]:
    """streamrec's models against the best peer, with how sure each difference is."""
    lines = []
    for row in results:
        versus = row.get("versus_best_peer")
        if not versus:
            continue
        lines.append(f"\n{row['model']} - {versus['model']} (the best peer), "
                     f"{versus['metric'].upper()}: {versus['difference']:+.4f}, 95% interval "
                     f"[{versus['low']:+.4f}, {versus['high']:+.4f}] over "
                     f"{versus['queries']:,} paired queries")
    return lines


def _seconds(value: Any) -> str:
    """Durations in one format, whatever their size: 0.5, 12.0, 1,234.5."""
    return "-" if value is None else f"{value:,.1f}"


def _online_lines(results: list[dict[str, Any]]) -> list[str]:
    """What streamrec measured itself on the stream (every test, and the blend's weights)."""
    lines = []
    for row in results:
        online = row.get("online_quality")
        if not online or not online.get("blend", {}).get("measured"):
            continue
        parts = ", ".join(f"{name} {figures['total_hr']:.4f}"
                          + (f" (weight {figures['weight']:.2f})" if "weight" in figures else "")
                          for name, figures in online.items())
        lines.append(f"\n{row['model']}, measured on the stream at "
                     f"{online['blend']['measured']:,} events (online HR@10): {parts}")
    return lines


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
