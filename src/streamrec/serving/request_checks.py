"""Refuse what the app would otherwise misread, before any route sees it.

- A path or query string whose percent-escapes are not UTF-8 (``/v1/items/%FF``): the HTTP
  server would turn them into U+FFFD and an id nobody sent would be stored. 400.
- A path holding a character no id may hold (a control character, a line separator): the
  router's patterns would drop a trailing newline and match a different id. 422.
- A body with a ``Content-Encoding`` (gzip, br, ...): bodies are read as they come, so a
  compressed one would fail as "not JSON". 415, naming the encoding.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from streamrec.events.validation import REFUSED_CHARACTERS
from streamrec.serving.errors import error_response

# which id a path holds, to name it in a refusal made before routing
_ID_PATHS = (("/v1/users/", "user_id"), ("/v1/sessions/", "session_id"), ("/v1/items/", "item_id"))


def _not_utf8(raw: bytes) -> bool:
    try:
        unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


class RequestChecks:
    """Pure ASGI middleware for the refusals above, in the one error body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self._refusal(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _refusal(scope: Scope) -> Response | None:
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
        if _not_utf8(raw_path):
            return error_response(400, "invalid_input", "the URL path is not valid UTF-8 once "
                                  "percent-decoded (e.g. %FF): ids are UTF-8 text", "path")
        refused = REFUSED_CHARACTERS.search(scope["path"])
        if refused is not None:
            field = next((name for prefix, name in _ID_PATHS if scope["path"].startswith(prefix)),
                         "path")
            return error_response(422, "invalid_input", f"{field} must not contain control "
                                  f"characters or line separators (found "
                                  f"U+{ord(refused.group()):04X})", field)
        if _not_utf8(scope.get("query_string", b"").replace(b"+", b" ")):
            return error_response(400, "invalid_input", "the query string is not valid UTF-8 "
                                  "once percent-decoded (e.g. %FF)", "query")
        for name, value in scope.get("headers", []):
            if name == b"content-encoding" and value.strip().lower() not in (b"", b"identity"):
                encoding = value.decode("latin-1")
                return error_response(415, "unsupported_encoding", f"Content-Encoding "
                                      f"{encoding!r} is not supported: send the body "
                                      "uncompressed", "content-encoding")
        return None
