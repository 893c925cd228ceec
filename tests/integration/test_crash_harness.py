"""The crash harness: clients post events (and feedback on lists they were shown) while the
server is SIGKILLed at random moments, round after round. After each restart every
acknowledged event is in the log exactly once, and what the server learned, recovered from
its last snapshot plus the log, equals a fresh replay of the whole log.

Refits are made frequent and snapshots too, so kills land before, during and after both.
``STREAMREC_CRASH_ROUNDS`` sets the number of rounds (default 5).
"""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from streamrec.engine.engine import open_event_log
from streamrec.engine.refits import BEGIN_TYPE, END_TYPE
from streamrec.engine.replay import assert_same_state, rebuild_state, restored_state
from streamrec.settings import Settings, SnapshotSettings
from streamrec.storage.base import open_catalogue
from streamrec.storage.snapshots import SnapshotStore

pytestmark = pytest.mark.integration

ROUNDS = int(os.environ.get("STREAMREC_CRASH_ROUNDS", "5"))
MODELS: dict[str, Any] = {"als": {"factors": 8, "iterations": 4, "refit_min_events": 200,
                                  "refit_growth": 0.3}, "trainer_poll_s": 0.05}
SNAPSHOT_EVERY = 250
SERVER_ENV = {
    "STREAMREC_MODELS__ALS__FACTORS": "8",
    "STREAMREC_MODELS__ALS__ITERATIONS": "4",
    "STREAMREC_MODELS__ALS__REFIT_MIN_EVENTS": "200",
    "STREAMREC_MODELS__ALS__REFIT_GROWTH": "0.3",
    "STREAMREC_MODELS__TRAINER_POLL_S": "0.05",
    "STREAMREC_SNAPSHOTS__EVERY_EVENTS": str(SNAPSHOT_EVERY),
    "STREAMREC_SERVING__RATE_LIMIT__PER_SECOND": "0",
}


class Traffic:
    """Every request sent, and the events of those acknowledged with 200."""

    def __init__(self) -> None:
        self.sent: list[list[dict[str, Any]]] = []
        self.acknowledged: dict[str, dict[str, Any]] = {}
        self.feedback = 0
        self.lock = threading.Lock()

    def count(self) -> int:
        with self.lock:
            return len(self.acknowledged)


def shop(url: str, round_: int, worker: int, traffic: Traffic, stop: threading.Event) -> None:
    """Views and clicks within a few tastes; every third request first asks for a list and
    clicks on it (feedback); some dislikes. Runs until stopped or the server is gone."""
    rng = random.Random(round_ * 100 + worker)
    with httpx.Client(base_url=url, timeout=10.0) as client:
        for n in range(10**6):
            if stop.is_set():
                return
            user, taste = f"u{rng.randrange(30)}", rng.choice("abcd")
            batch = [{"event_id": f"r{round_}-w{worker}-{n}-{m}", "user_id": user,
                      "item_id": f"{taste}{rng.randrange(15)}",
                      "type": rng.choice(["view", "view", "click", "cart"])} for m in range(3)]
            if n % 7 == 6:
                batch.append({"event_id": f"r{round_}-w{worker}-{n}-no", "user_id": user,
                              "item_id": f"{taste}{rng.randrange(15)}", "type": "dislike"})
            try:
                if n % 3 == 2:
                    shown = client.get(f"/v1/users/{user}/recommendations", params={"k": 5})
                    items = shown.json().get("items", []) if shown.status_code == 200 else []
                    if items:
                        batch.append({"event_id": f"r{round_}-w{worker}-{n}-fb",
                                      "user_id": user, "item_id": items[-1]["item_id"],
                                      "type": "click", "context": {
                                          "recommendation_id": shown.json()["recommendation_id"]}})
                with traffic.lock:
                    traffic.sent.append(batch)
                response = client.post("/v1/events", json={"events": batch})
            except httpx.TransportError:
                continue  # killed mid-request, or not up yet: nothing acknowledged
            if response.status_code == 200:
                with traffic.lock:
                    traffic.acknowledged.update((e["event_id"], e) for e in batch)


def run_until_killed(server: Any, round_: int, traffic: Traffic, kill_after: int) -> None:
    stop = threading.Event()
    workers = [threading.Thread(target=shop, args=(server.url, round_, w, traffic, stop))
               for w in range(3)]
    for worker in workers:
        worker.start()
    target, deadline = traffic.count() + kill_after, time.monotonic() + 120.0
    try:
        while traffic.count() < target:
            assert time.monotonic() < deadline, "the clients got too few acknowledgements"
            time.sleep(0.005)
        server.kill()  # SIGKILL with the clients still posting
    finally:
        stop.set()
        for worker in workers:
            worker.join()


def settings_of(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, models=MODELS,
                    snapshots=SnapshotSettings(every_events=SNAPSHOT_EVERY))


def check_log_and_state(data_dir: Path, traffic: Traffic) -> list[str]:
    """With the server stopped: acknowledged events once each, requests whole or absent, and
    the final snapshot equal to a fresh replay. Returns the log's event types."""
    settings = settings_of(data_dir)
    event_log = open_event_log(settings)
    catalogue = open_catalogue(settings.catalogue_url)
    try:
        logged = [entry.event for entry in event_log.read(0, 10**7)]
        fresh = rebuild_state(settings, event_log)
    finally:
        event_log.close()
        catalogue.close()
    ids = [e.event_id for e in logged if e.event_id is not None]
    assert len(ids) == len(set(ids)), "an event was stored twice"
    stored = set(ids)
    missing = set(traffic.acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:3]}"
    for batch in traffic.sent:
        assert sum(e["event_id"] in stored for e in batch) in (0, len(batch)), "a torn request"
    snapshot = SnapshotStore(settings.snapshot_dir).load_latest()
    assert snapshot is not None and snapshot.offset == fresh.offset
    assert_same_state(restored_state(settings, snapshot), fresh)
    return [e.type for e in logged]


def test_sigkill_at_random_moments_loses_nothing_and_recovers_the_replayed_state(
    start_server: Any
) -> None:
    rng = random.Random(20261123)
    server = start_server(env=SERVER_ENV)
    traffic = Traffic()
    types: list[str] = []
    for round_ in range(ROUNDS):
        run_until_killed(server, round_, traffic, kill_after=rng.randrange(60, 600))
        server.start()  # recovers: the last snapshot, then the log after it
        server.stop()  # SIGTERM: ends the refits computed, writes a final snapshot
        types = check_log_and_state(server.data_dir, traffic)
        server.start()
    server.stop()
    # the rounds did what the harness is about: refits begun and ended mid-stream, and
    # feedback on shown lists logged with the list
    assert types.count(BEGIN_TYPE) >= 2 and types.count(END_TYPE) >= 2
    event_log = open_event_log(settings_of(server.data_dir))
    try:
        assert any((e.event.context or {}).get("$shown") for e in event_log.read(0, 10**7))
    finally:
        event_log.close()
