"""Data keys in Redis, shared by every replica (storage/keystore.py has the why).

One hash, ``<prefix>data-keys``, maps each stored user key to ``key id | wrapped key``; a set,
``<prefix>destroyed``, holds the tombstones (key ids, random: they name nobody). Creating a
key is ``HSETNX``: when two replicas create one for the same new user at once, the first wins
and both seal with it. Destroying is one Lua script (read the key id, delete the field, add
the tombstone), atomic on the server. A check value of the master key under
``<prefix>key-check`` refuses a replica started with another secret before it seals anything.

Durability is Redis's: run it with ``appendonly yes`` and ``appendfsync always`` (or
``everysec``, accepting a second of keys at risk: entries sealed under a lost key are lost).
A destroyed key leaves Redis's memory at once and its append-only file at the next rewrite
(``BGREWRITEAOF``; docs/security.md).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from typing import Any

from streamrec.errors import Misconfigured
from streamrec.storage.keystore import KEY_ID_BYTES, DataKey, KeyWrapper, new_data_key
from streamrec.storage.redis_conn import calling_redis, redis_client

_DESTROY = """
local found = redis.call('HGET', KEYS[1], ARGV[1])
if not found then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], string.sub(found, 1, tonumber(ARGV[2])))
return 1
"""


class RedisKeyStore:
    def __init__(self, url: str, wrapper: KeyWrapper, prefix: str = "streamrec:") -> None:
        self._redis: Any = redis_client(url)
        self._wrapper = wrapper
        self.tag_key = wrapper.tag_key
        self.shared = True
        self._where = f"the key store at {url.split('@')[-1]}"
        self._keys = f"{prefix}data-keys"
        self._destroyed = f"{prefix}destroyed"
        self._check = f"{prefix}key-check"
        self._destroy = self._redis.register_script(_DESTROY)
        self._check_master()

    def _check_master(self) -> None:
        calling_redis("record the key store's check value",
                      lambda: self._redis.setnx(self._check, self._wrapper.check))
        recorded = calling_redis("read the key store's check value",
                                 lambda: self._redis.get(self._check))
        if not hmac.compare_digest(bytes(recorded), self._wrapper.check.encode()):
            raise Misconfigured(f"{self._where} was written under another master key: set the "
                                "STREAMREC_TRUST__PSEUDONYM_SECRET it was written with")

    def _unwrap(self, user_key: str, stored: bytes) -> DataKey:
        return self._wrapper.unwrap(user_key, stored[:KEY_ID_BYTES], stored[KEY_ID_BYTES:],
                                    self._where)

    def get(self, user_key: str) -> DataKey | None:
        stored = calling_redis("read a data key", lambda: self._redis.hget(self._keys, user_key))
        return None if stored is None else self._unwrap(user_key, bytes(stored))

    def get_many(self, user_keys: Iterable[str]) -> dict[str, DataKey]:
        wanted = list(dict.fromkeys(user_keys))
        if not wanted:
            return {}
        stored = calling_redis("read data keys", lambda: self._redis.hmget(self._keys, wanted))
        return {key: self._unwrap(key, bytes(value))
                for key, value in zip(wanted, stored, strict=True) if value is not None}

    def get_or_create(self, user_keys: Iterable[str]) -> dict[str, DataKey]:
        wanted = list(dict.fromkeys(user_keys))
        if not wanted:
            return {}
        stored = calling_redis("read data keys", lambda: self._redis.hmget(self._keys, wanted))
        missing = [key for key, value in zip(wanted, stored, strict=True) if value is None]
        if missing:
            def create() -> None:
                pipeline = self._redis.pipeline(transaction=False)
                for key in missing:
                    data = new_data_key()
                    pipeline.hsetnx(self._keys, key, data.key_id + self._wrapper.wrap(key, data))
                pipeline.execute()

            calling_redis("store new data keys", create)
            # whoever set a key first (this replica or another) is whose every replica uses
            stored = calling_redis("read data keys",
                                   lambda: self._redis.hmget(self._keys, wanted))
        return {key: self._unwrap(key, bytes(value))
                for key, value in zip(wanted, stored, strict=True) if value is not None}

    def destroy(self, user_key: str) -> bool:
        done = calling_redis("destroy a data key", lambda: self._destroy(
            keys=[self._keys, self._destroyed], args=[user_key, KEY_ID_BYTES]))
        return bool(done)

    def is_destroyed(self, key_id: bytes) -> bool:
        return bool(calling_redis("read a tombstone",
                                  lambda: self._redis.sismember(self._destroyed, key_id)))

    def close(self) -> None:
        pass  # the connection pool is shared per URL (storage/redis_conn.py)
