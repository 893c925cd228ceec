"""The source registry: a source registered in one place flows into the ranker's candidates
and features, the reasons, similar items, negatives and evaluation's ``streamrec-<source>``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import pytest

from streamrec.engine.recommender import Recommender
from streamrec.engine.state import EngineState, build_models
from streamrec.evaluation.peers import PEERS, PeerContext, build_peer, source_models
from streamrec.evaluation.peers.streamrec_engine import StreamrecPeer
from streamrec.models.base import Model, grow, top_k
from streamrec.ranking.features import layout
from streamrec.ranking.hybrid import HybridConfig
from streamrec.settings import ModelSettings, Settings
from streamrec.sources import SOURCES, Source
from streamrec.types import Candidates, Event, EventBatch, FloatArray, IntArray, LoggedEvent, Query

T0 = 1_700_000_000.0


class NewestItems:
    """A toy source: the items it has seen, the newest index first (score: index + 1)."""

    name = "newest"

    def __init__(self) -> None:
        self.known = np.zeros(0, dtype=bool)

    def learn(self, batch: EventBatch) -> None:
        if batch.items.size:
            self.known = grow(self.known, int(batch.items.max()) + 1, fill=False)
            self.known[batch.items] = True

    def dense_scores(self, query: Query, n_items: int) -> FloatArray:
        scores = np.zeros(n_items)
        n = min(n_items, self.known.size)
        scores[:n] = np.where(self.known[:n], np.arange(1.0, n + 1.0), 0.0)
        return scores

    def recommend(self, query: Query, k: int) -> Candidates:
        scores = self.dense_scores(query, self.known.size)
        scores[scores <= 0] = -np.inf
        return top_k(scores, k, query.exclude)

    def score(self, query: Query, items: IntArray) -> FloatArray:
        scores = self.dense_scores(query, self.known.size)
        out = np.zeros(items.shape[0])
        valid = (items >= 0) & (items < scores.size)
        out[valid] = scores[items[valid]]
        return out

    def similar(self, item: int, k: int, exclude: IntArray) -> Candidates:
        query = Query(None, np.zeros(0, np.int64), np.append(exclude, item).astype(np.int64), T0)
        return self.recommend(query, k)

    def state(self) -> dict[str, np.ndarray]:
        return {"known": self.known.copy()}

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        self.known = np.asarray(state["known"], dtype=bool).copy()


def _build(settings: ModelSettings) -> Model:
    return NewestItems()


NEWEST = Source(name="newest", build=_build, prior={"score": 20.0, "rank": 20.0},
                reason="new in the catalogue", similar_reason="newer than {item}",
                similar_weight=5.0, description="the newest items (a test's toy)")


@pytest.fixture
def newest() -> Iterator[Source]:
    with SOURCES.added(NEWEST) as source:
        yield source


def events(pairs: list[tuple[str, str]]) -> list[LoggedEvent]:
    return [LoggedEvent(n + 1, Event(user, item, "view", T0 + n))
            for n, (user, item) in enumerate(pairs)]


# items a1..a3 go together; "fresh" is the last item anyone met
WORLD = [(f"u{n}", f"a{i}") for n in range(4) for i in (1, 2, 3)] + [("v", "fresh")]


def test_the_built_in_sources_keep_their_feature_columns_and_prior() -> None:
    # stored priors (fit-ranker, HybridConfig.prior) and snapshots name these columns
    assert layout().features == (
        "bias", "cooccurrence_score", "cooccurrence_rank", "als_score", "als_rank",
        "content_score", "content_rank", "popularity_score", "popularity_rank",
        "sequence_score", "sequence_rank", "ease_score", "ease_rank",
        "cooccurrence_top5", "cooccurrence_top20", "als_top5", "als_top20", "sequence_top5",
        "ease_top5", "ease_top20",
        "cooccurrence_x_history", "als_x_history", "ease_x_history", "recency",
        "attribute_share", "attribute_last")
    np.testing.assert_array_equal(layout().prior, [-3.0, 1.0, 4.0, 0.3, 0.5, 0.3, 0.3, 0.1,
                                                   0.2, 0.1, 0.5, 0.3, 0.5, 0.5, 0.3, 0.2,
                                                   0.1, 0.2, 0.2, 0.1, 0.3, 0.1, 0.1, 0.1,
                                                   0.0, 0.0])


def test_a_registered_source_gets_its_model_its_features_and_its_prior(
        newest: Source) -> None:
    assert isinstance(build_models(Settings())["newest"], NewestItems)
    features = layout().features
    # after every source's score and rank, before the steps at the top of the lists
    assert features.index("newest_score") == features.index("ease_rank") + 1
    assert features.index("newest_rank") + 1 == features.index("cooccurrence_top5")
    assert layout().prior[features.index("newest_rank")] == 20.0
    assert HybridConfig(prior={"newest_score": 1.0}).prior_weights()[
        features.index("newest_score")] == 1.0


def test_a_registered_source_brings_candidates_features_and_reasons(newest: Source) -> None:
    # the ranker alone orders the list (the blend would weigh the new source by what it
    # earned on this tiny stream, ranking/blend.py): its prior is what this test is about
    state = EngineState(Settings(models={"hybrid": {"hedge": {  # type: ignore[arg-type]
        "enabled": False}}}))
    state.apply(events([*WORLD, ("me", "a1")]))
    me = state.users.lookup("me")
    query = state.query_for(me, T0 + 100)
    candidates = state.ranker.candidates(query, state.scorers, len(state.items))
    fresh = state.items.index("fresh")
    assert "newest" in candidates.scored
    column = layout().names.index("newest")
    assert candidates.raw[candidates.items == fresh, column] == fresh + 1
    assert candidates.features[candidates.items == fresh,
                               layout().features.index("newest_rank")] == 1.0
    found = Recommender(state).for_user("me", 3, now=T0 + 100)
    assert found.item_ids[0] == "fresh"  # its prior outweighs every other source
    assert found.reasons[0] == ["new in the catalogue"]


def test_a_registered_source_answers_for_similar_items(newest: Source) -> None:
    state = EngineState(Settings())
    state.apply(events(WORLD))
    found = Recommender(state).similar("a1", 2)
    assert found.item_ids[0] == "fresh"
    assert found.reasons[0] == ["newer than a1"]


def test_a_registered_source_is_measurable_alone_in_evaluation(newest: Source) -> None:
    assert "streamrec-newest" in source_models() and "streamrec-newest" in PEERS
    user_ids, item_ids = ("u0", "u1"), ("a1", "a2", "a3", "fresh")
    context = PeerContext(user_ids, item_ids, refit_every=10)
    peer = build_peer("streamrec-newest", {}, context)
    assert isinstance(peer, StreamrecPeer) and peer.name == "streamrec-newest"
    peer.state.apply(events([("u0", "a1"), ("u1", "a2"), ("u1", "a3"), ("u1", "fresh")]))
    # the source alone: its own order, nothing of the blend's
    assert peer.recommend(0, 3, np.zeros(0, np.int64), T0 + 10).tolist() == [3, 2, 1]


def test_without_the_registration_nothing_of_it_is_left() -> None:
    with SOURCES.added(NEWEST):
        pass
    assert "newest" not in SOURCES and "streamrec-newest" not in PEERS
    assert not any(name.startswith("newest") for name in layout().features)
    with pytest.raises(ValueError, match="unknown source"):
        HybridConfig(only_source="newest")


def test_a_source_must_declare_a_usable_prior_and_a_unique_name() -> None:
    with pytest.raises(ValueError, match="score"):
        Source(name="x", build=_build, prior={"rank": 1.0})
    with pytest.raises(ValueError, match="unknown"):
        Source(name="x", build=_build, prior={"score": 1.0, "rank": 1.0, "top3": 1.0})
    with pytest.raises(ValueError, match="registered already"):
        SOURCES.register(SOURCES["als"])


def test_a_source_must_build_the_model_of_its_name() -> None:
    misnamed = Source(name="oldest", build=_build, prior={"score": 1.0, "rank": 1.0})
    with SOURCES.added(misnamed), pytest.raises(ValueError, match="oldest built newest"):
        build_models(Settings())


def test_registering_a_source_changes_the_model_fingerprint() -> None:
    # an old snapshot has no state for it, and the ranker's weights have other columns
    before = Settings().model_fingerprint()
    with SOURCES.added(NEWEST):
        assert Settings().model_fingerprint() != before
    assert Settings().model_fingerprint() == before


def test_an_engine_keeps_the_sources_it_was_built_with() -> None:
    # the ranker's columns, the models and the reasons are fixed when the state is made: a
    # registration after it (or one undone) does not pull them apart
    before = EngineState(Settings())
    with SOURCES.added(NEWEST):  # the ranker alone on lists: the prior puts "fresh" first
        during = EngineState(Settings(models={"hybrid": {"hedge": {  # type: ignore[arg-type]
            "enabled": False}}}))
        before.apply(events([*WORLD, ("me", "a1")]))
        assert "newest" not in before.models
        assert Recommender(before).for_user("me", 3, now=T0 + 100).item_ids
    during.apply(events([*WORLD, ("me", "a1")]))
    found = Recommender(during).for_user("me", 3, now=T0 + 100)
    assert found.item_ids[0] == "fresh" and found.reasons[0] == ["new in the catalogue"]
    assert Recommender(during).similar("a1", 2).reasons[0] == ["newer than a1"]
