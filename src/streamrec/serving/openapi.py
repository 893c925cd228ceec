"""The OpenAPI schema, with every error status a route can answer declared.

Some refusals do not come from the route itself: the key check (401, 403), the rate limit
(429), the body size limit (413), a body that is not JSON (400), request validation (422), a
read time-out or an unavailable store (503), and the HTTP server's own plain-text 400 for a
request line too long to parse (routes with query parameters). Rather than repeat them on
every route, they are added here from what each route has (a key check, a body,
parameters), all with the one error body. Statuses a route declares itself are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from streamrec.serving.auth import _RequireScope

_DESCRIPTIONS = {
    400: "The body is not valid JSON.",
    401: "No API key, or an unknown or revoked one.",
    403: "The API key lacks the scope this route needs.",
    413: "The body is larger than serving.max_body_bytes.",
    422: "A field or parameter is invalid; `field` names it.",
    429: "Over the caller's rate limit; retry after `Retry-After` seconds.",
    503: "A store or the learner cannot take the work now, or a read timed out; retry later.",
}
_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
# the HTTP server's parser refuses a request line over ~64 KiB (e.g. a huge `exclude` list of
# multi-byte characters, 12 URL bytes each) before the app sees it: plain text, not JSON
_LINE_TOO_LONG = ("A request line over the HTTP server's limit (about 64 KiB) gets a plain "
                  "text 400 from the server itself.")
_PLAIN = {"text/plain": {"schema": {"type": "string"}}}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds until a request may succeed.",
                                "schema": {"type": "integer"}}}


def _anywhere(dependant: Dependant, test: Callable[[Dependant], bool]) -> bool:
    """``test`` holds for the route's dependant or any it depends on, however deep."""
    return test(dependant) or any(_anywhere(d, test) for d in dependant.dependencies)


def _needs_key(dependant: Dependant) -> bool:
    return _anywhere(dependant, lambda d: isinstance(d.call, _RequireScope))


def _has_query_params(dependant: Dependant) -> bool:
    return _anywhere(dependant, lambda d: bool(d.query_params))


def error_statuses(route: APIRoute) -> list[int]:
    """The refusals ``route`` can answer besides those it declares itself."""
    statuses = [503]
    if _needs_key(route.dependant):
        statuses += [401, 403, 429]
    if route.body_field is not None:
        statuses += [400, 413, 422]
    if route.dependant.query_params or route.dependant.path_params:
        statuses.append(422)
    return sorted(set(statuses))


def install(app: FastAPI, routers: Iterable[APIRouter]) -> None:
    """Replace ``app.openapi`` with one that declares the error statuses of every route of
    ``routers`` (the routers included in ``app``, without a prefix of their own)."""
    routes = [route for router in routers for route in router.routes
              if isinstance(route, APIRoute) and route.include_in_schema]

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version,
                             description=app.description, routes=app.routes)
        for route in routes:
            for method in route.methods or ():
                operation = schema["paths"][route.path_format][method.lower()]
                responses = operation.setdefault("responses", {})
                for status in error_statuses(route):
                    declared = responses.setdefault(str(status), {
                        "description": _DESCRIPTIONS[status], "content": dict(_ERROR)})
                    if status == 429:
                        declared.setdefault("headers", _RETRY_AFTER)
                if _has_query_params(route.dependant):
                    declared = responses.setdefault("400", {"description": _LINE_TOO_LONG,
                                                            "content": {}})
                    if declared["description"] != _LINE_TOO_LONG:
                        declared["description"] += " " + _LINE_TOO_LONG
                    declared["content"] = {**declared.get("content", {}), **_PLAIN}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
