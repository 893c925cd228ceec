"""The dashboard in a real browser: headless Chromium (Debian's package, driven by Playwright;
never `playwright install`) against a server process holding a small shop.

Each page is opened and must show what the API answers; a user's recommendations and an
item's similar items are clicked through. How long each page took to show its data is
measured in the browser (performance marks) and printed, never asserted.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

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
        # the page refreshes every second: a background refit may land between two reads
        expect(page.locator(f"[data-figure={name}]")).to_have_text(f"{stats[name]:,}",
                                                                   timeout=10_000)
    assert page.locator("[data-chart]").count() >= 6
    # one series per expert of the blend, the blend itself among them
    legend = page.inner_text("[data-chart='Online HR@10']")
    for expert in stats["online_quality"]:
        assert expert in legend


def test_live_events_are_the_logs_newest_first(shop: Any, page: Page) -> None:
    posted = httpx.post(f"{shop.url}/v1/events", timeout=30.0, json={"events": [
        {"user_id": "watcher", "item_id": "shoes-3", "type": "click"}]})
    assert posted.status_code == 200
    open_page(page, shop.url, "events")
    rows = page.locator("#events-table tbody tr")
    offsets = [int(str(rows.nth(n).get_attribute("data-offset"))) for n in range(rows.count())]
    newest = api(shop.url, "/v1/admin/events", limit=100)["events"]
    # the log may have grown since the page read it (a refit's entries)
    assert offsets == [e["offset"] for e in newest if e["offset"] <= offsets[0]][:len(offsets)]
    assert offsets[0] >= posted.json()["last_offset"]
    watched = page.locator(f"#events-table tr[data-offset='{posted.json()['last_offset']}']")
    assert "watcher" in watched.inner_text() and "shoes-3" in watched.inner_text()


def shown_ids(page: Page, selector: str, attribute: str) -> list[str]:
    rows = page.locator(selector)
    return [str(rows.nth(n).get_attribute(attribute)) for n in range(rows.count())]


def wait_for_item(page: Page, item_id: str) -> None:
    page.wait_for_selector(f"#item-detail[data-item-id='{item_id}']",
                           timeout=LOADED_S * 1000)
    page.wait_for_selector("main[data-loaded=item]", timeout=LOADED_S * 1000)


def test_items_are_found_and_similar_items_click_through(shop: Any, page: Page) -> None:
    open_page(page, shop.url, "items", "q=wool")
    found = [i["item_id"] for i in api(shop.url, "/v1/items", q="wool", limit=50)["items"]]
    assert shown_ids(page, "#item-results a[data-item]", "data-item") == found
    page.click(f"#item-results a[data-item='{found[0]}']")
    wait_for_item(page, found[0])
    item = api(shop.url, f"/v1/items/{found[0]}")
    assert page.inner_text("[data-attribute=title]") == item["attributes"]["title"]
    assert page.inner_text("#item-text") == item["text"]
    similar = api(shop.url, f"/v1/items/{found[0]}/similar", k=10)["items"]
    assert similar, "the shop's co-occurrences give every item neighbours"
    shown = shown_ids(page, "#similar-table tr[data-similar]", "data-similar")
    if shown != [s["item_id"] for s in similar]:  # a refit landed between the two reads
        page.reload()
        wait_for_item(page, found[0])
        shown = shown_ids(page, "#similar-table tr[data-similar]", "data-similar")
    assert shown == [s["item_id"] for s in similar]
    assert page.locator("#similar-table tr").nth(1).inner_text().count(
        similar[0]["reasons"][0]) == 1
    # popularity over time: a chart of the item's days
    assert page.locator("[data-chart='Events per day'] canvas").count() == 1
    page.click(f"#similar-table a[data-item='{similar[0]['item_id']}']")
    wait_for_item(page, similar[0]["item_id"])


def test_a_users_list_is_the_apis_with_its_options_and_clicks_through(
        shop: Any, page: Page) -> None:
    open_page(page, shop.url, "users")
    page.fill("#user-id", "user-1")
    page.fill("#user-form textarea[name=filter]", "category=shoes|coats")
    before = api(shop.url, "/v1/users/user-1/recommendations", k=10,
                 filter="category=shoes|coats")["items"]
    page.click("#user-form button[type=submit]")
    page.wait_for_selector("main[data-loaded=user]", timeout=LOADED_S * 1000)
    after = api(shop.url, "/v1/users/user-1/recommendations", k=10,
                filter="category=shoes|coats")["items"]
    shown = shown_ids(page, "#recommendations-table tr[data-recommended]", "data-recommended")
    # the same list as the API's just before or just after (a background refit may land
    # between two reads and change it)
    listed = after if shown == [i["item_id"] for i in after] else before
    assert shown == [i["item_id"] for i in listed]
    assert {i["item_id"].split("-")[0] for i in listed} <= {"shoes", "coats"}
    first = listed[0]
    assert page.inner_text(f"[data-score='{first['item_id']}']") == f"{first['score']:.4f}".rstrip(
        "0").rstrip(".")
    assert first["reasons"][0] in page.inner_text("#recommendations-table")
    proposed = api(shop.url, "/v1/users/user-1/proposals", k=10)["sources"]
    assert shown_ids(page, "#sources [data-source]", "data-source") == list(proposed)
    for name, items in proposed.items():
        assert shown_ids(page, f"[data-source='{name}'] a[data-item]", "data-item") == [
            i["item_id"] for i in items]
    assert page.locator("#user-events tr").count() == 16  # the heading and 15 events
    # reading one user's events is audited, as an export is, naming nobody in clear
    audit = api(shop.url, "/v1/admin/audit")["entries"]
    assert any(e["action"] == "events.read" and e["details"] == {"events": 15} for e in audit)
    assert not any("user-1" in json.dumps(e) for e in audit)
    page.click(f"#recommendations-table a[data-item='{first['item_id']}']")
    wait_for_item(page, first["item_id"])


def test_evaluation_shows_the_reports_and_plots_in_the_data_dir(shop: Any, page: Page) -> None:
    open_page(page, shop.url, "evaluation")
    report = page.locator("[data-report='evaluation-results/shop-prequential.json']")
    assert "streamrec" in report.inner_text() and "0.2512" in report.inner_text()
    plot = page.locator("[data-plot='evaluation-results/shop-prequential-hr-over-stream.png'] img")
    assert plot.evaluate("image => image.complete && image.naturalWidth > 0")


def test_experiments_page_opens(shop: Any, page: Page) -> None:
    open_page(page, shop.url, "experiments")
    assert page.locator("#no-experiments-api, #no-experiments, [data-experiment]").count() >= 1


def test_every_page_loads_and_its_time_is_reported(shop: Any, page: Page, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Time from navigation to the page showing its data, per page: printed, not asserted."""
    times = {}
    for name, query in (("overview", ""), ("events", ""), ("items", "id=jackets-1"),
                        ("users", "id=user-1"), ("evaluation", ""), ("experiments", "")):
        times[name] = round(open_page(page, shop.url, name, query), 1)
        page.screenshot(path=tmp_path / f"{name}.png", full_page=True)
    (tmp_path / "load-times.json").write_text(json.dumps(times, indent=2))
    with capsys.disabled():
        print("\ndashboard load times (ms, navigation to the data shown): "
              + ", ".join(f"{n} {t}" for n, t in times.items()))
    assert set(times) == set(PAGES)


def create_key(cli: Any, data_dir: Path, scope: str) -> str:
    done = cli(["keys", "create", "--scope", scope, "--data-dir", str(data_dir)],
               cwd=data_dir.parent)
    assert done.returncode == 0, done.stderr
    key: str = done.stdout.strip().splitlines()[-1]
    return key


def use_key(page: Page, key: str) -> None:
    page.fill("#key-input", key)
    page.click("#key-form button[type=submit]")


def test_pages_need_the_apis_keys_and_scopes(start_module_server: Any, page: Page,
                                             streamrec_cli: Any) -> None:
    keyed = start_module_server()
    read, admin = (create_key(streamrec_cli, keyed.data_dir, s) for s in ("read", "admin"))
    page.goto(f"{keyed.url}/dashboard#/overview")
    page.wait_for_selector("[data-error='401']", timeout=LOADED_S * 1000)
    assert page.locator("[data-figure]").count() == 0
    use_key(page, read)
    page.wait_for_selector("main[data-loaded=overview]", timeout=LOADED_S * 1000)
    assert figure(page, "events") == 0
    page.goto(f"{keyed.url}/dashboard#/events")  # the tab keeps its key
    page.wait_for_selector("[data-error='403']", timeout=LOADED_S * 1000)
    use_key(page, admin)
    page.wait_for_selector("main[data-loaded=events]", timeout=LOADED_S * 1000)
    page.click("#key-forget")
    page.wait_for_selector("[data-error='401']", timeout=LOADED_S * 1000)
    assert page.evaluate("() => sessionStorage.length") == 0


def test_evaluations_never_list_nor_serve_the_engines_own_files(shop: Any) -> None:
    (shop.data_dir / "secret.json").write_text("{}")  # beside pseudonyms.json, keys.db
    listed = [f["path"] for f in api(shop.url, "/v1/evaluations")["files"]]
    assert listed and all(p.startswith("evaluation-results/") for p in listed)
    for path in ("secret.json", "pseudonyms.json", "keys.db", "evaluation-results/../secret.json",
                 "evaluation-results/%2E%2E/secret.json", "snapshots", "tensorboard/x.png"):
        response = httpx.get(f"{shop.url}/v1/evaluations/{path}", timeout=30.0)
        assert response.status_code == 404, path


def shown_number(value: float) -> str:
    """A number as the dashboard writes it (at most four decimals, no trailing zeros)."""
    return f"{value:.4f}".rstrip("0").rstrip(".")


def test_the_experiments_page_names_the_better_variant_as_the_api_does(
        start_module_server: Any, page: Page) -> None:
    server = start_module_server()
    users = [f"shopper{n}" for n in range(400)]
    click_rate = {"control": 0.15, "diverse": 0.30}  # the simulated users prefer "diverse"
    items = [{"item_id": f"{c}{n}", "attributes": {"category": c}}
             for c in ("coats", "shoes", "bags") for n in range(8)]
    rng = random.Random(3)
    with httpx.Client(base_url=server.url, timeout=60.0) as client:
        assert client.post("/v1/items", json={"items": items}).status_code == 200
        views = [{"user_id": user, "item_id": item["item_id"], "type": "view"}
                 for user in users for item in rng.sample(items, 3)]
        assert client.post("/v1/events", json={"events": views}).status_code == 200
        started = client.post("/v1/experiments", json={
            "name": "diversity-test", "goal": "click", "variants": [
                {"name": "control"},
                {"name": "diverse", "overrides": {
                    "serving.max_per_category": 2,
                    "models.hybrid.disabled_sources": ["cooccurrence"]}}]})
        assert started.status_code == 201, started.text
        clicks, assigned = [], {}
        for user in users:
            found = client.get(f"/v1/users/{user}/recommendations", params={"k": 6}).json()
            assigned[user] = found["variant"]
            if rng.random() < click_rate[found["variant"]]:
                clicks.append({"user_id": user, "item_id": found["items"][0]["item_id"],
                               "type": "click",
                               "context": {"recommendation_id": found["recommendation_id"]}})
        assert client.post("/v1/events", json={"events": clicks}).status_code == 200
        report = client.get("/v1/experiments").json()["experiments"][0]
    assert report["winner"] == "diverse", report
    open_page(page, server.url, "experiments")
    shown = page.locator("[data-experiment='diversity-test']")
    assert shown.locator("[data-verdict]").inner_text() == report["verdict"]
    assert shown.locator("tr.winner").get_attribute("data-variant") == "diverse"
    for variant in report["variants"]:
        name = variant["name"]
        assert page.inner_text(f"[data-ctr='{name}']") == shown_number(variant["ctr"])
    versus = next(v for v in report["variants"] if v["name"] == "diverse")["vs_control"]
    assert versus["ci_low"] > 0  # the interval excludes zero, and the page shows it
    assert (f"({shown_number(versus['ci_low'])} – {shown_number(versus['ci_high'])})"
            in page.inner_text("[data-difference='diverse']"))
    # a user's page says which variant their list was made in, and shows what the sources
    # proposed under that variant's plan (a source it turns off proposes nothing)
    diverse = next(user for user, variant in assigned.items() if variant == "diverse")
    open_page(page, server.url, "users", f"id={diverse}")
    assert "experiment diversity-test, variant diverse" in page.inner_text("#list-facts")
    assert page.locator("[data-source='cooccurrence'] a[data-item]").count() == 0
    control = next(user for user, variant in assigned.items() if variant == "control")
    open_page(page, server.url, "users", f"id={control}")
    assert page.locator("[data-source='cooccurrence'] a[data-item]").count() > 0
