"""GET /dashboard: the dashboard's one HTML page, and its scripts, styles and vendored chart
library under /dashboard/static, all files in this package (no build step, no CDN).

The page itself holds no data and is served to anyone; everything it shows comes from the
API, fetched by the browser with the key the operator types in (kept in the tab's
sessionStorage, sent as ``Authorization: Bearer``), so the same keys and scopes apply.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
# scripts only from this server, no inline script, never framed (clickjacking); uPlot sizes
# its elements with inline styles; item images and plots are blob: URLs fetched with the key
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' "
    "'unsafe-inline'; img-src 'self' blob: data:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def dashboard() -> FileResponse:
    """The dashboard's page (the pages are parts of it: #overview, #events, ...)."""
    return FileResponse(STATIC / "index.html", media_type="text/html", headers=_HEADERS)


def install(app: FastAPI) -> None:
    app.add_api_route("/dashboard", dashboard, methods=["GET"], include_in_schema=False)
    app.mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static")
