"""The dashboard's time series: the server samples its own figures every
``dashboard.sample_s`` seconds and keeps the newest ``dashboard.samples_kept`` in memory.

A restart starts the series afresh (Prometheus, scraping /metrics, keeps the long history);
rates and latency quantiles are over the interval since the sample before.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# the dashboard's own polling is not the traffic an operator wants to see
_NOT_COUNTED = ("/dashboard", "/v1/stats/history")
_QUALITY_FIGURES = ("hr", "ndcg", "weight")


@dataclass(frozen=True, slots=True)
class Sample:
    time: float  # unix seconds
    events: int  # clients' events in the log
    users: int
    items: int
    learn_lag_events: int
    events_per_s: float  # clients' events stored per second since the sample before
    requests_per_s: float  # API requests answered per second since the sample before
    latency_p50_ms: float | None  # over those requests; None when there were none
    latency_p99_ms: float | None
    refits: int
    refit_failures: int
    snapshot_lag_events: int  # log entries newer than the newest snapshot
    seconds_since_snapshot: float
    online_quality: dict[str, dict[str, float]]  # expert -> hr, ndcg, weight


def is_counted(route: str) -> bool:
    """Whether a request to ``route`` (a route template) counts toward the request figures."""
    return route != "unmatched" and not route.startswith(_NOT_COUNTED)


def quantile(before: Mapping[float, float], after: Mapping[float, float],
             q: float) -> float | None:
    """The ``q`` quantile, in seconds, of the requests counted between two readings of
    cumulative histogram buckets (upper bound -> count), interpolated within its bucket;
    the highest finite bound when it falls in the ``+Inf`` bucket; None without requests.

    >>> quantile({}, {0.001: 50.0, 0.002: 100.0, math.inf: 100.0}, 0.5)
    0.001
    >>> quantile({}, {0.001: 0.0, 0.002: 100.0, math.inf: 100.0}, 0.99)
    0.00199
    """
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    if not counts or counts[-1] <= 0:
        return None
    rank = q * counts[-1]
    lower, below = 0.0, 0.0
    for bound, count in zip(bounds, counts, strict=True):
        if count >= rank and count > below:
            if math.isinf(bound):
                return lower
            return round(lower + (bound - lower) * (rank - below) / (count - below), 9)
        lower, below = bound, count
    return lower


class StatsHistory:
    """Samples ``stats()`` (the engine's, as /v1/stats answers) and the request latency
    histogram on a thread of its own; ``samples()`` is safe from any thread."""

    def __init__(self, stats: Callable[[], dict[str, Any]],
                 latency_counts: Callable[[], dict[float, float]], every_s: float,
                 kept: int, clock: Callable[[], float] = time.time) -> None:
        self._stats = stats
        self._latency_counts = latency_counts
        self.every_s = every_s
        self._clock = clock
        self._samples: deque[Sample] = deque(maxlen=kept)
        self._lock = threading.Lock()
        self._previous: tuple[float, int, dict[float, float]] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> Sample:
        """Take one sample now and keep it."""
        now, stats, counts = self._clock(), self._stats(), self._latency_counts()
        before_time, before_events, before_counts = self._previous or (now, stats["events"],
                                                                       counts)
        elapsed = now - before_time
        requests = counts.get(math.inf, 0.0) - before_counts.get(math.inf, 0.0)
        p50, p99 = (quantile(before_counts, counts, q) for q in (0.5, 0.99))
        quality = {expert: {f: round(float(figures[f]), 6) for f in _QUALITY_FIGURES
                            if f in figures}
                   for expert, figures in (stats.get("online_quality") or {}).items()}
        sample = Sample(
            time=round(now, 3), events=stats["events"], users=stats["users"],
            items=stats["items"], learn_lag_events=stats["learn_lag_events"],
            events_per_s=round(max(0, stats["events"] - before_events) / elapsed, 3)
            if elapsed > 0 else 0.0,
            requests_per_s=round(requests / elapsed, 3) if elapsed > 0 else 0.0,
            latency_p50_ms=None if p50 is None else round(p50 * 1000, 3),
            latency_p99_ms=None if p99 is None else round(p99 * 1000, 3),
            refits=stats["refits"], refit_failures=stats["refit_failures"],
            snapshot_lag_events=max(0, stats["log_offset"] - stats["last_snapshot_offset"]),
            seconds_since_snapshot=stats["seconds_since_snapshot"], online_quality=quality)
        with self._lock:
            self._samples.append(sample)
            self._previous = (now, stats["events"], counts)
        return sample

    def samples(self, since: float = 0.0) -> list[Sample]:
        """The samples kept, oldest first, those taken after ``since`` (unix seconds)."""
        with self._lock:
            return [s for s in self._samples if s.time > since]

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="stats-history", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.every_s):
                return
