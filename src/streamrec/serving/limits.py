"""Refuse oversized bodies before they are read into memory; answer slow reads with 503."""

from __future__ import annotations

import asyncio
import logging

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from streamrec.errors import Oversized

log = logging.getLogger(__name__)


class _TooLarge(Oversized):
    """Raised while the body streams in; the app's error handler turns it into a 413."""


class BodySizeLimit:
    """Pure ASGI middleware: 413 when Content-Length, or the bytes actually sent, exceed
    ``max_bytes``. Counting the stream too catches chunked bodies with no length header."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._refuse(send)
                return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise _TooLarge(
                    f"request body is larger than the limit of {self.max_bytes} bytes",
                    field="body")
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        await _send_json(send, 413, {"error": {
            "code": "oversized", "field": "body",
            "message": f"request body is larger than the limit of {self.max_bytes} bytes"}})


class ReadTimeout:
    """Pure ASGI middleware: a GET that has not started its response within ``timeout_s``
    answers 503. The work itself cannot be interrupted (it runs in a worker thread); it is
    left to finish and its response is dropped, so the caller is told instead of waiting."""

    def __init__(self, app: ASGIApp, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        started = asyncio.Event()
        timed_out = False

        async def guarded_send(message: Message) -> None:
            if timed_out:
                return  # the caller already has its 503
            if message["type"] == "http.response.start":
                started.set()
            await send(message)

        work = asyncio.ensure_future(self.app(scope, receive, guarded_send))
        waiting = asyncio.ensure_future(started.wait())
        await asyncio.wait({work, waiting}, timeout=self.timeout_s,
                           return_when=asyncio.FIRST_COMPLETED)
        if not started.is_set() and not work.done():
            timed_out = True
            waiting.cancel()
            _ABANDONED.add(work)
            work.add_done_callback(_forget)
            await _send_json(send, 503, {"error": {
                "code": "unavailable", "field": None,
                "message": f"the read did not finish within read_timeout_s={self.timeout_s:g}"
                           " s; the server is busy, retry later"}})
            return
        waiting.cancel()
        await work  # finishes the response (or raises, as it would have without us)


# abandoned reads still running; held so they are not garbage-collected mid-flight
_ABANDONED: set[asyncio.Future[None]] = set()


def _forget(work: asyncio.Future[None]) -> None:
    _ABANDONED.discard(work)
    if not work.cancelled() and work.exception() is not None:
        log.warning("an abandoned read failed after its time-out: %s", work.exception())


async def _send_json(send: Send, status: int, body: object) -> None:
    payload = orjson.dumps(body)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})
