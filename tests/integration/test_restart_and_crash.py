"""Stopping and killing the server: what was acknowledged is never lost, nor stored twice."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from streamrec.engine.engine import open_event_log
from streamrec.settings import Settings
from streamrec.storage.snapshots import SnapshotStore

pytestmark = pytest.mark.integration

USERS = ["reader", "ua0", "ub1", "stranger"]


def world(api: Any) -> None:
    """Two groups of items engaged with together and a hit, posted one event per request as
    many clients do (so that the live learner sees them one at a time)."""
    events = [api.event(f"u{group}{n}", f"{group}{item}")
              for group in "ab" for n in range(4) for item in range(1, 5)]
    events += [api.event(f"fan{n}", "pop") for n in range(10)]
    events += [api.event("reader", "a1"), api.event("reader", "b2", "purchase")]
    for sent in events:
        assert api.post_events([sent]).status_code == 200
    items = [{"item_id": "a3", "available": False}, {"item_id": "c1", "text": "new"}]
    assert api.client.post("/v1/items", json={"items": items}).status_code == 200


def observed(api: Any) -> tuple[dict[str, list[tuple[str, float]]], dict[str, int]]:
    recommendations = {}
    for user_id in USERS:
        response = api.recommend(user_id, 6)
        assert response.status_code == 200, response.text
        recommendations[user_id] = [(i["item_id"], i["score"]) for i in response.json()["items"]]
    stats = api.stats()
    counts = {key: stats[key] for key in ("events", "users", "items", "catalogue_items",
                                          "log_offset", "learned_events")}
    return recommendations, counts


def test_a_restart_gives_the_same_recommendations_and_counts(
    start_server: Any, connect: Callable[[Any], Any]
) -> None:
    server = start_server()
    world(connect(server))
    before = observed(connect(server))
    server.stop()
    server.start()
    assert observed(connect(server)) == before


def test_sigterm_writes_a_final_snapshot_of_everything_learned(
    start_server: Any, connect: Callable[[Any], Any]
) -> None:
    # Engine.close() promises a final snapshot; `serve` calls it when uvicorn returns
    server = start_server()
    api = connect(server)
    world(api)
    head = api.stats()["log_offset"]
    server.stop()
    snapshot = SnapshotStore(server.data_dir / "snapshots").load_latest()
    assert snapshot is not None, "no snapshot after a graceful stop"
    assert snapshot.offset == head


@dataclass
class Traffic:
    """What the clients sent, and which requests the server acknowledged (200)."""

    sent: list[list[dict[str, Any]]] = field(default_factory=list)
    acknowledged: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def acknowledged_count(self) -> int:
        with self.lock:
            return len(self.acknowledged)


def post_until_stopped(url: str, round_: int, worker: int, traffic: Traffic,
                       stop: threading.Event) -> None:
    with httpx.Client(base_url=url, timeout=30.0) as client:
        for request in range(1_000_000):
            if stop.is_set():
                return
            batch = [{"event_id": f"r{round_}-w{worker}-{request}-{n}",
                      "user_id": f"w{worker}-user{request % 5}",
                      "item_id": f"item{(request * 4 + n) % 40}", "type": "click"}
                     for n in range(4)]
            with traffic.lock:
                traffic.sent.append(batch)
            try:
                response = client.post("/v1/events", json={"events": batch})
            except httpx.TransportError:
                continue  # killed mid-request, or not up: not acknowledged
            if response.status_code == 200:
                with traffic.lock:
                    traffic.acknowledged.update((e["event_id"], e) for e in batch)


def run_and_kill(server: Any, round_: int, traffic: Traffic, clients: int = 4,
                 acknowledged_before_kill: int = 300) -> None:
    stop = threading.Event()
    workers = [threading.Thread(target=post_until_stopped,
                                args=(server.url, round_, n, traffic, stop))
               for n in range(clients)]
    for worker in workers:
        worker.start()
    target = traffic.acknowledged_count() + acknowledged_before_kill
    deadline = time.monotonic() + 60.0
    try:
        while traffic.acknowledged_count() < target:
            assert time.monotonic() < deadline, "the clients got too few acknowledgements"
            time.sleep(0.01)  # polling with a deadline
        server.kill()  # SIGKILL while the clients are still posting
    finally:
        stop.set()
        for worker in workers:
            worker.join()


def test_acknowledged_events_survive_sigkill_exactly_once(
    start_server: Any, connect: Callable[[Any], Any]
) -> None:
    server = start_server()
    traffic = Traffic()
    for round_ in range(3):
        run_and_kill(server, round_, traffic)
        server.start()
        api = connect(server)
        acknowledged = list(traffic.acknowledged.values())
        stats = api.stats()
        assert len(acknowledged) <= stats["events"] <= sum(len(b) for b in traffic.sent)
        assert stats["learned_events"] == stats["events"]
        # every acknowledged event is there: sending it again only finds duplicates
        for start in range(0, len(acknowledged), 1000):
            chunk = acknowledged[start : start + 1000]
            again = api.post_events(chunk)
            assert again.status_code == 200, again.text
            assert (again.json()["accepted"], again.json()["duplicates"]) == (0, len(chunk))
        assert api.stats()["events"] == stats["events"]
        response = api.recommend("w0-user0", 5)
        assert response.status_code == 200 and len(response.json()["items"]) == 5
    server.stop()

    log = open_event_log(Settings(data_dir=server.data_dir))
    try:
        stored = [entry.event.event_id for entry in log.read(0, 10**7)]
    finally:
        log.close()
    stored_ids = set(stored)
    assert len(stored) == len(stored_ids)  # nothing stored twice
    assert set(traffic.acknowledged) <= stored_ids
    for batch in traffic.sent:  # a request is stored whole or not at all
        assert sum(e["event_id"] in stored_ids for e in batch) in (0, len(batch))
