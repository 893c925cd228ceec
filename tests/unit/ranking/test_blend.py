"""The self-measuring blend (ranking/blend.py): online figures, Hedge weights, replay."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrec.engine.state import EngineState
from streamrec.evaluation.dense_events import DenseEvents
from streamrec.evaluation.peers.base import PeerContext
from streamrec.evaluation.peers.streamrec_engine import StreamrecPeer
from streamrec.evaluation.prequential import run_prequential
from streamrec.evaluation.queries import query_positions
from streamrec.ranking.blend import BLEND, Blend
from streamrec.ranking.hedge import Hedge, HedgeConfig
from streamrec.ranking.online_quality import OnlineQuality
from streamrec.settings import Settings
from streamrec.types import Event, FloatArray, LoggedEvent

T0 = 1_700_000_000.0
POPULAR = ("popularity", "popularity_1000_events", "popularity_10000_events",
           "popularity_all")


def measured_everywhere(**hybrid: Any) -> Settings:
    """Settings whose ranker is tested at every eligible event (its warm-up never ends)."""
    return Settings(models={"hybrid": {"warmup_events": 10**9, **hybrid}})  # type: ignore[arg-type]


def popular_stream(n_users: int, seed: int = 0) -> list[Event]:
    """Users view a few items drawn from one skewed popularity, independently of each other:
    what is popular is the best guess, and items seen together say nothing."""
    rng = np.random.default_rng(seed)
    chances = 1.0 / np.arange(1, 201) ** 1.2
    chances /= chances.sum()
    events, t = [], T0
    for user in range(n_users):
        for item in rng.choice(200, size=int(rng.integers(2, 5)), replace=False, p=chances):
            t += 60.0
            events.append(Event(f"u{user}", f"i{item}", "view", t))
    return events


def paired_stream(n_users: int, seed: int = 0) -> list[Event]:
    """Items come in groups of 4, every group as popular as the next; a user views most of one
    group: what was seen with the user's items is the best guess, popularity says nothing."""
    rng = np.random.default_rng(seed)
    events, t = [], T0
    for user in range(n_users):
        group = int(rng.integers(0, 60))
        for item in rng.permutation(4)[: int(rng.integers(2, 5))]:
            t += 60.0
            events.append(Event(f"u{user}", f"g{group}-{item}", "view", t))
    return events


def learned(events: list[Event], settings: Settings, batch: int = 256) -> EngineState:
    state = EngineState(settings)
    logged = [LoggedEvent(n + 1, event) for n, event in enumerate(events)]
    for start in range(0, len(logged), batch):
        state.apply(logged[start:start + batch])
    return state


def test_online_figures_equal_an_offline_count_of_the_same_lists() -> None:
    """Each online test asks what the engine would have listed just before the event; the
    prequential evaluation asks the engine for that list: same hits, same count."""
    events = DenseEvents.from_events(paired_stream(150) + popular_stream(150, seed=1))
    context = PeerContext(events.user_ids, events.item_ids, refit_every=10**9,
                          mini_batch=1, seed=0)
    peer = StreamrecPeer(context, measured_everywhere())
    positions = query_positions(events.users, events.items)
    run = run_prequential(events, peer, positions, k=10, block=1)
    online = peer.online_quality()[BLEND]
    assert online["measured"] == run.n_queries > 500
    assert round(online["total_hr"] * online["measured"]) == int(run.score("hit").sum())
    assert online["total_ndcg"] == pytest.approx(float(run.score("ndcg").mean()), abs=1e-5)


def test_on_a_stream_where_popularity_is_best_the_blend_follows_it() -> None:
    """~2,700 events; the ranker, starting from a prior that trusts co-occurrence, lags."""
    report = learned(popular_stream(900), measured_everywhere()).ranker.blend.report()
    assert sum(report[name]["weight"] for name in POPULAR) > 0.5
    best = max(report[name]["hr"] for name in report if name != BLEND)
    assert report[BLEND]["hr"] >= 0.95 * best
    assert report["cooccurrence"]["hr"] < best  # the stream is what the test says it is


def test_on_a_stream_where_cooccurrence_is_best_the_blend_follows_it() -> None:
    report = learned(paired_stream(900), measured_everywhere()).ranker.blend.report()
    assert sum(report[name]["weight"] for name in POPULAR) < 0.05
    # the ranker, whose features are mostly co-occurrence's here, is as good and shares it
    assert report["cooccurrence"]["weight"] + report["ranker"]["weight"] > 0.95
    assert report[BLEND]["hr"] >= 0.95 * report["cooccurrence"]["hr"]
    assert report["cooccurrence"]["hr"] > 2 * report["popularity_all"]["hr"]


@settings(max_examples=8, deadline=None)
@given(st.lists(st.integers(1, 300), min_size=1, max_size=6))
def test_the_weights_are_a_function_of_the_log_whatever_its_batches(
        cuts: list[int]) -> None:
    events = popular_stream(120, seed=3) + paired_stream(120, seed=4)
    whole = learned(events, Settings(), batch=len(events)).ranker.blend
    state = EngineState(Settings())
    logged = [LoggedEvent(n + 1, event) for n, event in enumerate(events)]
    start = 0
    for size in cuts * 1000:
        if start >= len(logged):
            break
        state.apply(logged[start:start + size])
        start += size
    assert state.ranker.blend.report() == whole.report()
    contexts = range(whole.config.gap_contexts)
    assert [state.ranker.blend.weights(c).tolist() for c in contexts] == [
        whole.weights(c).tolist() for c in contexts]
    restored = EngineState(Settings())
    restored.restore(state.offset, state.state())
    assert [restored.ranker.blend.weights(c).tolist() for c in contexts] == [
        whole.weights(c).tolist() for c in contexts]
    users = [state.users.lookup(f"u{n}") for n in range(120)]
    assert [restored.ranker.blend.context(u) for u in users] == [
        whole.context(u) for u in users]


@pytest.mark.parametrize("hybrid", [{"hedge": {"enabled": False}},
                                    {"stream_lessons": False}])
def test_with_the_blend_off_the_ranker_alone_orders_lists(hybrid: dict[str, Any]) -> None:
    """The experts are still measured (the figures are worth showing), but lists are the
    learned ranker's: with the blend off, or with stream lessons off (a ranker fit offline to
    another question than the next item, e.g. evaluate's temporal split, must not be mixed
    by next-item evidence)."""
    state = learned(popular_stream(30), Settings(models={"hybrid": hybrid}))  # type: ignore[arg-type]
    assert state.ranker.blend.report()[BLEND]["measured"] > 0
    query = state.query_for(state.users.lookup("u3"), T0 + 1e6)
    candidates = state.ranker.candidates(query, state.scorers, len(state.items))
    assert state.ranker.rank(candidates).tolist() == state.ranker.ftrl.predict(
        candidates.features).tolist()


def visit_then_return_stream(n_users: int, seed: int = 0) -> list[Event]:
    """Each user views two items of one group back to back (what was seen with the first is
    the best guess for the second), then comes back much later, after hundreds of other
    events, for an item drawn from one skewed popularity (the group says nothing then)."""
    rng = np.random.default_rng(seed)
    chances = 1.0 / np.arange(1, 201) ** 1.2
    chances /= chances.sum()
    visits: list[tuple[float, list[tuple[str, str]]]] = []
    for user in range(n_users):
        start = float(rng.uniform(0, 1e6))
        group = int(rng.integers(0, 60))
        pair = rng.permutation(4)[:2]
        visits.append((start, [(f"u{user}", f"g{group}-{pair[0]}"),
                               (f"u{user}", f"g{group}-{pair[1]}")]))
        back = start + float(rng.uniform(2e5, 1e6))
        visits.append((back, [(f"u{user}", f"p{int(rng.choice(200, p=chances))}")]))
    events: list[Event] = []
    for start, views in sorted(visits):
        events.extend(Event(user, item, "view", T0 + start + n)
                      for n, (user, item) in enumerate(views))
    return events


def test_users_in_a_visit_and_users_back_after_long_get_the_weights_their_gap_earned() -> None:
    """Within a visit co-occurrence predicts the next item; a user back after hundreds of
    events takes what is popular. The blend keeps its weights apart by the gap since the
    user's previous event (in events of the log), so each kind of user gets its best expert,
    and the blend beats every single expert, which can be right for one kind only."""
    state = learned(visit_then_return_stream(1500), measured_everywhere())
    blend = state.ranker.blend
    in_visit = dict(zip(blend.experts, blend.weights(0).tolist(), strict=True))
    back = dict(zip(blend.experts, blend.weights(blend.context_of_gap(1000)).tolist(),
                    strict=True))
    assert sum(in_visit[name] for name in POPULAR) < 0.05
    assert in_visit["cooccurrence"] + in_visit["ranker"] > 0.9
    assert sum(back[name] for name in POPULAR) > 0.9
    report = blend.report()
    best = max(report[name]["hr"] for name in report if name != BLEND)
    assert report[BLEND]["hr"] > 1.05 * best
    # one set of weights for everyone (the blend before gap contexts) cannot do that
    single = learned(visit_then_return_stream(1500), measured_everywhere(
        hedge={"gap_contexts": 1})).ranker.blend.report()
    assert single[BLEND]["hr"] < report[BLEND]["hr"]


def test_a_users_gap_counts_the_logs_events_since_their_latest() -> None:
    events = [Event("a", "x", "view", T0), Event("b", "y", "view", T0 + 1),
              *(Event(f"o{n}", "z", "view", T0 + 2 + n) for n in range(20))]
    blend = learned(events, Settings()).ranker.blend  # users numbered by first appearance
    assert blend.context(0) == blend.context_of_gap(21) == 3  # 16-63 events since
    assert blend.context(1) == blend.context_of_gap(20) == 3
    assert blend.context(21) == blend.context_of_gap(0) == 0  # the log's latest event
    assert blend.context(None) == blend.config.gap_contexts - 1  # never seen


def test_an_expert_that_never_scored_a_candidate_has_no_weight() -> None:
    """Content without a catalogue, a model before its first fit: no record, no weight
    (not the even share Hedge gives experts with equal records); the others are paid their
    decayed mean NDCG times their tests."""
    quality = OnlineQuality(("good", "poor", "never", BLEND), k=10, half_life=None)
    items = np.arange(5)
    for _ in range(30):
        good, poor = np.array([5.0, 4, 3, 2, 1]), np.array([1.0, 2, 3, 4, 5])
        quality.measure(np.column_stack((good, poor, np.zeros(5), good)), items, target=0)
    evidence = quality.evidence()
    np.testing.assert_allclose(evidence[:2], [30.0, 30.0 / np.log2(6)])
    assert evidence[2] == -np.inf
    weights = Hedge(("good", "poor", "never"), HedgeConfig(ranker_prior=0.0),
                    "good").weights(evidence[:3])
    assert weights[2] == 0.0 and weights[0] > 0.999


def quality_of(contexts: list[tuple[int, float, float]]) -> OnlineQuality:
    """Tests of two experts in gap contexts: (context, chance "a" ranks the item first,
    chance "b" does), 400 tests each, drawn with a fixed seed."""
    quality = OnlineQuality(("a", "b"), k=10, half_life=None, contexts=4, kernel=0.0)
    rng = np.random.default_rng(7)
    items = np.arange(20)
    for context, a, b in contexts:
        for _ in range(400):
            first = np.linspace(2.0, 1.0, 20)
            a_scores = first if rng.random() < a else first[::-1]
            b_scores = first if rng.random() < b else first[::-1]
            quality.measure(np.column_stack((a_scores, b_scores)), items, 0, 1.0, context)
    return quality


def test_a_context_leans_on_the_pool_unless_its_own_tests_say_it_differs() -> None:
    """Contexts that differ only by noise lean on the pooled evidence as far as their own
    tests go; contexts whose experts truly differ keep their own, the pool worth only a few
    tests."""
    alike = quality_of([(context, 0.3, 0.25) for context in range(4)])
    assert alike.pooled_worth() > 1_200  # the other contexts' tests, all of them
    # its own tests, and as many again at the pooled mean: the pool doubles a context's
    # evidence, never outvotes it (on MovieLens-100K's temporal split it did, and lost)
    own = alike.sums[1, 1] / alike.sums[1, 2]
    pooled = alike.sums[:, 1].sum(axis=0) / alike.sums[:, 2].sum(axis=0)
    np.testing.assert_allclose(alike.evidence(1), 400 * own + 400 * pooled)
    apart = quality_of([(0, 0.6, 0.1), (1, 0.6, 0.1), (2, 0.1, 0.6), (3, 0.1, 0.6)])
    assert apart.pooled_worth() < 40  # of the context's own 400 tests
    assert apart.evidence(0)[0] > apart.evidence(0)[1]
    assert apart.evidence(3)[1] > apart.evidence(3)[0]
    assert apart.evidence()[0] == pytest.approx(apart.evidence()[1], rel=0.1)


def test_the_rate_follows_the_evidence_and_the_blend_keeps_up_with_the_best_expert() -> None:
    """The blend is measured at each multiple of the learning rate at every test; lists use
    the best. Where one expert is best, a rate that makes the blend its ranking does at
    least as well as the default fusion, and the blend stays level with that expert."""
    rates = {"rate_multipliers": [0.25, 1.0, 4.0, 16.0, 64.0]}
    blend = learned(popular_stream(900), measured_everywhere(hedge=rates)).ranker.blend
    means = blend.rates.mean_gains()
    chosen = blend.multipliers.index(blend.multiplier())
    assert means[chosen] == means.max()
    report = blend.report()
    assert report[BLEND]["rate"] == blend.config.learning_rate * blend.multiplier()
    best = max(report[name]["ndcg"] for name in blend.experts)
    assert report[BLEND]["ndcg"] >= 0.97 * best
    fresh = learned(popular_stream(3), measured_everywhere(hedge=rates)).ranker.blend
    assert EngineState(Settings()).ranker.blend.multiplier() == 1.0  # before any test
    assert fresh.rates.report()["rate_1"]["measured"] > 0


def test_the_blend_follows_the_expert_that_got_better_within_a_few_hundred_tests() -> None:
    """EASE or ALS fit on a shop's first thousand events loses to popularity there and
    wins once it has more to learn from: what it lost then must fade, in tests, however
    many events each test stands for (two hundred on a large log, one on a new shop)."""
    def weights_after(span: float) -> tuple[FloatArray, FloatArray]:
        blend = Blend(("early", "late"), HedgeConfig(ranker_prior=0.0, paced_half_lives=[]))
        quality, items = blend.quality, np.arange(5)
        first, last = np.array([5.0, 4, 3, 2, 1]), np.array([1.0, 2, 3, 4, 5])
        silent = np.zeros(5)  # the ranker: no record, no weight
        scores = {"early": np.column_stack((first, last, silent, first)),
                  "late": np.column_stack((last, first, silent, first))}
        for _ in range(2_000):  # "early" finds the item first, "late" last
            quality.measure(scores["early"], items, 0, span, 0, fade=1.0)
        before = blend.weights(0)
        for _ in range(700):  # then the other way round
            quality.measure(scores["late"], items, 0, span, 0, fade=1.0)
        return before, blend.weights(0)

    for span in (1.0, 200.0):
        before, after = weights_after(span)
        assert before[0] > 0.99  # "early" had it all
        assert after[1] > 0.99  # 700 tests later, "late" has it all
    # fading per event instead (the default of a figure that is not the blend's), 2,000
    # tests of one event each would barely have faded in 700 more
    plain = OnlineQuality(("early", "late"), k=10, half_life=50_000.0)
    for target_first in (True,) * 2_000 + (False,) * 700:
        ranked = np.array([5.0, 4, 3, 2, 1]) if target_first else np.array([1.0, 2, 3, 4, 5])
        plain.measure(np.column_stack((ranked, ranked[::-1])), np.arange(5), 0)
    assert plain.evidence()[0] > plain.evidence()[1]
