"""An A/B test over real HTTP: two variants, simulated users whose clicks favour one, the
API naming the better variant with an interval that excludes zero; the same assignments
from a replay of the log; start and stop audited; bad input refused naming the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from streamrec_client import Client

from streamrec.engine.engine import open_event_log
from streamrec.engine.replay import rebuild_state
from streamrec.experiments.exposures import SqliteCounts
from streamrec.settings import Settings

pytestmark = pytest.mark.integration

USERS = [f"shopper{n}" for n in range(400)]
CLICK_RATE = {"control": 0.15, "diverse": 0.30}  # the simulated users prefer "diverse"
EXPERIMENT = {
    "name": "diversity-test", "goal": "click",
    "description": "two per category against the engine's lists",
    "variants": [
        {"name": "control"},
        {"name": "diverse", "overrides": {"serving.max_per_category": 2,
                                          "models.hybrid.hedge.learning_rate": 2.0}},
    ],
}


def view(user_id: str, item_id: str) -> dict[str, Any]:
    return {"user_id": user_id, "item_id": item_id, "type": "view"}


@pytest.fixture(scope="module")
def shop(base_url: str) -> str:
    """A catalogue in three categories and users who browsed it."""
    items = [{"item_id": f"{c}{n}", "attributes": {"category": c}}
             for c in ("coats", "shoes", "bags") for n in range(8)]
    with httpx.Client(base_url=base_url, timeout=60) as client:
        assert client.post("/v1/items", json={"items": items}).status_code == 200
        rng = np.random.default_rng(3)
        events = [view(user, items[int(i)]["item_id"])
                  for user in USERS for i in rng.choice(len(items), size=3, replace=False)]
        response = client.post("/v1/events", json={"events": events})
        assert response.status_code == 200, response.text
    return base_url


def simulate(client: httpx.Client) -> dict[str, str]:
    """Every user gets a list and clicks its first item at their variant's rate; returns
    each user's variant as the API said it."""
    rng = np.random.default_rng(42)
    variants, clicks = {}, []
    for user in USERS:
        response = client.get(f"/v1/users/{user}/recommendations", params={"k": 6})
        assert response.status_code == 200, response.text
        found = response.json()
        assert found["experiment"] == "diversity-test"
        variants[user] = found["variant"]
        if rng.random() < CLICK_RATE[found["variant"]]:
            clicks.append({"user_id": user, "item_id": found["items"][0]["item_id"],
                           "type": "click",
                           "context": {"recommendation_id": found["recommendation_id"]}})
    response = client.post("/v1/events", json={"events": clicks})
    assert response.status_code == 200, response.text
    return variants


def test_the_api_names_the_better_variant_and_a_replay_assigns_the_same(
        shop: str, client: httpx.Client, server: Any) -> None:
    started = client.post("/v1/experiments", json=EXPERIMENT)
    assert started.status_code == 201, started.text
    assert started.json()["status"] == "running"
    assert started.json()["verdict"] == "no impressions yet"

    variants = simulate(client)
    assert set(variants.values()) == {"control", "diverse"}

    listed = client.get("/v1/experiments")
    assert listed.status_code == 200, listed.text
    report = next(e for e in listed.json()["experiments"] if e["name"] == "diversity-test")
    control, diverse = report["variants"]
    assert control["users"] + diverse["users"] == len(USERS)
    assert diverse["impressions"] == sum(v == "diverse" for v in variants.values())
    assert diverse["ctr"] > control["ctr"]
    assert diverse["vs_control"]["ci_low"] > 0, report  # the interval excludes zero
    assert report["winner"] == "diverse"
    assert report["verdict"].startswith("diverse beats control on clicks by +"), report
    assert client.get("/v1/experiments/diversity-test").json() == report

    # the Python client reads the variant too
    with Client(shop) as typed:
        assert typed.recommendations(USERS[0]).variant == variants[USERS[0]]

    stopped = client.post("/v1/experiments/diversity-test/stop")
    assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
    after = client.get(f"/v1/users/{USERS[0]}/recommendations").json()
    assert "variant" not in after and "experiment" not in after

    # a fresh replay of the server's log assigns every user as the server did
    settings = Settings(data_dir=server.data_dir)
    replayed = rebuild_state(settings, open_event_log(settings))
    experiment = replayed.experiments.get("diversity-test")
    assert experiment is not None and not experiment.is_running
    assert {user: experiment.definition.variants[experiment.variant_of(user)].name
            for user in USERS} == variants
    counts = SqliteCounts(Path(server.data_dir) / "experiments.db")
    assert counts.assignments("diversity-test") == variants
    counts.close()

    audit = client.get("/v1/admin/audit").json()["entries"]
    actions = [(e["action"], e["target"]) for e in audit]
    assert ("experiment.start", "experiment:diversity-test") in actions
    assert ("experiment.stop", "experiment:diversity-test") in actions


@pytest.mark.parametrize(("body", "field"), [
    ({**EXPERIMENT, "name": "x", "variants": [{"name": "A"}, {"name": "B", "overrides": {
        "models.hybrid.nonsense": 1}}]}, "variants[1].overrides.models.hybrid.nonsense"),
    ({**EXPERIMENT, "name": "x", "variants": [{"name": "A"}, {"name": "B", "overrides": {
        "models.als.factors": 4}}]}, "variants[1].overrides.models.als.factors"),
    ({**EXPERIMENT, "name": "x", "variants": [{"name": "A"}, {"name": "A"}]},
     "variants[1].name"),
    ({**EXPERIMENT, "name": "x", "variants": [{"name": "A"}]}, "variants"),
    ({**EXPERIMENT, "name": "x", "variants": [{"name": "A"}, {"name": "B", "weight": -1}]},
     "variants[1].weight"),
    ({**EXPERIMENT, "name": "x", "goal": "teleport"}, "goal"),
    ({**EXPERIMENT, "name": "no spaces"}, "name"),
    ({**EXPERIMENT, "name": "x", "colour": "red"}, "colour"),
])
def test_bad_input_is_refused_naming_the_field(shop: str, client: httpx.Client,
                                               body: dict[str, Any], field: str) -> None:
    response = client.post("/v1/experiments", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field, response.text
    assert client.get("/v1/experiments/x").status_code == 404


def test_an_unknown_experiment_is_404_naming_it(client: httpx.Client) -> None:
    for response in (client.get("/v1/experiments/nosuch"),
                     client.post("/v1/experiments/nosuch/stop")):
        assert response.status_code == 404, response.text
        assert response.json()["error"]["field"] == "name"


def test_the_command_line_starts_lists_and_stops_on_a_data_dir_and_through_a_server(
        tmp_path: Path, start_server: Any, streamrec_cli: Any) -> None:
    data_dir = tmp_path / "data"
    created = streamrec_cli(["experiments", "create", "cli-test", "--variant", "A",
                             "--variant", "B=3", "--override",
                             'B:models.hybrid.disabled_sources=["cooccurrence"]',
                             "--data-dir", str(data_dir)], cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert "started cli-test" in created.stdout
    listed = streamrec_cli(["experiments", "list", "--json", "--data-dir", str(data_dir)],
                           cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    (report,) = json.loads(listed.stdout)["experiments"]
    assert report["status"] == "running" and report["variants"][1]["weight"] == 3.0

    server = start_server(data_dir=data_dir)  # the logged start is running there
    with httpx.Client(base_url=server.url, timeout=30) as client:
        found = client.get("/v1/users/someone/recommendations").json()
        assert (found["experiment"], found["variant"] in ("A", "B")) == ("cli-test", True)
        refused = streamrec_cli(["experiments", "create", "second", "--variant", "A",
                                 "--url", server.url], cwd=tmp_path)
        streamrec_cli.assert_refused(refused, "variants")
        stopped = streamrec_cli(["experiments", "stop", "cli-test", "--url", server.url],
                                cwd=tmp_path)
        assert stopped.returncode == 0, stopped.stderr
        shown = streamrec_cli(["experiments", "show", "cli-test", "--url", server.url],
                              cwd=tmp_path)
        assert shown.returncode == 0 and "[stopped]" in shown.stdout, shown.stderr
        actions = [e["action"] for e in client.get("/v1/admin/audit").json()["entries"]]
        assert actions[:2] == ["experiment.stop", "experiment.start"]

        # with keys: reading needs read, starting needs admin
        keys = {scope: streamrec_cli(["keys", "create", "--scope", scope, "--data-dir",
                                      str(data_dir)], cwd=tmp_path).stdout.strip()
                for scope in ("read", "admin")}
        body = {"name": "keyed", "variants": [{"name": "A"}, {"name": "B"}]}
        as_reader = {"Authorization": f"Bearer {keys['read']}"}
        assert client.get("/v1/experiments", headers=as_reader).status_code == 200
        assert client.post("/v1/experiments", json=body, headers=as_reader).status_code == 403
        refused = streamrec_cli(["experiments", "create", "keyed", "--variant", "A",
                                 "--variant", "B", "--url", server.url, "--api-key",
                                 keys["read"]], cwd=tmp_path)
        streamrec_cli.assert_refused(refused, "'admin'")
        allowed = streamrec_cli(["experiments", "create", "keyed", "--variant", "A",
                                 "--variant", "B", "--url", server.url], cwd=tmp_path,
                                env={"STREAMREC_API_KEY": keys["admin"]})
        assert allowed.returncode == 0, allowed.stderr
