"""What replicas must agree on that is not in the log, kept in Redis (``--redis``).

- **Impressions** (``RedisImpressions``): the list a recommendation showed, so the next page
  (``after=``) and feedback on it (``recommendation_id``) work on any replica. One key per
  list, kept ``ttl_s`` (a list is worth minutes to hours), and a set per user so an erasure
  forgets theirs on every replica at once.
- **Rate-limit buckets** (``RedisBuckets``): one token bucket per caller and scope for the
  whole deployment, taken by one Lua script (atomic, Redis's clock). When Redis cannot be
  reached, requests are let through (logged): a limiter must not take serving down.
- **Exposures** (``RedisExposureCounts``): the lists each replica showed per experiment
  variant and user (experiments/exposures.py), so every replica's report counts them all.
- **Revoked keys** (``RevokedKeys``): the hashes of revoked API keys; every replica refuses
  them within ``refresh_s`` of the revocation (``streamrec keys revoke`` with ``--redis``).

Every key starts with ``replicas.redis_prefix`` (``streamrec:``), so deployments can share a
Redis by prefix or by database number.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from streamrec.storage.impressions import Impression, RankedList
from streamrec.storage.redis_conn import calling_redis, redis_client

log = logging.getLogger(__name__)


def _encode(impression: Impression) -> bytes:
    ranked = impression.ranked
    return orjson.dumps({"u": impression.user_key, "i": list(ranked.item_ids),
                         "s": [float(s) for s in ranked.scores],
                         "r": [list(r) for r in ranked.reasons],
                         "a": impression.start, "b": impression.end,
                         "x": impression.experiment, "v": impression.variant})


def _decode(value: bytes) -> Impression:
    fields = orjson.loads(value)
    ranked = RankedList(tuple(fields["i"]), np.array(fields["s"], dtype=np.float64),
                        tuple(tuple(r) for r in fields["r"]))
    return Impression(fields["u"], ranked, int(fields["a"]), int(fields["b"]),
                      fields.get("x"), fields.get("v"))


class RedisImpressions:
    """The ImpressionStore replicas share (storage/impressions.py's protocol)."""

    def __init__(self, url: str, prefix: str = "streamrec:", ttl_s: float = 86_400.0) -> None:
        self.redis = redis_client(url)
        self.prefix = prefix
        self.ttl_ms = max(1, int(ttl_s * 1000))

    def _key(self, recommendation_id: str) -> str:
        return f"{self.prefix}impression:{recommendation_id}"

    def _user(self, user_key: str) -> str:
        return f"{self.prefix}impressions-of:{user_key}"

    def _outcomes(self, recommendation_id: str) -> str:
        return f"{self.prefix}outcomes-of:{recommendation_id}"

    def remember(self, recommendation_id: str, impression: Impression) -> None:
        def write() -> None:
            pipe = self.redis.pipeline(transaction=False)
            pipe.set(self._key(recommendation_id), _encode(impression), px=self.ttl_ms)
            pipe.sadd(self._user(impression.user_key), recommendation_id)
            pipe.pexpire(self._user(impression.user_key), self.ttl_ms)
            pipe.execute()

        calling_redis("remember a shown list", write)

    def get(self, recommendation_id: str) -> Impression | None:
        value = calling_redis("read a shown list",
                              lambda: self.redis.get(self._key(recommendation_id)))
        return None if value is None else _decode(value)

    def forget_user(self, user_key: str) -> int:
        def forget() -> int:
            ids = [i.decode() for i in self.redis.smembers(self._user(user_key))]
            pipe = self.redis.pipeline(transaction=False)
            for recommendation_id in ids:
                pipe.delete(self._key(recommendation_id))
            for recommendation_id in ids:
                pipe.delete(self._outcomes(recommendation_id))
            pipe.delete(self._user(user_key))
            return sum(int(n) for n in pipe.execute()[:len(ids)])

        return calling_redis("forget a user's shown lists", forget)

    def first_outcome(self, recommendation_id: str, event_type: str) -> bool:
        def mark() -> bool:
            pipe = self.redis.pipeline(transaction=False)
            pipe.exists(self._key(recommendation_id))
            pipe.sadd(self._outcomes(recommendation_id), event_type)
            pipe.pexpire(self._outcomes(recommendation_id), self.ttl_ms)
            exists, added, _ = pipe.execute()
            return bool(exists) and bool(added)

        return calling_redis("note feedback on a shown list", mark)

    def unmark_outcome(self, recommendation_id: str, event_type: str) -> None:
        calling_redis("undo a note of feedback on a shown list",
                      lambda: self.redis.srem(self._outcomes(recommendation_id), event_type))


class RedisExposureCounts:
    """experiments/exposures.py's ``Counts`` for replicas: per experiment and variant a hash
    of user key -> lists shown, the variants seen per experiment, and per user the hashes
    naming them (for erasure). Kept until erased: an experiment's results outlive it."""

    def __init__(self, url: str, prefix: str = "streamrec:") -> None:
        self.redis = redis_client(url)
        self.prefix = prefix

    def _hash(self, experiment: str, variant: str) -> str:
        return f"{self.prefix}exposures:{experiment}:{variant}"

    def _variants(self, experiment: str) -> str:
        return f"{self.prefix}exposure-variants:{experiment}"

    def _of(self, user_key: str) -> str:
        return f"{self.prefix}exposures-of:{user_key}"

    def add(self, rows: Sequence[tuple[str, str, str, int, float]]) -> None:
        def write() -> None:
            pipe = self.redis.pipeline(transaction=False)
            for experiment, user, variant, lists, _ in rows:
                pipe.hincrby(self._hash(experiment, variant), user, lists)
                pipe.sadd(self._variants(experiment), variant)
                pipe.sadd(self._of(user), self._hash(experiment, variant))
            pipe.execute()

        calling_redis("count the lists shown in experiments", write)

    def _each_variant(self, experiment: str) -> list[tuple[str, dict[str, int]]]:
        def read() -> list[tuple[str, dict[str, int]]]:
            variants = sorted(v.decode() for v in self.redis.smembers(self._variants(experiment)))
            pipe = self.redis.pipeline(transaction=False)
            for variant in variants:
                pipe.hgetall(self._hash(experiment, variant))
            return [(variant, {u.decode(): int(n) for u, n in users.items()})
                    for variant, users in zip(variants, pipe.execute(), strict=True)]

        return calling_redis("read the lists shown in an experiment", read)

    def totals(self, experiment: str) -> dict[str, tuple[int, int]]:
        return {variant: (len(users), sum(users.values()))
                for variant, users in self._each_variant(experiment) if users}

    def assignments(self, experiment: str) -> dict[str, str]:
        return {user: variant for variant, users in self._each_variant(experiment)
                for user in users}

    def forget_user(self, user_key: str) -> int:
        def forget() -> int:
            hashes = [h.decode() for h in self.redis.smembers(self._of(user_key))]
            pipe = self.redis.pipeline(transaction=False)
            for name in hashes:
                pipe.hdel(name, user_key)
            pipe.delete(self._of(user_key))
            return sum(int(n) for n in pipe.execute()[:len(hashes)])

        return calling_redis("forget a user's exposures", forget)

    def close(self) -> None:
        self.redis.close()


# KEYS[1] the bucket; ARGV: per_second, burst. Returns {1, 0} or {0, ms until a token}.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local held = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(held[1]), tonumber(held[2])
if tokens == nil then tokens, at = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local allowed, wait = 0, 0
if tokens >= 1 then tokens, allowed = tokens - 1, 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, math.ceil(wait * 1000)}
"""


class RedisBuckets:
    """Token buckets shared by every replica: ``take`` is one round trip to Redis."""

    def __init__(self, url: str, prefix: str = "streamrec:") -> None:
        self.redis = redis_client(url)
        self.prefix = prefix
        self._script = self.redis.register_script(_TAKE)
        self._warned_at = 0.0

    def take(self, caller: str, scope: str, per_second: float, burst: int) -> float:
        """0 when a token was taken, else the seconds until one is back."""
        import redis

        try:
            allowed, wait_ms = self._script(keys=[f"{self.prefix}bucket:{scope}:{caller}"],
                                            args=[per_second, burst])
        except (redis.ConnectionError, redis.TimeoutError) as error:
            if time.monotonic() - self._warned_at > 10:
                self._warned_at = time.monotonic()
                log.warning("rate limits not applied: Redis cannot be reached (%s)", error)
            return 0.0
        return 0.0 if int(allowed) else max(0.001, int(wait_ms) / 1000)


class RevokedKeys:
    """Hashes of revoked API keys, shared; read again at most every ``refresh_s``."""

    def __init__(self, url: str, prefix: str = "streamrec:", refresh_s: float = 1.0) -> None:
        self.redis = redis_client(url)
        self.key = f"{prefix}revoked-keys"
        self.refresh_s = refresh_s
        self._hashes: frozenset[str] = frozenset()
        self._read_at = -float("inf")
        self._lock = threading.Lock()

    def add(self, key_hash: str) -> None:
        calling_redis("record a revoked key", lambda: self.redis.sadd(self.key, key_hash))

    def contains(self, key_hash: str) -> bool:
        with self._lock:
            if time.monotonic() - self._read_at >= self.refresh_s:
                members: Any = calling_redis("read the revoked keys",
                                             lambda: self.redis.smembers(self.key))
                self._hashes = frozenset(m.decode() for m in members)
                self._read_at = time.monotonic()
            return key_hash in self._hashes
