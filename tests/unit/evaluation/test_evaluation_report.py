"""A whole run on a small log: the report's shape, the table and the plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from streamrec.evaluation import EvaluationConfig, evaluate, markdown_table, to_report, write_json
from streamrec.evaluation.dense_events import DenseEvents
from streamrec.evaluation.plots import write_plots
from streamrec.types import Event


def small_log(n: int = 1_500) -> DenseEvents:
    """Users favour one of 4 item groups: enough structure for every model to learn."""
    rng = np.random.default_rng(3)
    users = rng.integers(0, 60, n)
    items = (users % 4) * 10 + rng.integers(0, 10, n)
    rows = enumerate(zip(users.tolist(), items.tolist(), strict=True))
    return DenseEvents.from_events(Event(f"u{u}", f"i{i}", "view", float(t)) for t, (u, i) in rows)


@pytest.mark.parametrize("protocol", ["prequential", "temporal", "leave-last-out"])
def test_a_run_reports_every_figure(protocol: str, tmp_path: Path) -> None:
    config = EvaluationConfig(data="small", protocol=protocol, k=5,
                              models=("pop", "cooc", "decay"), windows=5)
    seen: list[tuple[str, str]] = []
    report = to_report(evaluate(config, lambda m, p, d, t: seen.append((m, p)),
                                events=small_log()))
    assert report["protocol"] == protocol and report["data"] == "small"
    assert [r["model"] for r in report["results"]] == ["pop", "cooc", "decay"]
    for row in report["results"]:
        for key in ("hr@5", "recall@5", "ndcg@5", "mrr@5", "coverage", "novelty", "queries",
                    "learn_events_per_s", "query_ms_p50", "query_ms_p99"):
            assert row[key] is not None, key
        assert 0.0 <= row["hr@5"] <= 1.0
        assert row["queries"] == report["settings"]["queries"] > 0
    assert report["settings"]["tuning"]["decay"]["candidates"]  # decay was tuned
    assert ("decay", "tuning") in seen and ("pop", "evaluating") in seen
    if protocol == "prequential":
        assert len(report["results"][0]["windows"]["hr@5"]) == 5
    write_json(report, tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text()) == report
    table = markdown_table(report)
    assert table.count("\n") == 2 + 3 and "| HR@5 |" in table


def test_plots_are_drawn_from_the_report_alone(tmp_path: Path) -> None:
    config = EvaluationConfig(data="small", k=5, models=("pop", "cooc"), windows=5, tune=False)
    report = json.loads(json.dumps(to_report(evaluate(config, events=small_log()))))
    written = write_plots(report, tmp_path, "small")
    assert [p.name for p in written] == ["small-hr-over-stream.png", "small-latency.png"]
    assert all(p.stat().st_size > 10_000 for p in written)


def test_co_occurrence_beats_popularity_on_grouped_tastes() -> None:
    config = EvaluationConfig(data="small", k=5, models=("pop", "cooc"), tune=False)
    report = to_report(evaluate(config, events=small_log()))
    pop, cooc = report["results"]
    assert cooc["hr@5"] > pop["hr@5"]


def test_bad_settings_are_refused_by_name() -> None:
    from streamrec.errors import InvalidInput

    with pytest.raises(InvalidInput, match="models"):
        evaluate(EvaluationConfig(data="x", models=("nope",)), events=small_log(10))
    with pytest.raises(InvalidInput, match="protocol"):
        evaluate(EvaluationConfig(data="x", protocol="random"), events=small_log(10))


def test_the_api_key_is_never_reported() -> None:
    config = EvaluationConfig(data="small", k=5, models=("pop",), tune=False, api_key="s3cret")
    report = to_report(evaluate(config, events=small_log(200)))
    assert "s3cret" not in json.dumps(report) and "s3cret" not in repr(config)


@pytest.mark.parametrize("protocol,metric", [("prequential", "hr@5"), ("temporal", "ndcg@5")])
def test_the_report_sets_streamrec_against_the_best_peer(protocol: str, metric: str) -> None:
    config = EvaluationConfig(data="small", protocol=protocol, k=5, tune=False,
                              models=("streamrec-defaults", "pop", "cooc"))
    report = to_report(evaluate(config, events=small_log()))
    rows = {row["model"]: row for row in report["results"]}
    best = max(("pop", "cooc"), key=lambda model: rows[model][metric])
    versus = rows["streamrec-defaults"]["versus_best_peer"]
    assert versus["model"] == best and versus["metric"] == metric
    assert versus["difference"] == pytest.approx(
        rows["streamrec-defaults"][metric] - rows[best][metric], abs=2e-5)
    assert versus["low"] <= versus["difference"] <= versus["high"]
    assert "versus_best_peer" not in rows["pop"]
    assert f"(the best peer), {metric.upper()}" in markdown_table(report)
