"""The README's walk through the API, as written, against a real ``streamrec demo``.

The curl commands are read from README.md's "A walk through the API" block (so README and
test stay in step) and sent with httpx to a demo served from a temporary data dir on a free
loopback port; each answer is checked. ``RECOMMENDATION_ID`` is the id of the list shown
last. Every command must meet exactly one check below, and every check a command: a command
added to the README needs a check here.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

pytestmark = pytest.mark.integration

README = Path(__file__).resolve().parents[2] / "README.md"
DEMO_DEADLINE_S = 400.0  # generating and learning the shop, on a busy machine


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Curl:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any | None

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.query}"


def walkthrough_commands(readme: str) -> list[Curl]:
    """The curl commands of the README's walkthrough block, comments dropped, commands that
    span lines (a quoted body, a trailing backslash) joined."""
    section = readme.split("## A walk through the API", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None, "no bash block in the walkthrough"
    commands, pending = [], ""
    for line in block.group(1).splitlines():
        pending = f"{pending}\n{line}" if pending else line
        if pending.rstrip().endswith("\\"):
            continue
        try:
            words = shlex.split(pending.replace("\\\n", " "), comments=True)
        except ValueError:  # a quote still open: the command goes on
            continue
        pending = ""
        if words:
            commands.append(parse_curl(words))
    assert not pending, f"unfinished command: {pending!r}"
    return commands


def parse_curl(words: list[str]) -> Curl:
    assert words[0] == "curl", words
    method, url, body = "GET", None, None
    rest = iter(words[1:])
    for word in rest:
        if word == "-X":
            method = next(rest)
        elif word == "-H":
            next(rest)
        elif word == "-d":
            body = json.loads(next(rest))
        elif word == "-s":
            continue
        else:
            url = word
    assert url is not None, words
    parts = urlsplit(f"http://{url}")
    assert parts.hostname == "localhost" and parts.port == 8000, url
    return Curl(method, parts.path, parse_qs(parts.query), body)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``streamrec demo`` as a user runs it (the default shop), on a free port."""
    root = tmp_path_factory.mktemp("demo")
    port = free_port()
    output = root / "demo.log"
    with open(output, "wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamrec.cli.main", "demo", "--data-dir",
             str(root / "data"), "--port", str(port)],
            env={**{k: v for k, v in os.environ.items() if not k.startswith("STREAMREC_")},
                 "OPENBLAS_NUM_THREADS": "1"}, stdout=sink, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + DEMO_DEADLINE_S
        while not _is_healthy(url):
            assert process.poll() is None, f"demo exited:\n{output.read_text()}"
            assert time.monotonic() < deadline, f"demo not up:\n{output.read_text()}"
            time.sleep(0.2)  # polling with a deadline
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _is_healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2.0).status_code == 200
    except httpx.TransportError:
        return False


class Walk:
    """What the walkthrough has shown so far, and the client that asks the demo."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.last_list: dict[str, Any] = {}  # the list shown last
        self.named: dict[str, Any] = {}  # the list RECOMMENDATION_ID stood for in the last call

    def send(self, curl: Curl) -> httpx.Response:
        query = {k: [v.replace("RECOMMENDATION_ID", self.last_list.get("recommendation_id",
                                                                        "none yet"))
                     for v in vs] for k, vs in curl.query.items()}
        body = json.loads(json.dumps(curl.body).replace(
            "RECOMMENDATION_ID", self.last_list.get("recommendation_id", "none yet")))
        response = self.client.request(curl.method, curl.path, params=query,
                                       json=body if curl.body is not None else None)
        assert response.status_code == 200, f"{curl}: {response.status_code} {response.text}"
        self.named = self.last_list
        if "json" in response.headers.get("content-type", "") and \
                "recommendation_id" in response.json():
            self.last_list = response.json()
        return response

    def attributes(self, item_id: str) -> dict[str, Any]:
        found = self.client.get(f"/v1/items/{item_id}")
        assert found.status_code == 200, found.text
        attributes: dict[str, Any] = found.json()["attributes"]
        return attributes


def ids(response: httpx.Response) -> list[str]:
    return [item["item_id"] for item in response.json()["items"]]


def reasons(response: httpx.Response) -> list[str]:
    return [reason for item in response.json()["items"] for reason in item["reasons"]]


def alices_events(walk: Walk, curl: Curl, response: httpx.Response) -> None:
    assert response.json()["accepted"] == 2 and response.json()["duplicates"] == 0
    again = walk.client.post("/v1/events", json={"events": curl.body["events"][:1]})
    assert again.json()["accepted"] == 0 and again.json()["duplicates"] == 1  # e1 again


def jacket(walk: Walk, curl: Curl, response: httpx.Response) -> None:
    assert walk.attributes("i7")["category"] == "jackets"


def alices_list(walk: Walk, curl: Curl, response: httpx.Response) -> None:
    assert len(ids(response)) == 5 and not {"i1", "i7"} & set(ids(response))
    # her events drive it: not only what is popular for everyone
    assert any(not r.startswith("popular now") for r in reasons(response)), reasons(response)
    # items named by their text ("wool jacket (i7)"), never by a bare id
    named = [r for r in reasons(response) if r.startswith("similar to")]
    assert all(" (i" in r for r in named), named


def filtered(walk: Walk, curl: Curl, response: httpx.Response) -> None:
    assert len(ids(response)) == 5 and response.json()["warnings"] == []
    for item in response.json()["items"]:  # fields=attributes: no call per item
        attributes = item["attributes"]
        assert attributes == walk.attributes(item["item_id"])
        assert attributes["category"] in ("jackets", "coats") and attributes["price"] < 100


def diverse(walk: Walk, curl: Curl, response: httpx.Response) -> None:
    categories = [walk.attributes(i)["category"] for i in ids(response)]
    assert len(categories) == 5 and max(categories.count(c) for c in categories) <= 2


def next_page(walk: Walk, curl: Curl, response: httpx.Response) -> None:
    shown = [item["item_id"] for item in walk.named["items"]]
    assert len(ids(response)) == 5 and not set(ids(response)) & set(shown)
    scores = [i["score"] for i in response.json()["items"]]
    assert scores == sorted(scores, reverse=True)


def accepted_one(walk: Walk, curl: Curl, response: httpx.Response) -> None:
    assert response.json()["accepted"] == 1, response.text


def disliked(walk: Walk, curl: Curl, response: httpx.Response) -> None:
    accepted_one(walk, curl, response)
    everything = walk.client.get("/v1/users/alice/recommendations",
                                 params={"k": 100, "exclude_seen": "false"})
    assert "i9" not in ids(everything)  # left out even with exclude_seen=false
    # and items like it are pushed down, saying so
    assert any(r.startswith("ranked lower: like ") and r.endswith("(i9), which you turned down")
               for r in reasons(everything)), reasons(everything)


def session_list(walk: Walk, curl: Curl, response: httpx.Response) -> None:
    assert len(ids(response)) == 5 and "i3" not in ids(response)
    assert any(not r.startswith("popular now") for r in reasons(response)), reasons(response)


def merged(walk: Walk, curl: Curl, response: httpx.Response) -> None:
    assert response.json()["merged"] is True
    history = walk.client.get("/v1/users/alice/export").json()["history"]
    assert "i3" in {h["item_id"] for h in history}  # the session's view is hers now


def similar(walk: Walk, curl: Curl, response: httpx.Response) -> None:
    assert len(ids(response)) == 5 and "i7" not in ids(response)


def popular_jackets(walk: Walk, curl: Curl, response: httpx.Response) -> None:
    assert len(ids(response)) == 5
    assert all(walk.attributes(i)["category"] == "jackets" for i in ids(response))
    scores = [i["score"] for i in response.json()["items"]]
    assert scores == sorted(scores, reverse=True) and scores[-1] > 0
    # the decayed popularity itself, not halving placeholders (0.5, 0.25, ...)
    assert [s / scores[0] for s in scores[1:]] != [0.5 ** n for n in range(1, 5)]


def stats(walk: Walk, curl: Curl, response: httpx.Response) -> None:
    body = response.json()
    # the demo's 50,000 and the walkthrough's 2 + 1 + 1 + 1 (e1 again was a duplicate);
    # the merge is the engine's own entry in the log, not an event
    assert body["events"] == 50_005, body
    assert body["log_offset"] > body["events"]


def metrics(walk: Walk, curl: Curl, response: httpx.Response) -> None:
    assert "streamrec" in response.text


def sizes(walk: Walk, curl: Curl, response: httpx.Response) -> None:
    assert response.json()["total_bytes"] > 0
    neighbours = response.json()["budgets"]["models.cooccurrence.neighbours"]
    assert neighbours["largest"] <= neighbours["most"]
    window = response.json()["budgets"]["dedup_window"]  # the log's, e1 and e2 among its ids
    assert 2 <= window["count"] <= window["most"] == 1_000_000
    users = response.json()["budgets"]["users"]  # the README's users, within the default
    assert users["setting"] == "events.max_users" and users["most"] == 1_000_000
    assert 1 <= users["count"] <= users["slots"]


Check = Callable[[Walk, Curl, httpx.Response], None]
CHECKS: list[tuple[Callable[[Curl], bool], Check]] = [
    (lambda c: c.path == "/v1/events" and c.body["events"][0].get("event_id") == "e1",
     alices_events),
    (lambda c: c.method == "PUT" and c.path == "/v1/items/i7", jacket),
    (lambda c: c.path == "/v1/users/alice/recommendations" and set(c.query) == {"k"},
     alices_list),
    (lambda c: c.path == "/v1/users/alice/recommendations" and "filter" in c.query, filtered),
    (lambda c: c.path == "/v1/users/alice/recommendations" and "max_per_category" in c.query,
     diverse),
    (lambda c: c.path == "/v1/users/alice/recommendations" and "after" in c.query, next_page),
    (lambda c: c.path == "/v1/events" and c.body["events"][0]["type"] == "click",
     accepted_one),
    (lambda c: c.path == "/v1/events" and c.body["events"][0]["type"] == "dislike", disliked),
    (lambda c: c.path == "/v1/events" and "session_id" in c.body["events"][0], accepted_one),
    (lambda c: c.path == "/v1/sessions/s-42/recommendations", session_list),
    (lambda c: c.path == "/v1/sessions/s-42/merge", merged),
    (lambda c: c.path == "/v1/items/i7/similar", similar),
    (lambda c: c.path == "/v1/popular", popular_jackets),
    (lambda c: c.path == "/v1/stats", stats),
    (lambda c: c.path == "/metrics", metrics),
    (lambda c: c.path == "/v1/admin/sizes", sizes),
]


@pytest.mark.timeout(900)  # the demo's start-up is in it
def test_the_readme_walkthrough_works_as_written_on_the_demo(demo: str) -> None:
    commands = walkthrough_commands(README.read_text())
    used: set[int] = set()
    with httpx.Client(base_url=demo, timeout=60.0) as client:
        walk = Walk(client)
        for curl in commands:
            matching = [n for n, (applies, _) in enumerate(CHECKS) if applies(curl)]
            assert len(matching) == 1, f"{curl} meets checks {matching}: one expected"
            response = walk.send(curl)
            CHECKS[matching[0]][1](walk, curl, response)
            used |= set(matching)
    unused = set(range(len(CHECKS))) - used
    assert not unused, f"checks no command met: {unused}"


def test_the_walkthrough_is_read_whole() -> None:
    commands = walkthrough_commands(README.read_text())
    assert [c.method for c in commands].count("POST") >= 5
    assert commands[0].body["events"][1]["type"] == "purchase"
    assert any(c.path == "/v1/admin/sizes" for c in commands)
