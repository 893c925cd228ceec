"""The dashboard in a real browser: headless Chromium (Debian's package, driven by Playwright;
never `playwright install`) against a server process holding a small shop.

Each page is opened and must show what the API answers; a user's recommendations and an
item's similar items are clicked through. How long each page took to show its data is
measured in the browser (performance marks) and printed, never asserted.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CATEGORIES = ("jackets", "coats", "shoes", "bags")
PAGES = ("overview", "events", "items", "users", "evaluation", "experiments")
# a small, quiet browser: no GPU, no sandbox (root in CI), nothing fetched from outside
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]
LOADED_S = 30.0  # how long a page may take to show its data before the test gives up


def shop_items() -> list[dict[str, Any]]:
    return [{"item_id": f"{category}-{n}",
             "attributes": {"title": f"{category.title()} number {n}", "category": category,
                            "price": 20.0 + n},
             "text": f"a {category[:-1]} in {'wool' if n % 2 else 'leather'}, model {n}"}
            for category in CATEGORIES for n in range(30)]


def shop_events(now: float) -> list[dict[str, Any]]:
    """Forty users, each keen on one category, over the last ten days."""
    events = []
    for user in range(40):
        category = CATEGORIES[user % len(CATEGORIES)]
        for step in range(15):
            item = (user * 7 + step * 3) % 30
            events.append({"user_id": f"user-{user}", "item_id": f"{category}-{item}",
                           "type": "purchase" if step % 5 == 4 else "view",
                           "timestamp": now - 10 * 86_400 + user * 20_000 + step * 600})
    return events


@pytest.fixture(scope="module")
def shop(start_module_server: Any) -> Any:
    server = start_module_server(env={"STREAMREC_DASHBOARD__SAMPLE_S": "0.5"})
    with httpx.Client(base_url=server.url, timeout=30.0) as client:
        assert client.post("/v1/items", json={"items": shop_items()}).status_code == 200
        posted = client.post("/v1/events", json={"events": shop_events(time.time())})
        assert posted.status_code == 200, posted.text
    reports = server.data_dir / "evaluation-results"
    reports.mkdir()
    (reports / "shop-prequential.json").write_text(json.dumps({
        "protocol": "prequential", "data": "shop", "settings": {},
        "results": [{"model": "streamrec", "hr@10": 0.2512, "ndcg@10": 0.1311},
                    {"model": "popular", "hr@10": 0.1107, "ndcg@10": 0.0502}]}))
    shutil.copy(REPO / "docs/results/movielens-100k-prequential-hr-over-stream.png",
                reports / "shop-prequential-hr-over-stream.png")
    return server


@pytest.fixture(scope="module")
def browser(system_tool: Callable[[str, str], str]) -> Iterator[Browser]:
    chromium = system_tool("chromium", "chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert errors == [], f"script errors on the page: {errors}"


def open_page(page: Page, url: str, name: str, query: str = "") -> float:
    """Open ``/dashboard#/name?query`` afresh; the milliseconds from navigation to the page
    showing its data (its performance mark)."""
    page.goto("about:blank")  # a new document: a hash change alone would not reload
    page.goto(f"{url}/dashboard#/{name}{'?' + query if query else ''}")
    page.wait_for_selector("main[data-loaded]", timeout=LOADED_S * 1000)
    shown: float = page.evaluate(
        "() => performance.getEntriesByName('dashboard-loaded')[0].startTime")
    return shown


def figure(page: Page, name: str) -> float:
    return float(page.inner_text(f"[data-figure={name}]").replace(",", ""))


def api(url: str, path: str, **params: Any) -> Any:
    response = httpx.get(f"{url}{path}", params=params, timeout=30.0)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_page_is_served_with_its_files_and_holds_no_data(shop: Any) -> None:
    page = httpx.get(f"{shop.url}/dashboard", timeout=30.0)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "user-" not in page.text and "jackets" not in page.text
    for asset in ("app.js", "style.css", "vendor/uplot/uPlot.iife.min.js"):
        assert httpx.get(f"{shop.url}/dashboard/static/{asset}", timeout=30.0).status_code == 200


def test_overview_shows_the_figures_the_api_returns(shop: Any, page: Page) -> None:
    open_page(page, shop.url, "overview")
    stats = api(shop.url, "/v1/stats")
    for name in ("events", "users", "items", "refits"):
        assert figure(page, name) == stats[name], name
    assert page.locator("[data-chart]").count() >= 6
    # one series per expert of the blend, the blend itself among them
    legend = page.inner_text("[data-chart='Online HR@10']")
    for expert in stats["online_quality"]:
        assert expert in legend
