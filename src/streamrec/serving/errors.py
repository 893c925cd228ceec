"""One table from domain errors to HTTP statuses, and one error body for all of them."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from streamrec import errors

log = logging.getLogger(__name__)

STATUS: dict[type[errors.StreamrecError], int] = {
    errors.InvalidInput: 422,
    errors.NotFound: 404,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.Conflict: 409,
    errors.Oversized: 413,
    errors.RateLimited: 429,
    errors.Unavailable: 503,
}


def error_response(status: int, code: str, message: str, field: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "field": field}}
    return JSONResponse(body, status_code=status, headers=headers)


# pydantic names the member of a union that failed (``timestamp.float``); not a field
_UNION_MEMBER = re.compile(r"^(float|int|str|bool|none|bytes|[a-z-]+\[.*\])$")


def field_path(location: Sequence[Any]) -> str:
    """``("body", "events", 3, "value")`` -> ``events[3].value``; union member tags dropped."""
    path = ""
    for part in location:
        if part in ("body", "query", "path", "header"):
            continue
        if isinstance(part, str) and path and _UNION_MEMBER.match(part):
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


async def _domain(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.StreamrecError)
    return domain_response(request, exc)


def domain_response(request: Request, exc: errors.StreamrecError) -> JSONResponse:
    """The answer to a domain error: its status from ``STATUS``, the one error body."""
    status = next(s for cls, s in STATUS.items() if isinstance(exc, cls)) \
        if any(isinstance(exc, c) for c in STATUS) else 400
    headers = None
    if isinstance(exc, errors.RateLimited):
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))}
    if isinstance(exc, errors.Unauthorized):
        headers = {"WWW-Authenticate": "Bearer"}
    return error_response(status, exc.code, exc.message, exc.field, headers)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = exc.errors()
    first: dict[str, Any] = dict(problems[0]) if problems else {"loc": (), "msg": "invalid"}
    field = field_path(first.get("loc", ()))
    if first.get("type") == "json_invalid":
        reason = (first.get("ctx") or {}).get("error", "parse error")
        return error_response(400, "malformed_json", f"the body is not valid JSON: {reason}",
                              "body")
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    return error_response(422, "invalid_input", f"{field}: {first.get('msg')}{more}", field)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc.__cause__, errors.StreamrecError):
        # FastAPI wraps failures while reading the body (e.g. an oversized chunked body)
        return await _domain(request, exc.__cause__)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    request_id = request.headers.get("x-request-id", "-")
    # the route's template, never the path: paths hold user ids (as metrics label by template)
    route = getattr(request.scope.get("route"), "path", "(no route)")
    log.exception("unexpected error on %s %s (request %s)", request.method, route, request_id)
    return error_response(500, "internal", "internal error; it has been logged")


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.StreamrecError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
