"""The shared data key store on a real redis-server (started by the session's fixture on a
free loopback port; skipped without redis-server, failed under CI=true)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from streamrec.errors import Misconfigured
from streamrec.storage.codec import EntryCipher, logged_of, payload_of
from streamrec.storage.keystore import KeyWrapper, master_key
from streamrec.storage.redis_keystore import RedisKeyStore
from streamrec.types import Event

_prefixes = itertools.count()


@pytest.fixture
def prefix() -> str:
    return f"test-{next(_prefixes)}:"


def store(redis_url: str, prefix: str, secret: str = "pepper") -> RedisKeyStore:
    return RedisKeyStore(redis_url, KeyWrapper(master_key(secret, Path("."))), prefix=prefix)


def test_keys_round_trip_between_replicas(redis_url: str, prefix: str) -> None:
    one, other = store(redis_url, prefix), store(redis_url, prefix)
    created = one.get_or_create(["alice", "bob"])
    assert other.get_or_create(["alice"]) == {"alice": created["alice"]}  # the same key
    assert other.get("bob") == created["bob"]
    assert one.get("carol") is None
    assert other.destroy("alice") and not other.destroy("alice")
    assert one.get("alice") is None
    assert one.is_destroyed(created["alice"].key_id)
    assert not one.is_destroyed(created["bob"].key_id)
    assert one.get_or_create(["alice"])["alice"].key_id != created["alice"].key_id
    # many at once, in one round trip: users without a key (bob destroyed, carol never) left out
    assert other.destroy("bob")
    created = one.get_or_create(["dave", "erin"])
    assert other.get_many(["dave", "bob", "erin", "carol", "dave"]) == created
    assert one.get_many([]) == {}


def test_the_first_replica_to_create_a_users_key_wins(redis_url: str, prefix: str) -> None:
    replicas = [store(redis_url, prefix) for _ in range(4)]
    keys = [replica.get_or_create(["new-user"])["new-user"] for replica in replicas]
    assert len({key.key_id for key in keys}) == 1


def test_a_replica_with_another_secret_is_refused(redis_url: str, prefix: str) -> None:
    store(redis_url, prefix).get_or_create(["alice"])
    with pytest.raises(Misconfigured, match="another master key"):
        store(redis_url, prefix, secret="salt")


def test_a_destroyed_key_leaves_redis(redis_url: str, prefix: str) -> None:
    shared = store(redis_url, prefix)
    shared.get_or_create(["alice"])
    raw: Any = shared._redis
    assert raw.hexists(f"{prefix}data-keys", "alice")
    shared.destroy("alice")
    assert not raw.hexists(f"{prefix}data-keys", "alice")
    assert raw.hlen(f"{prefix}data-keys") == 0


def test_a_replica_stops_reading_an_erased_user_at_the_erasure(redis_url: str,
                                                               prefix: str) -> None:
    """Another replica destroyed the key: a key cached here still opens entries until this
    replica reads the erasure event, after which nothing of the user opens here either."""
    here, there = EntryCipher(store(redis_url, prefix)), EntryCipher(store(redis_url, prefix))
    event = Event("alice", "i1", "view", 1.0)
    sealed = here.seal("alice", payload_of(event), 7, here.prepare(["alice"]))
    row = (7, None, "alice", "", "", None, 0.0, None, sealed)
    assert [e.event for e in logged_of([row], here)] == [event]
    there.erase("alice")
    erasure = (8, None, "", "", "$erase", None, 2.0, None, None)
    assert [e.offset for e in logged_of([erasure, row], here)] == [8]  # forgotten, skipped
    assert here.prepare(["alice"])["alice"][0] != sealed[1:17]  # a shared store is asked
