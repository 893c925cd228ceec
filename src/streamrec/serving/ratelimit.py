"""Per-caller rate limits: one token bucket per (caller, scope).

A caller is an API key (``key:<id>``) or, on an open server and for requests without a valid
key, the client address (``address:<host>``). Each bucket holds up to ``burst`` tokens and
refills at ``per_second``; a request takes one token or is refused with ``RateLimited``
(429 with ``Retry-After``). Buckets are kept for the most recently seen callers only
(``max_callers``): a caller forgotten comes back with a full bucket, which is what an idle
caller's bucket would hold anyway.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from streamrec.errors import RateLimited
from streamrec.settings import RateLimit

if TYPE_CHECKING:
    from streamrec.storage.redis_shared import RedisBuckets


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated_at: float


class RateLimiter:
    """Thread-safe; ``take`` costs a dictionary look-up under one lock."""

    def __init__(self, default: RateLimit, by_scope: Mapping[Any, RateLimit] | None = None,
                 max_callers: int = 100_000,
                 clock: Callable[[], float] = time.monotonic,
                 shared: RedisBuckets | None = None) -> None:
        self.default = default
        self.shared = shared  # replicas: the buckets in Redis, one per caller for them all
        self.by_scope: dict[str, RateLimit] = {str(k): v for k, v in (by_scope or {}).items()}
        self.max_callers = max_callers
        self._clock = clock
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def limit_for(self, scope: str) -> RateLimit:
        return self.by_scope.get(scope, self.default)

    def take(self, caller: str, scope: str) -> None:
        """Take one token from the caller's bucket for ``scope``; raise ``RateLimited`` (with
        the seconds until a token is back) when it is empty."""
        limit = self.limit_for(scope)
        if limit.per_second <= 0:
            return
        if self.shared is not None:
            wait_s = self.shared.take(caller, scope, limit.per_second, limit.burst)
            if wait_s > 0:
                raise RateLimited(
                    f"rate limit of {limit.per_second:g} requests/s (burst {limit.burst}) for "
                    f"{scope!r} exceeded; retry after {wait_s:.2f} s", retry_after_s=wait_s)
            return
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get((caller, scope))
            if bucket is None:
                bucket = _Bucket(float(limit.burst), now)
                self._buckets[(caller, scope)] = bucket
                if len(self._buckets) > self.max_callers:
                    self._buckets.popitem(last=False)  # the least recently seen
            else:
                self._buckets.move_to_end((caller, scope))
                elapsed = max(0.0, now - bucket.updated_at)
                bucket.tokens = min(float(limit.burst), bucket.tokens + elapsed * limit.per_second)
                bucket.updated_at = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return
            wait_s = (1.0 - bucket.tokens) / limit.per_second
        raise RateLimited(
            f"rate limit of {limit.per_second:g} requests/s (burst {limit.burst}) for "
            f"{scope!r} exceeded; retry after {wait_s:.2f} s", retry_after_s=wait_s)
