"""The state replicas share in Redis, against a real redis-server: shown lists, rate-limit
buckets and revoked keys."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

from streamrec.errors import RateLimited
from streamrec.experiments.exposures import Exposures
from streamrec.serving.ratelimit import RateLimiter
from streamrec.settings import RateLimit
from streamrec.storage.impressions import Impression, ranked_list
from streamrec.storage.redis_shared import (
    RedisBuckets,
    RedisExposureCounts,
    RedisImpressions,
    RevokedKeys,
)
from streamrec.trust.keys import KeyRing, Scope


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:8]}:"


def test_a_shown_list_is_read_back_whole_by_another_store(redis_url: str, prefix: str) -> None:
    ranked = ranked_list(["a", "b", "c"], np.array([0.9, 0.5, 0.25]), [["popular"], [], ["x"]])
    RedisImpressions(redis_url, prefix).remember("r1", Impression("alice", ranked, 0, 2))
    other = RedisImpressions(redis_url, prefix)  # another replica
    found = other.get("r1")
    assert found is not None
    assert (found.user_key, found.shown, found.start, found.end) == ("alice", ("a", "b"), 0, 2)
    assert found.ranked.reasons == (("popular",), (), ("x",))
    np.testing.assert_array_equal(found.ranked.scores, ranked.scores)
    assert other.get("unknown") is None


def test_forgetting_a_user_forgets_only_their_lists_on_every_replica(
        redis_url: str, prefix: str) -> None:
    ranked = ranked_list(["a"], np.array([1.0]), [[]])
    one, two = RedisImpressions(redis_url, prefix), RedisImpressions(redis_url, prefix)
    one.remember("r1", Impression("alice", ranked, 0, 1))
    two.remember("r2", Impression("alice", ranked, 0, 1))
    one.remember("r3", Impression("bob", ranked, 0, 1))
    assert two.forget_user("alice") == 2
    assert one.get("r1") is None and one.get("r2") is None and one.get("r3") is not None


def test_replicas_take_from_one_bucket_per_caller(redis_url: str, prefix: str) -> None:
    limit = RateLimit(per_second=0.001, burst=3)
    replicas = [RateLimiter(limit, shared=RedisBuckets(redis_url, prefix)) for _ in range(3)]
    for replica in replicas:  # one request on each: the burst of 3 is used up
        replica.take("key:k1", "read")
    with pytest.raises(RateLimited) as refused:
        replicas[0].take("key:k1", "read")
    assert refused.value.retry_after_s > 0
    replicas[1].take("key:k2", "read")  # another caller has a bucket of its own


def test_a_key_revoked_with_redis_is_refused_by_another_replicas_ring(
        redis_url: str, prefix: str, tmp_path: Path) -> None:
    # each replica has its own copy of keys.db; the revocation goes through Redis
    admin = KeyRing(tmp_path / "a" / "keys.db", RevokedKeys(redis_url, prefix))
    record, key = admin.create(frozenset({Scope.READ}))
    (tmp_path / "b").mkdir()
    admin.close()
    import shutil

    shutil.copy(tmp_path / "a" / "keys.db", tmp_path / "b" / "keys.db")
    replica = KeyRing(tmp_path / "b" / "keys.db", RevokedKeys(redis_url, prefix, refresh_s=0))
    assert replica.authenticate(key) is not None
    KeyRing(tmp_path / "a" / "keys.db", RevokedKeys(redis_url, prefix)).revoke(record.id)
    assert replica.authenticate(key) is None


def test_replicas_count_the_lists_they_show_in_one_place_and_erasure_forgets_a_user(
        redis_url: str, prefix: str) -> None:
    one, two = (Exposures(RedisExposureCounts(redis_url, prefix)) for _ in range(2))
    one.record("colours", "A", "alice")
    one.record("colours", "A", "alice")
    two.record("colours", "A", "alice")  # the same user on another replica
    two.record("colours", "B", "bob")
    one.flush()
    assert two.totals("colours") == {"A": (1, 3), "B": (1, 1)}
    assert one.assignments("colours") == {"alice": "A", "bob": "B"}
    assert one.forget_user("alice") == 1
    assert two.totals("colours") == {"B": (1, 1)}
    one.close()
    two.close()


def test_feedback_is_first_of_its_type_once_per_shown_list_on_any_replica(
        redis_url: str, prefix: str) -> None:
    ranked = ranked_list(["a"], np.array([1.0]), [[]])
    one, two = RedisImpressions(redis_url, prefix), RedisImpressions(redis_url, prefix)
    one.remember("r1", Impression("alice", ranked, 0, 1, "colours", "B"))
    assert two.get("r1") is not None and two.get("r1").variant == "B"  # type: ignore[union-attr]
    assert one.first_outcome("r1", "click") and not two.first_outcome("r1", "click")
    assert two.first_outcome("r1", "purchase")
    assert not one.first_outcome("unknown", "click")  # no such list: counts for nothing
    two.unmark_outcome("r1", "click")  # that click was not stored: its retry is the first
    assert one.first_outcome("r1", "click") and not two.first_outcome("r1", "click")
