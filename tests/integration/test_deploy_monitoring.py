"""deploy/'s monitoring against a real server: every alert rule is complete, and every
streamrec metric that a rule or a Grafana panel names is in a running server's /metrics (a
typo there would make an alert that never fires). ``promtool`` (Debian's prometheus package)
checks the rules and runs their unit tests where it is installed."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.integration

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "streamrec-alerts.yml"
RULE_TESTS = DEPLOY / "prometheus" / "streamrec-alerts.test.yml"
DASHBOARD = DEPLOY / "grafana" / "streamrec-dashboard.json"
SEVERITIES = {"info", "warning", "critical"}
# node exporter's, not streamrec's: the disk rule and panel read them from its job
NODE_EXPORTER_METRICS = {"node_filesystem_avail_bytes", "node_filesystem_size_bytes"}
METRIC_NAME = re.compile(r"\b((?:streamrec|node)_[a-zA-Z0-9_]+)")


@pytest.fixture(scope="module")
def served_metrics(base_url: str) -> set[str]:
    """Sample names a running server exposes, once it has taken a write and a read."""
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        event = {"user_id": "mon-u", "item_id": "mon-i", "type": "view"}
        assert client.post("/v1/events", json={"events": [event]}).status_code == 200
        assert client.get("/v1/users/mon-u/recommendations").status_code == 200
        text = client.get("/metrics").text
    return {sample.name for family in text_string_to_metric_families(text)
            for sample in family.samples}


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def panel_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def unknown_metrics(expr: str, served: set[str]) -> list[str]:
    return [name for name in METRIC_NAME.findall(expr)
            if name not in served and name not in NODE_EXPORTER_METRICS]


def test_every_rule_is_complete() -> None:
    found = rules()
    assert found
    for rule in found:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
    names = [rule["alert"] for rule in found]
    assert len(names) == len(set(names))


def test_rules_name_only_metrics_a_server_exposes(served_metrics: set[str]) -> None:
    assert "streamrec_learn_lag_events" in served_metrics  # the parse found the samples
    for rule in rules():
        assert unknown_metrics(rule["expr"], served_metrics) == [], rule["alert"]


def test_rules_watch_what_an_operator_must_hear_about() -> None:
    exprs = " ".join(rule["expr"] for rule in rules())
    for watched in ("streamrec_learn_lag_events", 'status=~"5.."', "histogram_quantile(0.99",
                    "node_filesystem_avail_bytes", "streamrec_snapshot_age_seconds",
                    "streamrec_refit_failing", "streamrec_refit_failures_total"):
        assert watched in exprs


def test_dashboard_panels_name_only_metrics_a_server_exposes(
        served_metrics: set[str]) -> None:
    exprs = panel_exprs()
    assert len(exprs) >= 10
    for expr in exprs:
        assert METRIC_NAME.search(expr), expr
        assert unknown_metrics(expr, served_metrics) == [], expr
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_a_typo_in_a_metric_is_caught(served_metrics: set[str]) -> None:
    assert unknown_metrics("rate(streamrec_http_request_total[5m])", served_metrics) == [
        "streamrec_http_request_total"]


@pytest.fixture
def promtool(system_tool: Callable[[str, str], str]) -> str:
    # skipped without it, failed under CI=true (where .ci/run installs it)
    return system_tool("promtool", "prometheus")


def test_promtool_checks_the_rules(promtool: str) -> None:
    done = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_rules_fire_on_the_series_they_are_written_for(promtool: str) -> None:
    done = subprocess.run([promtool, "test", "rules", str(RULE_TESTS)],
                          capture_output=True, text=True, timeout=60, check=False,
                          cwd=RULE_TESTS.parent)
    assert done.returncode == 0, done.stdout + done.stderr
