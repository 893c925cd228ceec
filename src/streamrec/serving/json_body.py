"""Request bodies read as JSON strictly: a key twice in one object, or nesting too deep for
the parser, is refused with a 4xx that says so, not taken silently (the last duplicate
winning) nor answered with a generic "error parsing the body".

NaN and Infinity are read as floats and refused by the field that holds them (a number field
by its schema, attributes and context by ``check_json_value``), so the refusal names it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from streamrec.errors import InvalidInput


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise InvalidInput("body", f"the key {key!r} appears twice in one JSON object; "
                                   "give each key once")
            seen.add(key)
    return found


def parse_json(body: bytes) -> Any:
    """``body`` as JSON; ``InvalidInput`` for a duplicate key or nesting too deep to read
    (``json.JSONDecodeError`` for what is not JSON at all)."""
    try:
        return json.loads(body, object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise InvalidInput("body", "the body is nested too deeply to read (hundreds of levels "
                           "of arrays or objects); no field needs more than a few") from None


class _StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json(await self.body())
        return self._json


class StrictJsonRoute(APIRoute):
    """A route whose JSON body is read by ``parse_json`` (``APIRouter(route_class=...)``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handle(_StrictJsonRequest(request.scope, request.receive))

        return strict
