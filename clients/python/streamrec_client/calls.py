"""What the sync and async clients share and that does no I/O: the requests they make, when
to retry and after how long, the errors they raise, and the consistency token they carry."""

from __future__ import annotations

import email.utils
import random
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

# the server's default serving.max_batch; pass a smaller max_batch to the client for a server
# configured lower
DEFAULT_MAX_BATCH = 10_000
TOKEN_HEADER = "X-Consistency-Token"
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})


class StreamrecError(Exception):
    """The server refused or failed a request: ``status``, and the API's error ``code``,
    ``message`` and ``field`` (the field at fault, for a 4xx about the input)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def error_from(response: httpx.Response) -> StreamrecError:
    try:
        error = response.json()["error"]
        return StreamrecError(response.status_code, str(error.get("code", "error")),
                              str(error.get("message", "")), error.get("field"))
    except (ValueError, KeyError, TypeError, AttributeError):
        return StreamrecError(response.status_code, "http_error", response.text[:500])


def ensure_event_ids(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Copies of the events, each with an ``event_id`` (a new uuid where it had none), given
    before the first try: a retry re-sends the same ids, and the server stores each once."""
    return [dict(e) if e.get("event_id") else {**e, "event_id": uuid.uuid4().hex}
            for e in events]


def batches(events: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    if size < 1:
        raise ValueError("max_batch must be at least 1")
    for start in range(0, len(events), size):
        yield events[start:start + size]


def can_split(error: StreamrecError, batch: list[dict[str, Any]]) -> bool:
    """A batch the server refused as too big (more events than serving.max_batch, or more
    bytes than serving.max_body_bytes) and that has halves to send instead."""
    return error.status == 413 and len(batch) > 1


def path_id(value: str) -> str:
    """An id as one path segment: ids may hold '/', '?', '#' or '%'."""
    return quote(value, safe="")


_COMMA_JOINED = ("exclude", "fields")


def list_params(k: int, options: Mapping[str, Any]) -> dict[str, Any]:
    """Query parameters of a list: ``k`` and the API's options by their API names
    (``filter`` and ``boost`` take a string or a list of them; ``exclude`` and ``fields``
    a list or a comma-separated string; ``exclude_seen`` a bool; ``after`` a
    recommendation_id)."""
    params: dict[str, Any] = {"k": k}
    for name, value in options.items():
        if value is None:
            continue
        if name in _COMMA_JOINED and not isinstance(value, str):
            value = ",".join(value)
        params[name] = value
    return params


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``attempts`` tries in all; between them ``backoff_s`` doubling up to ``max_backoff_s``
    with jitter, or the server's ``Retry-After`` when it sends one (capped likewise)."""

    attempts: int = 5
    backoff_s: float = 0.2
    max_backoff_s: float = 30.0

    def delay(self, attempt: int, response: httpx.Response | None) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        asked = retry_after_s(response) if response is not None else None
        if asked is not None:
            return min(asked, self.max_backoff_s)
        exponential = min(self.backoff_s * 2.0 ** (attempt - 1), self.max_backoff_s)
        return exponential * random.uniform(0.5, 1.0)


def retry_after_s(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds: delta-seconds or an HTTP date."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def should_retry(response: httpx.Response) -> bool:
    return response.status_code in RETRIED_STATUSES


@dataclass(slots=True)
class Consistency:
    """The last consistency token a write answered with (servers that issue them: a read
    sent with it sees that write); nothing when the server sends none."""

    token: str | None = None

    def remember(self, body: Any) -> None:
        if isinstance(body, dict) and isinstance(body.get("token"), str):
            self.token = body["token"]

    def headers(self) -> dict[str, str]:
        return {TOKEN_HEADER: self.token} if self.token is not None else {}


def auth_headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


@dataclass(frozen=True, slots=True)
class Call:
    """One API request: a write (``POST``/``PUT``/``DELETE``) keeps the consistency token it
    answers with; a read sends the last one."""

    method: str
    path: str
    params: dict[str, Any] | None = None
    body: Any = None

    @property
    def is_read(self) -> bool:
        return self.method == "GET"


def list_call(path: str, k: int, options: Mapping[str, Any]) -> Call:
    return Call("GET", path, params=list_params(k, options))


def recommendations(user_id: str, k: int, options: Mapping[str, Any]) -> Call:
    return list_call(f"/v1/users/{path_id(user_id)}/recommendations", k, options)


def session_recommendations(session_id: str, k: int, options: Mapping[str, Any]) -> Call:
    return list_call(f"/v1/sessions/{path_id(session_id)}/recommendations", k, options)


def popular(k: int, options: Mapping[str, Any]) -> Call:
    return list_call("/v1/popular", k, options)


def similar(item_id: str, k: int, fields: str | Iterable[str] | None) -> Call:
    return list_call(f"/v1/items/{path_id(item_id)}/similar", k, {"fields": fields})


def events(batch: list[dict[str, Any]]) -> Call:
    return Call("POST", "/v1/events", body={"events": batch})


def upsert_items(items: Iterable[Mapping[str, Any]]) -> Call:
    return Call("POST", "/v1/items", body={"items": [dict(i) for i in items]})


def put_item(item_id: str, fields: Mapping[str, Any]) -> Call:
    return Call("PUT", f"/v1/items/{path_id(item_id)}",
                body={k: v for k, v in fields.items() if v is not None})


def get_item(item_id: str) -> Call:
    return Call("GET", f"/v1/items/{path_id(item_id)}")


def merge_session(session_id: str, user_id: str) -> Call:
    return Call("POST", f"/v1/sessions/{path_id(session_id)}/merge", body={"user_id": user_id})


def erase_user(user_id: str) -> Call:
    return Call("DELETE", f"/v1/users/{path_id(user_id)}")


def export_user(user_id: str) -> Call:
    return Call("GET", f"/v1/users/{path_id(user_id)}/export")


def erase_session(session_id: str) -> Call:
    return Call("DELETE", f"/v1/sessions/{path_id(session_id)}")


def stats() -> Call:
    return Call("GET", "/v1/stats")


def answer(response: httpx.Response, call: Call, consistency: Consistency) -> dict[str, Any]:
    """The JSON body of a successful answer (a write's token kept), else a StreamrecError."""
    if response.is_error:
        raise error_from(response)
    body: dict[str, Any] = response.json()
    if not call.is_read:
        consistency.remember(body)
    return body
