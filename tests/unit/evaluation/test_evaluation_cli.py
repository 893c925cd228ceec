"""``streamrec evaluate`` end to end on a small events file: JSON, table and plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import typer
from typer.testing import CliRunner

from streamrec.cli.evaluate import evaluate


def test_evaluate_writes_json_table_and_plots(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    lines = ["user_id,item_id,type,timestamp"]
    for t in range(600):
        user = int(rng.integers(0, 30))
        item = (user % 3) * 10 + int(rng.integers(0, 10))
        lines.append(f"u{user},i{item},view,{1_700_000_000 + t}")
    data = tmp_path / "events.csv"
    data.write_text("\n".join(lines) + "\n")
    app = typer.Typer()
    app.command()(evaluate)
    out = tmp_path / "out" / "report.json"
    result = CliRunner().invoke(app, [
        "--data", str(data), "--protocol", "prequential", "--models", "pop,cooc",
        "--k", "5", "--json", str(out), "--plots", str(tmp_path / "plots"), "--jobs", "1",
        "--no-tune"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["protocol"] == "prequential" and report["settings"]["k"] == 5
    assert [r["model"] for r in report["results"]] == ["pop", "cooc"]
    assert "hr@5" in report["results"][0]
    assert out.with_suffix(".md").read_text().startswith("| model | HR@5 |")
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "events-prequential-hr-over-stream.png", "events-prequential-latency.png"]


def test_a_bad_protocol_is_reported_not_raised(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(evaluate)
    result = CliRunner().invoke(app, ["--data", "synthetic:10", "--protocol", "random"])
    assert result.exit_code == 2
    assert "protocol" in result.output


def test_a_synthetic_log_comes_with_its_catalogue() -> None:
    """The shop's items (attributes and text) are known before its stream, as for real data
    sets with an item file: content and attribute features have something to read."""
    from streamrec.evaluation.datasets import load_log

    loaded = load_log("synthetic:3000")
    catalogue = {item.item_id: item for item in loaded.items}
    assert set(loaded.events.item_ids) <= set(catalogue)
    assert all(item.attributes.get("category") and item.text for item in catalogue.values())
