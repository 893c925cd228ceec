"""PNG plots drawn from a report (so they can be redrawn from its JSON without rerunning).

``hit_rate_over_stream``: HR@K per window of the stream, one line per model (prequential);
``latency``: histogram of query latency per model, log-scaled milliseconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _title(report: dict[str, Any]) -> str:
    settings = report["settings"]
    return (f"{Path(report['data']).name} · {report['protocol']} · "
            f"{settings['n_events']:,} events · {settings['queries']:,} queries")


def hit_rate_over_stream(report: dict[str, Any], path: Path) -> Path | None:
    """HR@K per window, one line per model; None when the report has no windows."""
    k = report["settings"]["k"]
    rows = [r for r in report["results"] if "windows" in r]
    if not rows:
        return None
    n_events = report["settings"]["n_events"]
    figure, axes = plt.subplots(figsize=(9, 5.5), dpi=120)
    for row in rows:
        windows = row["windows"]
        starts = np.array(windows["start"], dtype=float)
        ends = np.r_[starts[1:], n_events]
        middle = 100.0 * (starts + ends) / 2.0 / max(n_events, 1)
        values = np.array([np.nan if v is None else v for v in windows[f"hr@{k}"]], dtype=float)
        axes.plot(middle, values, marker="o", markersize=3, linewidth=1.6,
                  label=f"{row['model']} ({row[f'hr@{k}']:.3f})")
    axes.set_xlabel("position in the stream (% of events)")
    axes.set_ylabel(f"HR@{k} in the window")
    axes.set_xlim(0, 100)
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend(title=f"model (overall HR@{k})", fontsize=8, title_fontsize=8, loc="best")
    axes.set_title(f"HR@{k} over the stream\n{_title(report)}", fontsize=10)
    return _save(figure, path)


def latency(report: dict[str, Any], path: Path) -> Path:
    """Histogram of per-query latency for every model, on a log axis."""
    figure, axes = plt.subplots(figsize=(9, 5.5), dpi=120)
    low, high = np.inf, -np.inf
    for row in report["results"]:
        histogram = row["latency_histogram"]
        edges = np.array(histogram["edges_ms"], dtype=float)
        counts = np.array(histogram["counts"], dtype=float)
        share = counts / max(counts.sum(), 1.0)
        used = np.flatnonzero(counts)
        if used.size:
            low, high = min(low, edges[used[0]]), max(high, edges[used[-1] + 1])
        axes.stairs(share, edges, linewidth=1.6,
                    label=f"{row['model']} (p50 {row['query_ms_p50']:.3g} ms, "
                          f"p99 {row['query_ms_p99']:.3g} ms)")
    axes.set_xscale("log")
    if np.isfinite(low):
        axes.set_xlim(low / 2, high * 2)
    axes.set_xlabel("query latency (ms, log scale)")
    axes.set_ylabel("share of queries")
    axes.grid(alpha=0.3, which="both")
    axes.legend(fontsize=8, loc="best")
    axes.set_title(f"Query latency\n{_title(report)}", fontsize=10)
    return _save(figure, path)


def write_plots(report: dict[str, Any], directory: Path, stem: str) -> list[Path]:
    """Both plots as ``<stem>-hr-over-stream.png`` and ``<stem>-latency.png``."""
    directory.mkdir(parents=True, exist_ok=True)
    written = [hit_rate_over_stream(report, directory / f"{stem}-hr-over-stream.png"),
               latency(report, directory / f"{stem}-latency.png")]
    return [path for path in written if path is not None]


def _save(figure: Any, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
