"""Three replicas on one Kafka topic (a Kafka-protocol broker, noida-db) with Redis, over
real HTTP on loopback: read-your-writes through the consistency token, and writers that go
on while a replica is SIGKILLed and restarted, round after round: every acknowledged event
once in the log every replica reads, and each replica's state equal to a fresh replay."""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from streamrec.engine.engine import open_event_log
from streamrec.engine.refits import BEGIN_TYPE, END_TYPE
from streamrec.engine.replay import assert_same_state, rebuild_state, restored_state
from streamrec.settings import Settings
from streamrec.storage.snapshots import SnapshotStore

pytestmark = pytest.mark.integration

ROUNDS = int(os.environ.get("STREAMREC_CRASH_ROUNDS", "3"))
WRITERS = 8
SECRET = "replicas-test-secret"


def cluster_env(kafka_broker: Any, redis_url: str) -> dict[str, str]:
    topic = f"events-{uuid.uuid4().hex[:10]}"
    return {"STREAMREC_STORAGE__LOG": f"kafka://{kafka_broker.bootstrap}/{topic}",
            "STREAMREC_REPLICAS__REDIS_URL": f"{redis_url}/0",
            "STREAMREC_REPLICAS__REDIS_PREFIX": f"{topic}:",
            "STREAMREC_REPLICAS__CONSISTENCY_WAIT_S": "2",
            "STREAMREC_SERVING__RATE_LIMIT__PER_SECOND": "0",
            # the GRU's refits take tens of seconds on a busy machine and test nothing here
            "STREAMREC_MODELS__SEQUENCE__ENABLED": "false",
            # a restarted replica reads a short tail, not the whole topic again
            "STREAMREC_SNAPSHOTS__EVERY_EVENTS": "500",
            # the topic's entries are sealed per user, keys shared in Redis under the secret
            "STREAMREC_TRUST__PSEUDONYM_SECRET": SECRET}


@pytest.fixture
def cluster(kafka_broker: Any, redis_url: str, start_server: Any) -> dict[str, Any]:
    env = cluster_env(kafka_broker, redis_url)
    return {"env": env, "log_url": env["STREAMREC_STORAGE__LOG"],
            "settings": lambda data_dir: Settings(
                data_dir=data_dir, storage={"log_url": env["STREAMREC_STORAGE__LOG"]},
                replicas={"redis_url": env["STREAMREC_REPLICAS__REDIS_URL"],
                          "redis_prefix": env["STREAMREC_REPLICAS__REDIS_PREFIX"]},
                models={"sequence": {"enabled": False}}, trust={"pseudonym_secret": SECRET}),
            "replicas": [start_server(env=env) for _ in range(3)]}


def wait_caught_up(replicas: list[Any], timeout_s: float = 60.0) -> int:
    """Until every replica learned the whole topic; returns the offset they reached."""
    deadline = time.monotonic() + timeout_s
    while True:
        stats = [httpx.get(f"{r.url}/v1/stats", timeout=10).json() for r in replicas]
        head = max(s["log_offset"] for s in stats)
        if all(s["learned_offset"] == head for s in stats):
            return int(head)
        assert time.monotonic() < deadline, f"replicas did not catch up: {stats}"
        time.sleep(0.1)


def test_a_write_on_one_replica_is_read_on_another_with_its_token(
        cluster: dict[str, Any]) -> None:
    first, second, third = cluster["replicas"]
    events = [{"event_id": f"ryw-{n}", "user_id": "reader", "item_id": f"book-{n}",
               "type": "view"} for n in range(3)]
    written = httpx.post(f"{first.url}/v1/events", json={"events": events}, timeout=30)
    assert written.status_code == 200, written.text
    token = written.json()["token"]
    for replica in (second, third):
        read = httpx.get(f"{replica.url}/v1/users/reader/export",
                         headers={"X-Consistency-Token": token}, timeout=30)
        assert read.status_code == 200, read.text
        stats = httpx.get(f"{replica.url}/v1/stats", params={"consistency_token": token},
                          timeout=30).json()
        assert stats["learned_offset"] >= written.json()["last_offset"]
        recommended = httpx.get(f"{replica.url}/v1/users/reader/recommendations",
                                headers={"X-Consistency-Token": token}, timeout=30).json()
        # what the reader saw is theirs there too: excluded as seen
        assert not {i["item_id"] for i in recommended["items"]} & {e["item_id"] for e in events}
    # the same events sent again to another replica are duplicates there as well
    again = httpx.post(f"{third.url}/v1/events", json={"events": events}, timeout=30).json()
    assert (again["accepted"], again["duplicates"]) == (0, 3)


def test_a_token_not_yet_applied_answers_503_and_a_garbled_one_422(
        cluster: dict[str, Any]) -> None:
    replica = cluster["replicas"][1]
    ahead = httpx.get(f"{replica.url}/v1/stats", headers={"X-Consistency-Token": "o99999999"},
                      timeout=30)
    assert ahead.status_code == 503 and int(ahead.headers["Retry-After"]) >= 1
    garbled = httpx.get(f"{replica.url}/v1/stats", headers={"X-Consistency-Token": "yesterday"},
                        timeout=30)
    assert garbled.status_code == 422
    assert garbled.json()["error"]["field"] == "X-Consistency-Token"


def test_paging_and_feedback_work_across_replicas_through_redis(
        cluster: dict[str, Any], tmp_path: Path) -> None:
    first, second, third = cluster["replicas"]
    seed = [{"user_id": f"fan{n}", "item_id": f"song-{m}", "type": "view"}
            for n in range(6) for m in range(12) if (n + m) % 3]
    token = httpx.post(f"{first.url}/v1/events", json={"events": seed},
                       timeout=30).json()["token"]
    read = {"X-Consistency-Token": token}
    shown = httpx.get(f"{first.url}/v1/users/listener/recommendations", params={"k": 3},
                      headers=read, timeout=30).json()
    assert len(shown["items"]) == 3
    # the next page, on another replica, continues the list the first one showed
    following = httpx.get(f"{second.url}/v1/users/listener/recommendations", headers=read,
                          params={"k": 3, "after": shown["recommendation_id"]}, timeout=30)
    assert following.status_code == 200, following.text
    assert not {i["item_id"] for i in following.json()["items"]} & {
        i["item_id"] for i in shown["items"]}
    # feedback on the first list, sent to the third replica, is logged with what was shown
    clicked = shown["items"][1]["item_id"]
    feedback = httpx.post(f"{third.url}/v1/events", timeout=30, json={"events": [
        {"event_id": "fb-1", "user_id": "listener", "item_id": clicked, "type": "click",
         "context": {"recommendation_id": shown["recommendation_id"]}}]})
    assert feedback.status_code == 200, feedback.text
    event_log = open_event_log(cluster["settings"](tmp_path / "reader"))
    try:
        logged = next(e.event for e in event_log.read(0, 10**6) if e.event.event_id == "fb-1")
    finally:
        event_log.close()
    assert (logged.context or {}).get("$shown") == [i["item_id"] for i in shown["items"]]


def restart(replica: Any, patience_s: float = 300.0) -> None:
    """Start again; a replay of the topic on a busy machine may take longer than the
    harness's start deadline, so a replica still starting is given ``patience_s`` more."""
    try:
        replica.start()
    except RuntimeError:
        if not replica.is_running:
            raise
        deadline = time.monotonic() + patience_s
        while True:
            try:
                if httpx.get(f"{replica.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert replica.is_running, replica.output()
            assert time.monotonic() < deadline, replica.output()
            time.sleep(0.2)


class Traffic:
    def __init__(self) -> None:
        self.sent: list[list[dict[str, Any]]] = []
        self.acknowledged: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()


def writer(replicas: list[Any], number: int, traffic: Traffic, stop: threading.Event) -> None:
    """Batches to the replicas in turn; one refused or cut off goes, the same, to the next."""
    rng = random.Random(number)
    with httpx.Client(timeout=15.0) as client:
        for n in range(10**6):
            if stop.is_set():
                return
            user = f"u{rng.randrange(40)}"
            batch = [{"event_id": f"w{number}-{n}-{m}", "user_id": user,
                      "item_id": f"{rng.choice('abcd')}{rng.randrange(20)}",
                      "type": rng.choice(["view", "view", "click", "cart"])} for m in range(3)]
            with traffic.lock:
                traffic.sent.append(batch)
            for attempt in range(len(replicas) * 3):
                if stop.is_set() and attempt:
                    return
                replica = replicas[(n + attempt) % len(replicas)]
                try:
                    response = client.post(f"{replica.url}/v1/events", json={"events": batch})
                except httpx.TransportError:
                    time.sleep(0.05)
                    continue
                if response.status_code == 200:
                    with traffic.lock:
                        traffic.acknowledged.update((e["event_id"], e) for e in batch)
                    break
                time.sleep(0.05)


def test_writers_go_on_while_a_replica_is_killed_and_every_replica_equals_a_replay(
        cluster: dict[str, Any], tmp_path: Path) -> None:
    replicas = cluster["replicas"]
    rng = random.Random(17)
    traffic = Traffic()
    stop = threading.Event()
    workers = [threading.Thread(target=writer, args=(replicas, n, traffic, stop))
               for n in range(WRITERS)]
    for worker in workers:
        worker.start()
    try:
        for _ in range(ROUNDS):
            victim = replicas[rng.randrange(len(replicas))]
            target = len(traffic.acknowledged) + rng.randrange(100, 300)
            deadline = time.monotonic() + 120
            while len(traffic.acknowledged) < target:
                assert time.monotonic() < deadline, "the writers got too few acknowledgements"
                time.sleep(0.01)
            victim.kill()  # SIGKILL, writers still posting to it
            time.sleep(rng.uniform(0.1, 0.5))
            restart(victim)  # its snapshot, then the topic's tail
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    head = wait_caught_up(replicas)
    for replica in replicas:
        assert replica.stop(grace_s=120) == 0  # SIGTERM: a final snapshot at the head
    event_log = open_event_log(cluster["settings"](tmp_path / "reader"))
    try:
        logged = [entry.event for entry in event_log.read(0, 10**7)]
        ids = [e.event_id for e in logged if e.event_id is not None]
        assert len(ids) == len(set(ids)), "an event was stored twice"
        missing = set(traffic.acknowledged) - set(ids)
        assert not missing, f"{len(missing)} acknowledged events lost: {sorted(missing)[:3]}"
        stored = set(ids)
        for batch in traffic.sent:  # a request is one record: whole or absent
            assert sum(e["event_id"] in stored for e in batch) in (0, len(batch))
        assert len(traffic.acknowledged) >= ROUNDS * 100
        for replica in replicas:
            # each replica's final state is a replay of the topic as far as it read: at least
            # to the head every replica had learned once the writers stopped (a refit's
            # begin and end, appended by the leader after that, may follow it or not)
            settings = cluster["settings"](replica.data_dir)
            snapshot = SnapshotStore(settings.snapshot_dir).load_latest()
            assert snapshot is not None and head <= snapshot.offset <= event_log.last_offset()
            fresh = rebuild_state(settings, event_log, through=snapshot.offset)
            assert fresh.offset == snapshot.offset
            assert_same_state(restored_state(settings, snapshot), fresh)
    finally:
        event_log.close()


LEADER_ENV = {
    # refits frequent and slow enough to be killed in the middle of one
    "STREAMREC_MODELS__ALS__FACTORS": "64",
    "STREAMREC_MODELS__ALS__ITERATIONS": "60",
    "STREAMREC_MODELS__ALS__REFIT_MIN_EVENTS": "300",
    "STREAMREC_MODELS__ALS__REFIT_GROWTH": "0.2",
    "STREAMREC_MODELS__TRAINER_POLL_S": "0.05",
    "STREAMREC_REPLICAS__REFIT_LEASE_S": "3",
}


def leaders(replicas: list[Any]) -> list[Any]:
    return [r for r in replicas if r.is_running and
            httpx.get(f"{r.url}/v1/stats", timeout=10).json()["refit_leader"]]


def test_the_refit_leader_killed_mid_refit_another_takes_over(
        kafka_broker: Any, redis_url: str, start_server: Any, tmp_path: Path) -> None:
    env = {**cluster_env(kafka_broker, redis_url), **LEADER_ENV,
           "STREAMREC_REPLICAS__SHARED_DIR": str(tmp_path / "shared")}
    replicas = [start_server(env=env) for _ in range(3)]
    assert len(leaders(replicas)) == 1  # one lease, one leader
    reader = open_event_log(Settings(
        data_dir=tmp_path / "reader", storage={"log_url": env["STREAMREC_STORAGE__LOG"]},
        replicas={"redis_url": env["STREAMREC_REPLICAS__REDIS_URL"],
                  "redis_prefix": env["STREAMREC_REPLICAS__REDIS_PREFIX"]},
        trust={"pseudonym_secret": SECRET}))
    rng = random.Random(3)
    try:
        seen: list[Any] = []
        killed, begin = None, None
        for _ in range(6):
            (leader,) = leaders(replicas)
            writer_replica = next(r for r in replicas if r is not leader and r.is_running)
            deadline = time.monotonic() + 120
            begin = None
            while begin is None:  # write until a refit is begun and not yet ended
                assert time.monotonic() < deadline, "no refit was begun"
                batch = [{"user_id": f"u{rng.randrange(300)}", "item_id": f"i{rng.randrange(200)}",
                          "type": "view"} for _ in range(100)]
                httpx.post(f"{writer_replica.url}/v1/events", json={"events": batch},
                           timeout=30).raise_for_status()
                seen.extend(reader.read(seen[-1].offset if seen else 0, 10**6))
                ended = {int((e.event.context or {})["begin"]) for e in seen
                         if e.event.type == END_TYPE}
                open_begins = [e.offset for e in seen
                               if e.event.type == BEGIN_TYPE and e.offset not in ended]
                begin = open_begins[-1] if open_begins else None
            leader.kill()  # mid-refit, with luck: checked below
            killed = leader
            time.sleep(1.0)  # the lease (3 s) cannot have passed to another yet
            seen.extend(reader.read(seen[-1].offset, 10**6))
            if not any(e.event.type == END_TYPE and (e.event.context or {})["begin"] == begin
                       for e in seen):
                break  # killed before its end: the case under test
            leader.start()  # it ended the fit before dying: try the next refit
        else:
            pytest.fail("the leader finished every refit before it could be killed")
        survivors = [r for r in replicas if r is not killed]
        deadline = time.monotonic() + 90
        while not any(e.event.type == END_TYPE and (e.event.context or {})["begin"] == begin
                      for e in seen):
            assert time.monotonic() < deadline, "no replica ended the dead leader's refit"
            reader.wait_for(seen[-1].offset, 1.0)
            seen.extend(reader.read(seen[-1].offset, 10**6))
        (new_leader,) = leaders(survivors)
        assert new_leader is not killed
        head = wait_caught_up(survivors)
        for replica in survivors:
            assert replica.stop(grace_s=120) == 0
        for replica in survivors:  # every replica swapped in the same fit at the same place
            settings = Settings(data_dir=replica.data_dir,
                                storage={"log_url": env["STREAMREC_STORAGE__LOG"]},
                                replicas={"shared_dir": tmp_path / "shared"},
                                models={"als": {"factors": 64, "iterations": 60,
                                                "refit_min_events": 300, "refit_growth": 0.2},
                                        "sequence": {"enabled": False},
                                        "trainer_poll_s": 0.05})
            # as far as it read: the new leader may log one more refit after ``head``
            snapshot = SnapshotStore(settings.snapshot_dir).load_latest()
            assert snapshot is not None and head <= snapshot.offset <= reader.last_offset()
            fresh = rebuild_state(settings, reader, through=snapshot.offset)
            assert fresh.offset == snapshot.offset
            assert_same_state(restored_state(settings, snapshot), fresh)
        assert list((tmp_path / "shared" / "artefacts").glob("als-*.npz"))
    finally:
        reader.close()


def settled_offsets(store: SnapshotStore, quiet_s: float = 6.0,
                    most_s: float = 60.0) -> list[int]:
    """The store's snapshot offsets once no snapshot has come for ``quiet_s`` seconds."""
    offsets, since, deadline = store.offsets(), time.monotonic(), time.monotonic() + most_s
    while time.monotonic() - since < quiet_s and time.monotonic() < deadline:
        time.sleep(0.5)
        if (now := store.offsets()) != offsets:
            offsets, since = now, time.monotonic()
    return offsets


def test_a_new_replica_starts_from_the_newest_shared_snapshot_which_an_erasure_deletes(
        kafka_broker: Any, redis_url: str, start_server: Any, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    env = {**cluster_env(kafka_broker, redis_url), "STREAMREC_REPLICAS__SHARED_DIR": str(shared),
           "STREAMREC_SNAPSHOTS__EVERY_EVENTS": "200"}
    first, second = start_server(env=env), start_server(env=env)
    rng = random.Random(5)
    deadline = time.monotonic() + 120
    while not list((shared / "snapshots").glob("snapshot-*")):  # the leader shares its own
        assert time.monotonic() < deadline, "the refit leader shared no snapshot"
        batch = [{"user_id": f"u{rng.randrange(50)}", "item_id": f"i{rng.randrange(80)}",
                  "type": "view"} for _ in range(100)]
        httpx.post(f"{first.url}/v1/events", json={"events": batch}, timeout=30
                   ).raise_for_status()
    # a tail the newest shared snapshot lacks: the learner may take the tail in one step with
    # the last batch and snapshot both, so a tail is added until a snapshot is older than it
    shared_store = SnapshotStore(shared / "snapshots")
    for attempt in range(5):
        tail = [{"user_id": "late", "item_id": f"i{attempt}-{n}", "type": "view"}
                for n in range(5)]
        httpx.post(f"{second.url}/v1/events", json={"events": tail}, timeout=30
                   ).raise_for_status()
        written = wait_caught_up([first, second])
        # a snapshot due at the tail is written after max_busy_share's deferral, which grows
        # with the last write's time (longer on a busy machine, at the writer's niceness):
        # the shared snapshots are read once they have stopped changing
        if max(settled_offsets(shared_store)) < written:
            break
    else:
        pytest.fail(f"every tail was in a shared snapshot: {shared_store.offsets()}")
    newcomer = start_server(env=env)  # an empty data dir of its own
    head = wait_caught_up([first, second, newcomer])
    output = newcomer.output()
    restored = [int(line.rsplit(" ", 1)[1]) for line in output.splitlines()
                if "restored snapshot at offset" in line]
    assert restored and 0 < restored[0] < head, output
    stats = [httpx.get(f"{r.url}/v1/stats", timeout=10).json() for r in (first, newcomer)]
    assert [(s["users"], s["items"], s["learned_events"]) for s in stats] == [
        (stats[0]["users"], stats[0]["items"], stats[0]["learned_events"])] * 2

    # an erasure deletes the shared snapshots too, each holding the erased user's history,
    # on whichever replica it is asked of: none from before it is left once all learned it
    erased = httpx.delete(f"{newcomer.url}/v1/users/late", timeout=120)
    assert erased.status_code == 200, erased.text
    wait_caught_up([first, second, newcomer])
    left = settled_offsets(shared_store)
    assert all(offset > head for offset in left), (head, left)
