"""The app under uvicorn: limits on slow and idle clients, and a clean exit on SIGTERM/SIGINT.

uvicorn closes a kept-alive connection that idles between requests (``keep_alive_s``), but
not one that never sends a request, nor one that sends it a byte at a time: each of those
held a connection open for good (six slow bodies for 12 s and more, 1,000 idle connections
never closed). ``ClientDeadline`` gives every request ``client_timeout_s`` to arrive whole
(head and body), counted from the connection opening or from the previous answer; a client
still sending then is disconnected. ``max_connections`` bounds what is open at once (uvicorn
answers 503 beyond it).
"""

from __future__ import annotations

import asyncio
import signal

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from streamrec.settings import ServingSettings

STARTUP_FAILURE = 3  # as uvicorn.run exits when the app cannot start


class ClientDeadline(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol (httptools, what uvicorn[standard] picks) with a deadline
    for receiving each request; ``with_client_deadline`` makes one with the deadline set."""

    deadline_s = 60.0
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.deadline_s, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        cycle = self.cycle
        # no request yet (or only the previous, answered one), or its body still coming;
        # a request received whole is the app's to answer (serving.read_timeout_s)
        receiving = cycle is None or cycle.response_complete or cycle.more_body
        if receiving and not self.transport.is_closing():
            self.transport.close()


def with_client_deadline(seconds: float) -> type[ClientDeadline]:
    class Configured(ClientDeadline):
        deadline_s = seconds

    return Configured


def serve_app(app: FastAPI, serving: ServingSettings) -> None:
    """Serve until SIGTERM or SIGINT; then uvicorn's graceful shutdown (the app's shutdown
    writes the final snapshot) and a normal return, so the process exits 0."""
    config = uvicorn.Config(
        app, host=serving.host, port=serving.port, log_level="info", access_log=False,
        http=with_client_deadline(serving.client_timeout_s),
        timeout_keep_alive=serving.keep_alive_s, limit_concurrency=serving.max_connections)
    server = uvicorn.Server(config)
    # uvicorn restores the handlers it found and raises the signal it stopped for again, so
    # that the default action ends the process: status 143 for SIGTERM, which systemd counts
    # as a failure. Found handlers that ask the server to stop (a signal before uvicorn took
    # over still counts) make that second raise harmless.
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, server.handle_exit)
    server.run()
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)
