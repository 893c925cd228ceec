"""Sparse cuts of a log (``evaluation/sparse.py``) and the slow synthetic shop: what a small
shop's stream looks like, for the sparse-regime benchmarks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from streamrec.cli.evaluate import evaluate
from streamrec.evaluation.dense_events import DenseEvents
from streamrec.evaluation.sparse import sparsify
from streamrec.types import Event

pairs = st.lists(st.tuples(st.integers(0, 8), st.integers(0, 8)), min_size=1, max_size=120)


def _log(rows: list[tuple[int, int]]) -> DenseEvents:
    return DenseEvents.from_events(
        [Event(f"u{u}", f"i{i}", "rating", float(t), value=float(1 + t % 5))
         for t, (u, i) in enumerate(rows)])


@settings(max_examples=60, deadline=None)
@given(pairs, st.integers(1, 5), st.integers(1, 4))
def test_every_user_and_item_left_has_k_events_and_no_user_more_than_n(
        rows: list[tuple[int, int]], most: int, k: int) -> None:
    events = _log(rows)
    cut = sparsify(events, max_per_user=most, kcore=k)
    if len(cut):
        assert np.bincount(cut.users).min() >= k and np.bincount(cut.items).min() >= k
        assert np.bincount(cut.users).max() <= most
    # what is kept are events of the log, in replay order, with their ratings
    kept = {(cut.user_ids[u], cut.item_ids[i], float(t), float(v)) for u, i, t, v in
            zip(cut.users, cut.items, cut.timestamps, cut.values, strict=True)}
    every = {(events.user_ids[u], events.item_ids[i], float(t), float(v)) for u, i, t, v in
             zip(events.users, events.items, events.timestamps, events.values, strict=True)}
    assert kept <= every and np.all(np.diff(cut.timestamps) >= 0)
    # dense ids in order of first appearance, as the protocols expect
    for ids in (cut.users, cut.items):
        assert np.all(np.diff(np.unique(ids, return_index=True)[1]) > 0)
    assert sparsify(events, most, k).users.tolist() == cut.users.tolist()  # deterministic


def test_the_cut_is_spread_over_a_users_time_not_their_first_events() -> None:
    events = _log([(0, i) for i in range(100)])
    cut = sparsify(events, max_per_user=10)
    assert len(cut) == 10 and cut.timestamps.max() > 50


def test_evaluate_cuts_the_log_and_names_the_cut(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    lines = ["user_id,item_id,type,timestamp,value"]
    for t in range(800):
        user, item = int(rng.integers(0, 40)), int(rng.integers(0, 30))
        lines.append(f"u{user},i{item},rating,{1_700_000_000 + t},{1 + t % 5}")
    data = tmp_path / "reviews.csv"
    data.write_text("\n".join(lines) + "\n")
    app = typer.Typer()
    app.command()(evaluate)
    result = CliRunner().invoke(app, [
        "--data", str(data), "--models", "pop", "--max-per-user", "6", "--kcore", "3",
        "--jobs", "1", "--no-tune", "--plots", str(tmp_path / "plots"),
        "--json", str(tmp_path / "report.json")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["settings"]["max_per_user"] == 6 and report["settings"]["kcore"] == 3
    assert report["results"][0]["queries"] <= 40 * 6
    assert any(p.name.startswith("reviews-max6-core3-") for p in (tmp_path / "plots").iterdir())


def test_a_bad_cut_is_a_message_not_a_traceback() -> None:
    app = typer.Typer()
    app.command()(evaluate)
    result = CliRunner().invoke(app, ["--data", "synthetic:100", "--kcore", "0"])
    assert result.exit_code == 2 and "kcore" in result.output
    result = CliRunner().invoke(app, ["--data", "synthetic:100", "--kcore", "1000"])
    assert result.exit_code == 2 and "left after the cut" in result.output


def test_the_slow_shop_is_sparse_and_spans_years() -> None:
    from streamrec.evaluation.datasets import load_log

    loaded = load_log("synthetic-slow:3000")
    events = loaded.events
    assert len(events) == 3000 and len(events) / events.n_users < 12
    assert events.timestamps[-1] - events.timestamps[0] > 5 * 365 * 86400
    assert set(events.item_ids) <= {item.item_id for item in loaded.items}
