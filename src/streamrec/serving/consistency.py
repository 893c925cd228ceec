"""Read-your-writes across replicas: consistency tokens.

A write answers with a token naming the log offset it reached (``POST /v1/events``:
``"token"``). The log's offsets are the same on every replica (storage/kafka_log.py derives
them from the topic alone), so a read sent to any replica with that token
(``X-Consistency-Token`` header, or ``consistency_token`` query parameter) waits until this
replica has learned up to that offset, at most ``replicas.consistency_wait_s``; then it is
answered, or refused with 503 and ``Retry-After`` (another replica may be further along).
On a single server every acknowledged write is already learned, so a token never waits.
"""

from __future__ import annotations

import asyncio
import math
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from streamrec.serving.errors import error_response

HEADER = "X-Consistency-Token"
QUERY = "consistency_token"
_HEADER_BYTES, _QUERY_BYTES = HEADER.lower().encode(), QUERY.encode()
_PREFIX = "o"
_MAX_OFFSET = 2**62


def token_of(offset: int) -> str:
    """The token of a write that reached log offset ``offset``."""
    return f"{_PREFIX}{offset}"


def offset_of(token: str) -> int | None:
    """The offset a token names; None when it is not one of ours."""
    digits = token.strip().removeprefix(_PREFIX)
    if not digits.isdigit() or len(digits) > 19 or int(digits) > _MAX_OFFSET:
        return None
    return int(digits)


class ConsistentReads:
    """Pure ASGI middleware: a GET that carries a token waits for it (off the event loop)."""

    def __init__(self, app: ASGIApp, wait_s: float) -> None:
        self.app = app
        self.wait_s = wait_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        token, field = self._token(scope)
        if token is None:
            await self.app(scope, receive, send)
            return
        offset = offset_of(token)
        if offset is None:
            await error_response(422, "invalid_input", f"{field} {token[:40]!r} is not a "
                                 "consistency token (a write's answer holds one: "
                                 "\"token\")", field)(scope, receive, send)
            return
        engine = scope["app"].state.engine
        if not await asyncio.to_thread(engine.learner.wait_learned, offset, self.wait_s):
            retry = max(1, math.ceil(self.wait_s / 2))
            await error_response(
                503, "unavailable", f"this replica has not yet applied the write the "
                f"consistency token names (offset {offset}; it is at {engine.state.offset}) "
                f"within {self.wait_s:g} s; retry, here or on another replica", field,
                headers={"Retry-After": str(retry)})(scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _token(scope: Scope) -> tuple[str | None, str]:
        for name, value in scope.get("headers", []):
            if name == _HEADER_BYTES:
                return value.decode("latin-1"), HEADER
        query = scope.get("query_string", b"")
        if _QUERY_BYTES in query:
            values = parse_qs(query.decode("utf-8", "replace")).get(QUERY)
            if values:
                return values[-1], QUERY
        return None, HEADER
