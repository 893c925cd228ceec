"""Limits at the HTTP edge, in process: rate limits (429), a full writer queue, a learn
time-out and a slow read (503), each with the one error body."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from streamrec.engine.engine import Engine
from streamrec.serving.app import create_app
from streamrec.serving.limits import ReadTimeout
from streamrec.settings import Settings

with warnings.catch_warnings():
    # this starlette asks for the httpx2 fork; the installed httpx works the same here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

Serve = Callable[..., TestClient]


@pytest.fixture
def serve(tmp_path: Path,
          settings_factory: Callable[..., Settings]) -> Iterator[Serve]:
    """``serve(serving={...}, start_learner=True)``: a TestClient over a fresh engine."""
    opened: list[tuple[TestClient, Engine]] = []

    def serve_(start_learner: bool = True, **serving: Any) -> TestClient:
        settings = settings_factory(tmp_path / f"data{len(opened)}", serving=serving)
        engine = Engine.open(settings, start_learner=start_learner)
        client = TestClient(create_app(settings, engine))
        client.__enter__()
        opened.append((client, engine))
        return client

    yield serve_
    for client, engine in opened:
        client.__exit__(None, None, None)
        engine.close()


def events(n: int, user: str = "u") -> dict[str, Any]:
    return {"events": [{"user_id": user, "item_id": f"i{i}", "type": "view"}
                       for i in range(n)]}


def assert_error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    message: str = error["message"]
    return message


def test_over_the_rate_limit_answers_429_with_retry_after(serve: Serve) -> None:
    client = serve(rate_limit={"per_second": 0.5, "burst": 2})
    for _ in range(2):
        assert client.get("/v1/stats").status_code == 200
    refused = client.get("/v1/stats")
    assert "rate limit" in assert_error(refused, 429, "rate_limited")
    assert refused.headers["retry-after"] == "2"
    assert client.get("/healthz").status_code == 200  # health is never limited


def test_a_scope_override_leaves_other_scopes_alone(serve: Serve) -> None:
    client = serve(rate_limit_by_scope={"ingest": {"per_second": 0.01, "burst": 1}})
    assert client.post("/v1/events", json=events(1)).status_code == 200
    assert_error(client.post("/v1/events", json=events(1, "v")), 429, "rate_limited")
    for _ in range(20):
        assert client.get("/v1/stats").status_code == 200
    assert client.get("/v1/stats").json()["events"] == 1  # the refused write stored nothing


def test_more_events_than_the_writer_queue_holds_answer_503(serve: Serve) -> None:
    client = serve(max_queued_events=5)
    message = assert_error(client.post("/v1/events", json=events(6)), 503, "unavailable")
    assert "limit 5" in message
    assert client.post("/v1/events", json=events(5)).status_code == 200
    assert client.get("/v1/stats").json()["events"] == 5


def test_a_write_not_learned_in_time_answers_503_and_stays_stored(serve: Serve) -> None:
    client = serve(start_learner=False, learn_timeout_s=0.01)
    message = assert_error(client.post("/v1/events", json=events(2)), 503, "unavailable")
    assert "stored durably" in message and "learn_timeout_s=0.01" in message
    assert client.get("/v1/stats").json()["events"] == 2


def test_a_read_slower_than_the_time_out_answers_503_and_the_next_one_is_served() -> None:
    release = threading.Event()

    def slow(request: Request) -> JSONResponse:
        release.wait(timeout=30)  # held until the test has its answer
        return JSONResponse({"slow": True})

    def fast(request: Request) -> JSONResponse:
        return JSONResponse({"fast": True})

    app = Starlette(routes=[Route("/slow", slow, methods=["GET", "POST"]),
                           Route("/fast", fast)])
    with TestClient(ReadTimeout(app, timeout_s=0.05)) as client:  # type: ignore[arg-type]
        message = assert_error(client.get("/slow"), 503, "unavailable")
        assert "read_timeout_s=0.05" in message
        release.set()
        assert client.get("/fast").json() == {"fast": True}
        assert client.post("/slow").json() == {"slow": True}  # writes are not timed out
