"""The per-component size report (engine/sizes.py): it names every part of the state, and
its figures grow as the state learns."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from streamrec.engine.sizes import process_rss_bytes, state_sizes
from streamrec.engine.state import EngineState
from streamrec.settings import Settings
from streamrec.storage.impressions import Impression, MemoryImpressions, ranked_list
from streamrec.types import Event, Item, LoggedEvent

EventFactory = Callable[..., Event]


def learn(state: EngineState, events: list[Event]) -> None:
    state.apply([LoggedEvent(state.offset + n + 1, e) for n, e in enumerate(events)])


def a_state(tmp_path: Path) -> EngineState:
    return EngineState(Settings(data_dir=tmp_path / "data"), inline_training=True)


def test_every_component_of_the_state_is_reported(tmp_path: Path) -> None:
    state = a_state(tmp_path)
    report = state_sizes(state, also={"impressions": MemoryImpressions()})
    expected = {"vocabulary.users", "vocabulary.items", "histories", "identities",
                "impressions", "ranker", "catalogue", "other",
                *(f"models.{name}" for name in state.models)}
    assert expected <= set(report.components)
    assert {"models.als", "models.cooccurrence", "models.popularity",
            "models.content"} <= set(report.components)
    assert all(size > 0 for name, size in report.components.items() if name != "other")
    assert report.total == sum(report.components.values())
    assert set(report.parts) == set(report.components)
    # each attribute of the state is in a component: named, a model, or under "other"
    covered = {"users", "items", "last_active", "histories", "identities", "ranker", "experiments",
               "pending_fits", "available", "attributes", "models", "scorers",
               "_refittables", "_making_room", "lock", "cut", "fit_begun", "settings",
               "artefacts",
               "updated_at", "catalogue_version", "_encoded_attributes", "_saved_attributes",
               "_attributes_changed", "_unavailable",
               *report.parts["other"]}
    assert set(vars(state)) <= covered
    body = report.as_dict()
    assert body["total_bytes"] == report.total and body["components"] == report.components


def test_sizes_grow_with_learned_events_and_name_the_parts_that_grew(
        tmp_path: Path, make_event: EventFactory) -> None:
    state = a_state(tmp_path)
    impressions = MemoryImpressions()
    before = state_sizes(state, also={"impressions": impressions})
    state.apply_items([Item(f"i{n}", {"category": f"c{n % 5}"}, f"item number {n}")
                       for n in range(200)])
    rng = np.random.default_rng(0)
    learn(state, [make_event(f"u{u}", f"i{i}") for u, i in
                  zip(rng.integers(0, 300, 6_000).tolist(), rng.integers(0, 200, 6_000).tolist(),
                      strict=True)])
    shown = ranked_list([f"i{n}" for n in range(10)], np.ones(10), [["popular now"]] * 10)
    impressions.remember("r1", Impression("u1", shown, 0, 10))
    after = state_sizes(state, also={"impressions": impressions})
    for name in ("vocabulary.users", "vocabulary.items", "histories", "impressions",
                 "models.popularity", "models.cooccurrence", "models.als", "models.content",
                 "catalogue"):
        assert after.components[name] > before.components[name], name
    assert after.total > before.total
    # an array's buffer is counted: 6,000 events of 24 bytes each in the histories at least
    assert after.components["histories"] >= 6_000 * 24
    # the ALS model was fitted (6,000 events > refit_min_events): its factors are named
    assert state.models["als"].is_fitted  # type: ignore[attr-defined]
    assert after.parts["models.als"]["_item_factors"] >= 200 * 64 * 4
    assert after.parts["models.cooccurrence"]["_pairs"] > 0


def test_a_view_counts_its_buffer_once(tmp_path: Path) -> None:
    state = a_state(tmp_path)
    buffer = np.zeros(1_000_000, dtype=np.uint8)
    state.extra_views = [buffer[:10], buffer[10:], buffer]  # type: ignore[attr-defined]
    other = state_sizes(state).parts["other"]["extra_views"]
    assert 1_000_000 <= other < 1_010_000


def test_the_process_resident_memory_is_read() -> None:
    rss = process_rss_bytes()
    assert rss is None or rss > 10 * 2**20


def test_bounded_parts_are_reported_against_their_budgets_and_stop_growing(
        tmp_path: Path, make_event: EventFactory) -> None:
    """Past its budget, a structure stays within it while the stream goes on: a few users
    and items, many events (neighbours per item, items per user, events per user)."""
    settings = Settings(data_dir=tmp_path / "data", events={"history_length": 20},
                        models={"cooccurrence": {"max_neighbours": 5, "window": 10},
                                "als": {"max_items_per_user": 8,
                                        "refit_min_events": 10**9}})
    state = EngineState(settings, inline_training=True)
    rng = np.random.default_rng(0)
    impressions = MemoryImpressions(capacity=3)
    seen: list[dict[str, int | None]] = []
    for round_ in range(4):
        learn(state, [make_event(user_id=f"u{rng.integers(6)}", item_id=f"i{rng.integers(40)}",
                                 timestamp=1_000.0 + round_ * 500 + n) for n in range(500)])
        budgets = state_sizes(state, also={"impressions": impressions}).budgets
        seen.append({name: b["largest"] for name, b in budgets.items()})
        for name, budget in budgets.items():
            if budget["most"] is not None:
                assert budget["largest"] <= budget["most"], name
    neighbours = budgets["models.cooccurrence.neighbours"]
    assert neighbours["setting"] == "models.cooccurrence.max_neighbours"
    assert (neighbours["budget"], neighbours["most"]) == (5, 9)
    assert neighbours["count"] == 40 and neighbours["bytes"] <= neighbours["most_bytes"]
    assert budgets["models.als.items_per_user"]["most"] == 15
    assert budgets["histories.events"]["budget"] == 20
    assert budgets["models.cooccurrence.recent"]["most"] == 10
    assert budgets["impressions"] == {"setting": "serving.impressions_kept", "budget": 3,
                                      "per": "process", "count": 0, "largest": 0, "most": 3,
                                      "bytes": None, "most_bytes": None}
    # without a budget, the same stream fills rows far past it
    unbounded = EngineState(Settings(data_dir=tmp_path / "other", models={
        "cooccurrence": {"max_neighbours": 0}, "als": {"refit_min_events": 10**9}}))
    learn(unbounded, [make_event(user_id=f"u{rng.integers(6)}", item_id=f"i{rng.integers(40)}",
                                 timestamp=1_000.0 + n) for n in range(2_000)])
    free = state_sizes(unbounded).budgets["models.cooccurrence.neighbours"]
    assert free["budget"] is None and free["most"] is None and free["largest"] > 9


def test_an_ann_index_is_counted_with_the_memory_faiss_holds(tmp_path: Path) -> None:
    from streamrec.ranking.ann import ANNConfig, VectorIndex

    vectors = np.random.default_rng(3).standard_normal((2_000, 16)).astype(np.float32)
    index = VectorIndex(vectors, ANNConfig(lists=8))
    assert index.memory >= vectors.nbytes  # IVF,Flat keeps every vector
    state = a_state(tmp_path)
    before = state_sizes(state).components["ranker"]
    state.ranker.indexes._built["als"] = [(vectors, index)]
    report = state_sizes(state)
    assert report.components["ranker"] - before >= index.memory
    assert report.parts["ranker"]["indexes"] >= index.memory
