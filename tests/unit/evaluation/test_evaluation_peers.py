"""Every peer on a checkerboard: two groups of users who each had all but one of their
group's items. A personal model ranks the withheld item first; every model honours k and
exclude and returns distinct known items."""

from __future__ import annotations

import numpy as np
import pytest

from streamrec.evaluation.dense_events import DenseEvents
from streamrec.evaluation.peers import PEERS, PeerContext, build_peer
from streamrec.types import Event

GROUP_USERS, GROUP_ITEMS = 12, 8
# 64 factors for 16 items would just memorise the matrix: the checkerboard has rank 2
SMALL = {"als": {"factors": 2, "regularization": 0.05, "alpha": 1.0}}


def checkerboard() -> tuple[DenseEvents, dict[int, int]]:
    """Events in a shuffled (seeded) order, and each user's withheld item (dense ids)."""
    rng = np.random.default_rng(7)
    rows = []
    for group in range(2):
        for u in range(GROUP_USERS):
            withheld = u % GROUP_ITEMS
            for i in range(GROUP_ITEMS):
                if i != withheld:
                    rows.append((f"g{group}u{u}", f"g{group}i{i}"))
    order = rng.permutation(len(rows))
    events = DenseEvents.from_events(
        Event(*rows[r], "purchase", float(t)) for t, r in enumerate(order.tolist()))
    withheld = {}
    for user, user_id in enumerate(events.user_ids):
        group, u = user_id[1], int(user_id.split("u")[1])
        withheld[user] = events.item_ids.index(f"g{group}i{u % GROUP_ITEMS}")
    return events, withheld


def trained(name: str) -> tuple[object, DenseEvents, dict[int, int]]:
    if not PEERS[name].is_available():
        pytest.skip(f"{name} is not installed")
    events, withheld = checkerboard()
    context = PeerContext(events.user_ids, events.item_ids, refit_every=len(events), seed=0)
    model = build_peer(name, SMALL.get(name, PEERS[name].grid[0]), context)
    for start in range(0, len(events), 50):  # learn in slices, as the protocols do
        model.learn(events.slice(start, min(start + 50, len(events))))
    return model, events, withheld


def seen_by(events: DenseEvents, user: int) -> np.ndarray:
    return np.unique(events.items[events.users == user])


@pytest.mark.parametrize("name", list(PEERS))
def test_k_and_exclude_are_honoured(name: str) -> None:
    model, events, _ = trained(name)
    for user in range(events.n_users):
        exclude = seen_by(events, user)
        found = model.recommend(user, 3, exclude, now=1e6)  # type: ignore[attr-defined]
        assert found.dtype == np.int64 and len(found) <= 3
        assert len(set(found.tolist())) == len(found)
        assert not set(found.tolist()) & set(exclude.tolist())
        assert ((found >= 0) & (found < events.n_items)).all()


@pytest.mark.parametrize("name", ["streamrec", "cooc", "als", "ease", "rtrec",
                                  "streamrec-cooccurrence"])
def test_personal_models_find_the_withheld_item(name: str) -> None:
    model, events, withheld = trained(name)
    first = [int(model.recommend(u, 1, seen_by(events, u), now=1e6)[0])  # type: ignore[attr-defined]
             for u in range(events.n_users)]
    assert first == [withheld[u] for u in range(events.n_users)]


@pytest.mark.parametrize("name", ["pop", "decay"])
def test_popularity_models_answer_every_user_alike(name: str) -> None:
    model, events, _ = trained(name)
    nothing = np.zeros(0, dtype=np.int64)
    lists = {tuple(model.recommend(u, 5, nothing, now=1e6).tolist())  # type: ignore[attr-defined]
             for u in range(events.n_users)}
    assert len(lists) == 1 and len(next(iter(lists))) == 5


def test_batch_peers_answer_with_popularity_before_their_first_fit() -> None:
    events, _ = checkerboard()
    context = PeerContext(events.user_ids, events.item_ids, refit_every=10 * len(events))
    for name in ("als", "bpr", "ease"):
        model = build_peer(name, PEERS[name].grid[0], context)
        model.learn(events)
        assert model.fits == 0  # type: ignore[attr-defined]
        pop = build_peer("pop", {}, context)
        pop.learn(events)
        nothing = np.zeros(0, dtype=np.int64)
        assert model.recommend(0, 4, nothing, 0.0).tolist() == \
            pop.recommend(0, 4, nothing, 0.0).tolist()


def test_streamrec_recommends_catalogue_items_nobody_had_yet() -> None:
    from streamrec.types import Item

    events, _ = checkerboard()
    context = PeerContext(events.user_ids, events.item_ids, refit_every=len(events),
                          items=(Item("brand-new"),))
    model = build_peer("streamrec", {}, context)
    model.learn(events)
    everything = model.recommend(0, events.n_items + 1, np.zeros(0, np.int64), 1e6)
    assert ((everything >= 0) & (everything <= events.n_items)).all()


def test_a_source_alone_ranks_by_its_own_score_and_differs_from_the_blend() -> None:
    """streamrec's popularity source alone answers every user with the same ranking (less
    what each has seen, which the engine excludes itself); the blend personalises."""
    alone, events, withheld = trained("streamrec-popularity")
    assert alone.name == "streamrec-popularity"  # type: ignore[attr-defined]  (its results' name)
    blend, _, _ = trained("streamrec")
    nothing = np.zeros(0, dtype=np.int64)
    ranked = [model.recommend(u, 1, nothing, now=1e6)[0]  # type: ignore[attr-defined]
              for model in (alone, blend) for u in range(events.n_users)]
    alone_first, blend_first = ranked[:events.n_users], ranked[events.n_users:]
    assert blend_first == [withheld[u] for u in range(events.n_users)]
    assert alone_first != blend_first


def test_streamrec_defaults_is_the_server_as_it_starts_and_reports_its_own_figures() -> None:
    """No starting weights fit to the log: the engine's settings as `streamrec serve` has them,
    and the figures the engine measured on the stream for the report (ranking/blend.py)."""
    from streamrec.settings import Settings

    model, _, _ = trained("streamrec-defaults")
    assert model.name == "streamrec-defaults"  # type: ignore[attr-defined]
    state = model.state  # type: ignore[attr-defined]
    assert state.ranker.config == Settings().models.hybrid
    online = model.online_quality()  # type: ignore[attr-defined]
    assert online["blend"]["measured"] > 0 and "popularity_all" in online
