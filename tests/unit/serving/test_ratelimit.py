"""The token bucket, on a clock the test moves by hand."""

from __future__ import annotations

import pytest

from streamrec.errors import RateLimited
from streamrec.serving.ratelimit import RateLimiter
from streamrec.settings import RateLimit


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def limiter(per_second: float = 2.0, burst: int = 3, **kwargs: object) -> tuple[RateLimiter,
                                                                                  Clock]:
    clock = Clock()
    return RateLimiter(RateLimit(per_second=per_second, burst=burst), clock=clock,
                       **kwargs), clock  # type: ignore[arg-type]


def test_a_burst_passes_then_the_next_request_is_refused_with_the_wait() -> None:
    bucket, _ = limiter(per_second=2.0, burst=3)
    for _ in range(3):
        bucket.take("key:a", "read")
    with pytest.raises(RateLimited) as refused:
        bucket.take("key:a", "read")
    assert refused.value.retry_after_s == pytest.approx(0.5)
    assert "2 requests/s" in refused.value.message


def test_tokens_come_back_at_the_configured_rate_up_to_the_burst() -> None:
    bucket, clock = limiter(per_second=2.0, burst=3)
    for _ in range(3):
        bucket.take("key:a", "read")
    clock.now += 0.5
    bucket.take("key:a", "read")  # one token back
    with pytest.raises(RateLimited):
        bucket.take("key:a", "read")
    clock.now += 3600.0  # a long idle refills the burst, never more
    for _ in range(3):
        bucket.take("key:a", "read")
    with pytest.raises(RateLimited):
        bucket.take("key:a", "read")


def test_callers_and_scopes_have_their_own_buckets() -> None:
    bucket, _ = limiter(per_second=1.0, burst=1)
    bucket.take("key:a", "read")
    bucket.take("key:b", "read")
    bucket.take("key:a", "ingest")
    with pytest.raises(RateLimited):
        bucket.take("key:a", "read")


def test_a_scope_override_applies_to_that_scope_only() -> None:
    clock = Clock()
    bucket = RateLimiter(RateLimit(per_second=1.0, burst=1),
                         {"admin": RateLimit(per_second=0.1, burst=2)}, clock=clock)
    bucket.take("key:a", "admin")
    bucket.take("key:a", "admin")
    with pytest.raises(RateLimited) as refused:
        bucket.take("key:a", "admin")
    assert refused.value.retry_after_s == pytest.approx(10.0)
    assert bucket.limit_for("read").per_second == 1.0


def test_zero_per_second_disables_the_limit() -> None:
    bucket, _ = limiter(per_second=0.0, burst=1)
    for _ in range(1000):
        bucket.take("key:a", "read")


def test_only_the_most_recent_callers_are_remembered() -> None:
    bucket, _ = limiter(per_second=1.0, burst=1, max_callers=2)
    bucket.take("address:1", "read")
    bucket.take("address:2", "read")
    bucket.take("address:3", "read")  # forgets address:1, the least recently seen
    assert len(bucket._buckets) == 2
    bucket.take("address:1", "read")  # back with a full bucket
    with pytest.raises(RateLimited):
        bucket.take("address:3", "read")
