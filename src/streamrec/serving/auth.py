"""API keys at the HTTP edge: ``Authorization: Bearer <key>``, checked per route by scope.

While no unrevoked key exists, a server bound to loopback is open (local development, tests).
Once one exists, every route but ``/healthz`` needs a key: 401 without a valid one, 403 when
the key lacks the route's scope. A server bound beyond loopback always needs a key (fail
closed: revoking the last key does not open it up).

Every check also takes a token from the caller's rate-limit bucket (``ratelimit.py``): 429
with ``Retry-After`` when it is empty.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from streamrec.errors import Forbidden, Unauthorized
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
        if not request.app.state.always_require_keys and not keys.has_active_keys():
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
