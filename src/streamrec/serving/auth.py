"""API keys at the HTTP edge: ``Authorization: Bearer <key>``, checked per route by scope.

A server bound to loopback is open while its data dir never had a key (local development,
tests). Once a key was created, every route but ``/healthz`` needs a key: 401 without a valid
one, 403 when the key lacks the route's scope. Revoking every key does not open it up again
(nobody gets in); only ``streamrec keys open-access`` does, audited (trust/keys.py). A server
bound beyond loopback always needs a key.

Every check also takes a token from the caller's rate-limit bucket (``ratelimit.py``): 429
with ``Retry-After`` when it is empty.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.types import ASGIApp, Receive, Send
from starlette.types import Scope as AsgiScope

from streamrec.errors import Forbidden, StreamrecError, Unauthorized
from streamrec.serving.errors import domain_response
from streamrec.serving.ratelimit import RateLimiter
from streamrec.trust.keys import ApiKey, KeyRing, Scope

_BEARER = "bearer "


class _RequireScope:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def __call__(self, request: Request) -> ApiKey | None:
        keys: KeyRing = request.app.state.keys
        limiter: RateLimiter = request.app.state.rate_limiter
        # callers without a valid key are limited by address: guessing keys is throttled too
        address = f"address:{request.client.host if request.client else 'unknown'}"
        if not request.app.state.always_require_keys and keys.is_open():
            limiter.take(address, self.scope.value)
            return None
        header = request.headers.get("authorization", "")
        if not header.lower().startswith(_BEARER) or not header[len(_BEARER):].strip():
            limiter.take(address, self.scope.value)
            raise Unauthorized("this server needs an API key: send 'Authorization: Bearer "
                               "<key>' (create one with 'streamrec keys create')")
        key = keys.authenticate(header[len(_BEARER):].strip())
        if key is None:
            limiter.take(address, self.scope.value)
            raise Unauthorized("the API key is not valid: unknown or revoked")
        limiter.take(f"key:{key.id}", self.scope.value)
        if not key.allows(self.scope):
            raise Forbidden(f"this API key lacks the {self.scope.value!r} scope",
                            field="authorization")
        return key


def require(scope: Scope) -> Any:
    """For a route's ``dependencies=[...]``: refuse callers without ``scope``."""
    return Depends(_RequireScope(scope))


# for routes that record who called them (the audit log); None on an open server
AdminKey = Annotated[ApiKey | None, Depends(_RequireScope(Scope.ADMIN))]


class DocsNeedKey:
    """Pure ASGI middleware: the API's description (``/docs``, ``/redoc``, ``/openapi.json``)
    needs a ``read`` key wherever the routes need keys (``serving.open_docs`` opens them)."""

    def __init__(self, app: ASGIApp, paths: frozenset[str]) -> None:
        self.app = app
        self.paths = paths
        self._check = _RequireScope(Scope.READ)

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in self.paths:
            request = Request(scope)
            try:
                self._check(request)
            except StreamrecError as error:
                await domain_response(request, error)(scope, receive, send)
                return
        await self.app(scope, receive, send)
