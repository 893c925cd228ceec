"""/docs and /redoc work on a machine without internet: every asset their pages load comes
from the running server itself (an installed package's files), none from a CDN."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest

pytestmark = pytest.mark.integration


class _References(HTMLParser):
    """Every URL a page loads: src and href attributes, ReDoc's spec-url, Swagger UI's url."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs
                      if name in ("src", "href", "spec-url") and value]

    def handle_data(self, data: str) -> None:
        self.urls += re.findall(r"""\burl:\s*['"]([^'"]+)['"]""", data)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_and_every_asset_they_load_come_from_the_server(
        client: httpx.Client, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert "://" not in response.text, "an absolute URL: a CDN or another site"
    parser = _References()
    parser.feed(response.text)
    assert any(url.endswith(".js") for url in parser.urls), parser.urls
    assert "/openapi.json" in parser.urls
    for url in parser.urls:
        assert url.startswith("/") and not url.startswith("//"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 0, url
