"""Everything a server learned is in its log: events, item upserts and availability changes,
a refit and an erasure, all mid-stream over HTTP; after a restart with the snapshots deleted
(a full replay of the log), every user's list, scores and reasons are what they were."""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Callable
from typing import Any

import pytest

from streamrec.engine.engine import open_event_log
from streamrec.engine.erasures import ERASE_TYPE
from streamrec.engine.item_changes import ITEMS_TYPE
from streamrec.engine.refits import END_TYPE
from streamrec.settings import Settings

pytestmark = pytest.mark.integration

# one refit, mid-stream (logged, with its artefact), and no other: a refit the trainer began
# after the lists were read would change them before the stop, and the test would be racy
ONE_REFIT = {"STREAMREC_MODELS__ALS__FACTORS": "8", "STREAMREC_MODELS__ALS__ITERATIONS": "4",
             "STREAMREC_MODELS__ALS__REFIT_MIN_EVENTS": "40",
             "STREAMREC_MODELS__ALS__REFIT_GROWTH": "1000",
             "STREAMREC_MODELS__TRAINER_POLL_S": "0.02"}
USERS = [f"user{n}" for n in range(8)]
ERASED = "user3"
ITEMS = [f"item{n}" for n in range(20)]


def shop(api: Any, rng: random.Random, rounds: int) -> None:
    """Views, clicks and purchases, one small request at a time, as clients send them."""
    for _ in range(rounds):
        user = rng.choice(USERS)
        events = [api.event(user, rng.choice(ITEMS[: 8 + USERS.index(user)]),
                            rng.choice(["view", "view", "click", "purchase"]))
                  for _ in range(rng.randint(1, 3))]
        assert api.post_events(events).status_code == 200


def upsert(api: Any, rng: random.Random, first: int) -> None:
    """New items with attributes and text, and attributes of known ones changed."""
    items = [{"item_id": f"item{n}", "attributes": {"category": rng.choice(["hats", "shoes"])},
              "text": rng.choice(["red wool hat", "blue suede shoe", "green scarf"])}
             for n in range(first, first + 4)]
    response = api.client.post("/v1/items", json={"items": items})
    assert response.status_code == 200, response.text


def flip(api: Any, item_id: str, available: bool) -> None:
    response = api.client.put(f"/v1/items/{item_id}", json={"available": available})
    assert response.status_code == 200, response.text


def wait_for_a_refit(api: Any) -> None:
    deadline = time.monotonic() + 120  # only bounds a failure: a refit takes milliseconds
    while api.stats()["refits"] < 1:
        assert time.monotonic() < deadline, "no refit began"
        time.sleep(0.05)


def lists(api: Any) -> dict[str, list[tuple[str, float, list[str]]]]:
    found = {}
    for user in [*USERS, "stranger"]:
        response = api.recommend(user, 8)
        assert response.status_code == 200, response.text
        found[user] = [(i["item_id"], i["score"], i["reasons"]) for i in response.json()["items"]]
    return found


def test_a_full_replay_after_items_refits_and_an_erasure_serves_the_same_lists(
    start_server: Any, connect: Callable[[Any], Any],
) -> None:
    rng = random.Random(15)
    server = start_server(env=ONE_REFIT)
    api = connect(server)
    upsert(api, rng, 0)
    shop(api, rng, 40)
    wait_for_a_refit(api)
    upsert(api, rng, 4)  # new items and changed ones, mid-stream
    flip(api, "item2", False)
    shop(api, rng, 40)
    erased = api.client.delete(f"/v1/users/{ERASED}")
    assert erased.status_code == 200 and erased.json()["erased_events"] > 0, erased.text
    shop(api, rng, 30)
    upsert(api, rng, 16)
    flip(api, "item2", True)
    flip(api, "item5", False)
    shop(api, rng, 30)
    before = lists(api)
    assert before[ERASED] == lists(api)[ERASED]
    server.stop()

    event_log = open_event_log(Settings(data_dir=server.data_dir))
    try:
        types = [entry.event.type for entry in event_log.read(0, 10**6)]
    finally:
        event_log.close()
    # the run did what the test is about, all of it in the log
    assert types.count(ITEMS_TYPE) == 6 and types.count(ERASE_TYPE) == 1
    assert types.count(END_TYPE) == 1

    shutil.rmtree(server.data_dir / "snapshots")  # a full replay of the log
    server.start()
    assert "restored snapshot" not in server.output()
    assert lists(connect(server)) == before
