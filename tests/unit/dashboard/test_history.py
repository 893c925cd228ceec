"""The dashboard's samples: rates and latency quantiles over the interval between two."""

from __future__ import annotations

import math
from typing import Any

from streamrec.dashboard.history import StatsHistory, is_counted, quantile


def stats(events: int) -> dict[str, Any]:
    return {"events": events, "users": 3, "items": 5, "learn_lag_events": 0, "refits": 1,
            "refit_failures": 0, "log_offset": events + 2, "last_snapshot_offset": 2,
            "seconds_since_snapshot": 1.5,
            "online_quality": {"blend": {"hr": 0.25, "ndcg": 0.125, "weight": 1.0,
                                         "measured": 40.0}}}


def test_rates_and_quantiles_are_over_the_interval_since_the_sample_before() -> None:
    clock = iter([100.0, 110.0])
    readings = iter([stats(1_000), stats(1_500)])
    buckets = iter([{0.001: 10.0, 0.01: 10.0, math.inf: 10.0},
                    {0.001: 10.0, 0.01: 110.0, math.inf: 110.0}])
    history = StatsHistory(lambda: next(readings), lambda: next(buckets), every_s=10,
                           kept=2, clock=lambda: next(clock))
    first, second = history.sample(), history.sample()
    assert first.events_per_s == 0.0 and first.requests_per_s == 0.0
    assert second.events_per_s == 50.0  # 500 events in 10 s
    assert second.requests_per_s == 10.0  # the 10 requests before the first are not counted
    assert second.latency_p50_ms is not None and 1.0 < second.latency_p50_ms < 10.0
    assert second.snapshot_lag_events == 1_500
    assert second.online_quality == {"blend": {"hr": 0.25, "ndcg": 0.125, "weight": 1.0}}
    assert history.samples(since=100.0) == [second]


def test_only_the_newest_samples_are_kept() -> None:
    ticks = iter(range(10))
    history = StatsHistory(lambda: stats(0), dict, every_s=1, kept=3,
                           clock=lambda: float(next(ticks)))
    for _ in range(5):
        history.sample()
    assert [s.time for s in history.samples()] == [2.0, 3.0, 4.0]


def test_without_requests_there_is_no_latency() -> None:
    assert quantile({math.inf: 4.0}, {math.inf: 4.0}, 0.5) is None
    assert quantile({}, {0.5: 0.0, math.inf: 3.0}, 0.99) == 0.5  # beyond the last bound


def test_the_dashboards_own_polling_is_not_counted() -> None:
    assert is_counted("/v1/users/{user_id:path}/recommendations")
    assert not is_counted("/dashboard")
    assert not is_counted("/v1/stats/history")
    assert not is_counted("unmatched")
