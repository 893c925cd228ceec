"""streamrec's ranker fit for the temporal split: what it returns, and that it reads nothing
past the training part it is given."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from streamrec.evaluation.datasets import generate
from streamrec.evaluation.dense_events import DenseEvents
from streamrec.evaluation.peers import PEERS, build_peer
from streamrec.evaluation.peers.base import PeerContext
from streamrec.evaluation.peers.streamrec_engine import StreamrecPeer
from streamrec.evaluation.ranker_fit import fit_ranker
from streamrec.ranking.features import layout
from streamrec.ranking.hybrid import HybridConfig, HybridRanker

FEATURES, PRIOR_WEIGHTS = layout().features, layout().prior


@pytest.fixture(scope="module")
def shop() -> DenseEvents:
    return generate(6_000)


def context_of(events: DenseEvents) -> PeerContext:
    return PeerContext(events.user_ids, events.item_ids, refit_every=len(events))


def test_the_temporal_fit_gives_a_prior_for_every_feature_and_stops_stream_lessons(
        shop: DenseEvents) -> None:
    training = shop.slice(0, 4_800)
    params = fit_ranker("temporal", training, context_of(shop))
    assert params["stream_lessons"] == 0
    prior = {k.removeprefix("prior."): v for k, v in params.items() if k.startswith("prior.")}
    assert set(prior) == set(FEATURES)
    assert all(np.isfinite(float(v)) for v in prior.values())  # type: ignore[arg-type]
    # it learned something: not the built-in prior
    assert not np.allclose([prior[f] for f in FEATURES], PRIOR_WEIGHTS)
    peer = build_peer("streamrec", params, context_of(shop))
    assert isinstance(peer, StreamrecPeer)
    peer.state.ranker.wants_example()  # the experts may be tested (ranking/blend.py) ...
    assert not peer.state.ranker.lesson_now  # ... but the ranker is never taught


def test_leave_last_out_keeps_the_defaults(shop: DenseEvents) -> None:
    assert fit_ranker("leave-last-out", shop.slice(0, 1_000), context_of(shop)) == {}
    assert PEERS["streamrec"].fit is not None


def test_prequential_fits_next_item_weights_and_keeps_learning_online(
        shop: DenseEvents) -> None:
    params = fit_ranker("prequential", shop.slice(0, 4_800), context_of(shop))
    assert "held-out top-10" in str(params["ranker"])
    prior = {k.removeprefix("prior."): v for k, v in params.items() if k.startswith("prior.")}
    if str(params["ranker"]).startswith("built-in prior kept"):
        assert prior == {}
    else:
        assert set(prior) == set(FEATURES)
        peer = build_peer("streamrec", params, context_of(shop))
        assert isinstance(peer, StreamrecPeer)
        assert peer.state.ranker.config.stream_lessons


def test_the_prequential_fit_depends_on_the_tuning_slice_only(shop: DenseEvents) -> None:
    cut = 3_000
    with_future = fit_ranker("prequential", shop.slice(0, cut), context_of(shop))
    alone = DenseEvents.from_events(shop.event(n) for n in range(cut))
    assert with_future == fit_ranker("prequential", alone, context_of(alone))


def test_the_fit_depends_on_the_training_part_only(shop: DenseEvents) -> None:
    cut = 4_800
    with_future = fit_ranker("temporal", shop.slice(0, cut), context_of(shop))
    alone = DenseEvents.from_events(shop.event(n) for n in range(cut))
    without = fit_ranker("temporal", alone, context_of(alone))
    assert with_future.keys() == without.keys()
    for key, value in with_future.items():
        if key.startswith("prior."):
            assert float(value) == pytest.approx(float(without[key]))  # type: ignore[arg-type]


def test_a_configured_prior_sets_the_named_weights_and_refuses_unknown_names() -> None:
    ranker = HybridRanker(HybridConfig(prior={"popularity_score": 2.5}))
    weights = ranker.ftrl.weights()
    assert weights[FEATURES.index("popularity_score")] == 2.5
    assert weights[FEATURES.index("bias")] == PRIOR_WEIGHTS[FEATURES.index("bias")]
    with pytest.raises(ValidationError, match="no_such_feature"):
        HybridConfig(prior={"no_such_feature": 1.0})
