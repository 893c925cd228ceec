"""The dashboard on the demo shop: how long each page takes to show its data, and a
screenshot of each, for docs/dashboard.md.

Serves `streamrec demo` (2,000 items, 1,000 users, 50,000 events) from a temporary data
directory, writes a small `streamrec evaluate` run into it (for the evaluation page), starts
an experiment and sends traffic (lists, views, and clicks that favour one variant: the
overview's rates and the experiments page have something to show), then opens each
page in headless Chromium (Debian's package, driven by Playwright) several times afresh.
A page's time is from navigation start to the moment it has drawn the API's data (its
'dashboard-loaded' performance mark): the median of the loads, and the slowest.

    python bench/dashboard.py [--loads 5] [--shots docs/dashboard] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]
TRAFFIC_S = 20.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMREC_")}
    env.update({"OPENBLAS_NUM_THREADS": "1", "STREAMREC_DASHBOARD__SAMPLE_S": "1"})
    return env


def serve_demo(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "streamrec.cli.main", "demo",
                               "--data-dir", str(root / "data"), "--port", str(port)],
                              env=environment(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, cwd=root)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return server, url
        except httpx.TransportError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit("the demo did not start within 300 s")


def evaluation_run(root: Path) -> None:
    """A small prequential run written into the data dir, as an operator would."""
    reports = root / "data" / "evaluation-results"
    subprocess.run([sys.executable, "-m", "streamrec.cli.main", "evaluate",
                    "--data", "synthetic:20000", "--models", "streamrec,pop,cooc",
                    "--sample", "10", "--json", str(reports / "synthetic-20000-prequential.json")],
                   env=environment(), check=True, cwd=root, stdout=subprocess.DEVNULL)


EXPERIMENT = {"name": "two-per-category", "goal": "click",
              "description": "at most two items per category against the engine's lists",
              "variants": [{"name": "control"},
                           {"name": "diverse", "overrides": {"serving.max_per_category": 2}}]}
CLICK_RATE = {"control": 0.10, "diverse": 0.18}  # simulated shoppers who prefer variety


def traffic(url: str, seconds: float) -> None:
    """Bounded: lists for the demo's users, a few views, and clicks on the lists at the
    rate of the user's variant of an experiment started first, for `seconds`."""
    stop = time.monotonic() + seconds
    rng = random.Random(7)
    n = 0
    with httpx.Client(base_url=url, timeout=30) as client:
        client.post("/v1/experiments", json=EXPERIMENT).raise_for_status()
        while time.monotonic() < stop:
            user = f"u{n % 1000}"
            found = client.get(f"/v1/users/{user}/recommendations", params={"k": 10}).json()
            events = []
            if found.get("variant") and rng.random() < CLICK_RATE[found["variant"]]:
                events.append({"user_id": user, "item_id": found["items"][0]["item_id"],
                               "type": "click",
                               "context": {"recommendation_id": found["recommendation_id"]}})
            if n % 5 == 0:
                events.append({"user_id": user, "item_id": f"i{(n * 7) % 2000}",
                               "type": "view"})
            if events:
                client.post("/v1/events", json={"events": events}).raise_for_status()
            n += 1


def load(page: Page, url: str, target: str) -> float:
    page.goto("about:blank")
    page.goto(f"{url}/dashboard#/{target}")
    page.wait_for_selector("main[data-loaded]", timeout=60_000)
    shown: float = page.evaluate(
        "() => performance.getEntriesByName('dashboard-loaded')[0].startTime")
    return shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--shots", type=Path, default=REPO / "docs" / "dashboard")
    parser.add_argument("--json", type=Path, default=None)
    options = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("chromium is not installed (Debian: apt-get install chromium)")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        server, url = serve_demo(root)
        try:
            print("demo served; a small evaluation run for the evaluation page ...",
                  file=sys.stderr)
            evaluation_run(root)
            print(f"{TRAFFIC_S:.0f} s of traffic ...", file=sys.stderr)
            traffic(url, TRAFFIC_S)
            newest = httpx.get(f"{url}/v1/admin/events", params={"limit": 50}).json()["events"]
            user = next(e["user_id"] for e in newest if e.get("user_id"))
            listed = httpx.get(f"{url}/v1/users/{user}/recommendations").json()["items"]
            pages = {"overview": "overview", "events": "events",
                     "items": f"items?id={listed[0]['item_id']}", "users": f"users?id={user}",
                     "evaluation": "evaluation", "experiments": "experiments"}
            report = measure(url, pages, chromium, options.loads, options.shots)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
    print("| page | median ms | slowest ms |\n| --- | ---: | ---: |")
    for name, figures in report.items():
        print(f"| {name} | {figures['median_ms']} | {figures['max_ms']} |")
    if options.json:
        options.json.write_text(json.dumps(report, indent=2) + "\n")


def measure(url: str, pages: dict[str, str], chromium: str, loads: int,
            shots: Path) -> dict[str, Any]:
    shots.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        for name, target in pages.items():
            times = [load(page, url, target) for _ in range(loads)]
            report[name] = {"median_ms": round(statistics.median(times), 1),
                            "max_ms": round(max(times), 1), "loads": loads}
            page.wait_for_timeout(300)  # the charts' last frame
            page.screenshot(path=shots / f"{name}.png", full_page=True,
                            clip={"x": 0, "y": 0, "width": 1280, "height": 1400})
            print(f"{name}: {report[name]}", file=sys.stderr)
        browser.close()
    return report


if __name__ == "__main__":
    main()
