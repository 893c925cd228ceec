"""One way to reach Redis (``redis://HOST:PORT/DB``), for every store that shares state
between replicas: impressions, rate-limit buckets, key revocation, leases, keys.

Connections are pooled per URL and process, so stores opened from the same URL share one
pool. A Redis that cannot be reached answers ``Unavailable`` (503 to HTTP callers), never a
redis-py exception.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from streamrec.errors import InvalidSetting, Unavailable

T = TypeVar("T")

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def redis_client(url: str) -> Any:
    """A ``redis.Redis`` for ``url`` (shared per URL); checks the URL, not the server."""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise InvalidSetting(f"{url!r} is not a Redis URL (redis://HOST:PORT/DB)")
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            import redis

            client = redis.Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=5.0,
                                          health_check_interval=30)
            _clients[url] = client
        return client


def calling_redis(what: str, call: Callable[[], T]) -> T:
    """``call()``, with Redis's connection errors and time-outs as ``Unavailable``."""
    import redis

    try:
        return call()
    except (redis.ConnectionError, redis.TimeoutError) as error:
        raise Unavailable(f"Redis could not {what}: {error}") from error


def check_reachable(url: str) -> None:
    """Fail fast at start when the configured Redis does not answer."""
    client = redis_client(url)
    calling_redis("be reached at " + url.split("@")[-1], client.ping)
