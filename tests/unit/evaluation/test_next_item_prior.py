"""evaluation/next_item_prior.py and `streamrec fit-ranker`: starting weights fit on a replay
of a log, checked on its held-out end, printed as the setting a server starts with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streamrec.cli.main import app
from streamrec.engine.engine import Engine
from streamrec.evaluation.datasets import load_log
from streamrec.evaluation.next_item_prior import fit_next_item_prior
from streamrec.ranking.features import layout
from streamrec.ranking.hybrid import HybridConfig
from streamrec.settings import Settings

FEATURES = layout().features


def test_a_fit_on_a_shop_log_ranks_held_out_choices_better_than_the_built_in_prior() -> None:
    # the synthetic shop's sessions stay in a category: the built-in prior (attribute
    # matches at 0) leaves that unused, a fit on the log's own lessons should find it
    loaded = load_log("synthetic:20000")
    fit = fit_next_item_prior(loaded.events, loaded.items, max_lessons=1500, epochs=5)
    assert fit.fit_lessons > 100 and fit.held_out_lessons > 30
    assert set(fit.prior) == set(FEATURES)
    assert fit.is_better
    assert fit.prior["attribute_last"] > 0.0
    HybridConfig(prior=fit.prior)  # the setting accepts it


def test_held_out_must_leave_something_to_fit_on() -> None:
    loaded = load_log("synthetic:2000")
    with pytest.raises(ValueError, match="held_out"):
        fit_next_item_prior(loaded.events, held_out=1.0)


def test_fit_ranker_reads_a_servers_data_dir_and_prints_the_setting(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    loaded = load_log("synthetic:6000")
    engine = Engine.open(Settings(data_dir=data_dir))
    try:
        engine.upsert_items(loaded.items)
        events = [loaded.events.event(n) for n in range(len(loaded.events))]
        engine.ingest(events)
    finally:
        engine.close()
    weights_file = tmp_path / "prior.json"
    result = CliRunner().invoke(app, ["fit-ranker", "--data-dir", str(data_dir),
                                      "--max-lessons", "500", "--output", str(weights_file)])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.stdout.splitlines() if x.startswith("STREAMREC_MODELS"))
    printed = json.loads(line.split("=", 1)[1].strip("'"))
    assert printed == json.loads(weights_file.read_text())
    assert set(printed) == set(FEATURES)


def test_fit_ranker_on_an_empty_data_dir_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["fit-ranker", "--data-dir", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "no event log" in result.output
