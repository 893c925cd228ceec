"""Prometheus metrics: request rates and latencies here, engine figures read at scrape time."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25,
                    0.5, 1.0, 2.5, 5.0)


class EngineCollector(Collector):
    """Turns ``engine.stats()`` into metrics when Prometheus scrapes, never on the hot path."""

    def __init__(self, stats: Callable[[], dict[str, Any]]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        stats = self._stats()
        yield CounterMetricFamily("streamrec_events_appended",
                                  "Log entries appended: clients' events and the engine's own "
                                  "control entries (catalogue changes, refits, erasures)",
                                  value=stats["log_offset"])
        yield CounterMetricFamily("streamrec_events_learned",
                                  "Log entries applied to the models (counted as "
                                  "streamrec_events_appended is)",
                                  value=stats["learned_events"])
        yield GaugeMetricFamily("streamrec_learn_lag_events", "Events durable but not yet learned",
                                value=stats["learn_lag_events"])
        yield GaugeMetricFamily("streamrec_model_freshness_seconds",
                                "Seconds since the models last learned an event",
                                value=stats["seconds_since_learned"])
        yield GaugeMetricFamily("streamrec_users", "Users held (at most about events.max_users)",
                                value=stats["users"])
        yield GaugeMetricFamily("streamrec_items", "Known items", value=stats["items"])
        yield GaugeMetricFamily("streamrec_events_stored",
                                "Clients' events in the log (control entries not counted)",
                                value=stats["events"])
        yield GaugeMetricFamily("streamrec_snapshot_lag_events",
                                "Log entries newer than the newest snapshot (a restart "
                                "replays them)",
                                value=max(0, stats["log_offset"] - stats["last_snapshot_offset"]))
        yield GaugeMetricFamily("streamrec_snapshot_age_seconds",
                                "Seconds since this process last wrote a snapshot (since it "
                                "started, before its first)",
                                value=stats["seconds_since_snapshot"])
        yield CounterMetricFamily("streamrec_refits", "Background refits swapped in",
                                  value=stats["refits"])
        yield CounterMetricFamily("streamrec_refit_failures",
                                  "Background refits that failed (the previous fit served on)",
                                  value=stats["refit_failures"])
        yield GaugeMetricFamily("streamrec_refit_failing",
                                "1 while the last refit failed and none has worked since",
                                value=float(stats["refit_error"] is not None))
        yield from _online_quality(stats.get("online_quality") or {})


def _online_quality(report: dict[str, dict[str, float]]) -> Iterator[GaugeMetricFamily]:
    """The blend's own measurements (docs/ranking.md), one series per expert."""
    families = {
        "hr": GaugeMetricFamily("streamrec_online_hit_rate", "Online HR@10 on the stream "
                                "(decayed), per expert and the blend", labels=["expert"]),
        "ndcg": GaugeMetricFamily("streamrec_online_ndcg", "Online NDCG@10 on the stream "
                                  "(decayed), per expert and the blend", labels=["expert"]),
        "weight": GaugeMetricFamily("streamrec_blend_weight", "Each expert's share of the blend",
                                    labels=["expert"]),
    }
    for expert, figures in report.items():
        for key, family in families.items():
            if key in figures:
                family.add_metric([expert], figures[key])
    yield from families.values()


class HttpMetrics:
    """The request counter and latency histogram: the middleware below fills them, Prometheus
    and the dashboard's sampler (dashboard/history.py) read them."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter("streamrec_http_requests", "HTTP requests",
                                ["method", "route", "status"], registry=registry)
        self.latency = Histogram("streamrec_http_request_seconds", "HTTP request latency",
                                 ["method", "route"], buckets=_LATENCY_BUCKETS,
                                 registry=registry)

    def latency_counts(self, skip: Callable[[str], bool]) -> dict[float, float]:
        """Cumulative request counts per latency bucket (upper bound in seconds, ``inf``
        last), summed over the routes ``skip`` does not refuse."""
        counts: dict[float, float] = {}
        for family in self.latency.collect():
            for sample in family.samples:
                if sample.name.endswith("_bucket") and not skip(sample.labels["route"]):
                    bound = float(sample.labels["le"])
                    counts[bound] = counts.get(bound, 0.0) + sample.value
        return dict(sorted(counts.items()))


class RequestMetrics:
    """Pure ASGI middleware counting requests and timing them per route template (never per
    raw URL: user ids in paths would explode the label set and leak identities)."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.requests = metrics.requests
        self.latency = metrics.latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            method = scope.get("method", "")
            self.requests.labels(method, template, str(status)).inc()
            self.latency.labels(method, template).observe(time.perf_counter() - started)
