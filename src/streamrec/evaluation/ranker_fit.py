"""streamrec's own tuning for the temporal split: fit the ranker to the question it asks.

Online, the hybrid ranker learns which item a user takes *next*. The temporal split asks
something else: which items each user will have over the whole test period, where what is
popular at the time counts for more. So for this protocol streamrec replays the
training part once, stops at a few cuts (70%, 80% and 90% of it), asks each user with history
for candidates and learns from the items they went on to have before the end of the training
part; those weights become the ranker's prior, and its stream lessons are switched off (they
would pull it back to the next-item question). Nothing past the training part is read.
For the prequential protocol the question is the one the online lessons learn (the user's next
new item), so the prior is fit to that question on the tuning slice, the same first part of
the stream the peers are tuned on (``next_item_prior.py``, what ``streamrec fit-ranker`` does
for a deployment), and kept only if it beats the built-in prior on the slice's held-out end;
stream lessons stay on. Leave-last-out keeps the built-in prior: a fitted one measured no
better on ML-100K (NDCG@10 0.118 either way).
"""

from __future__ import annotations

from collections.abc import Callable

from streamrec.evaluation.dense_events import DenseEvents
from streamrec.evaluation.next_item_prior import candidate_lesson, fit_next_item_prior
from streamrec.evaluation.peers.base import Params, PeerContext
from streamrec.evaluation.peers.streamrec_engine import StreamrecPeer
from streamrec.evaluation.splits import Split, temporal_split
from streamrec.ranking.offline import RankerLesson, as_prior, fit_weights

TEMPORAL_CUTS = (0.7, 0.8, 0.9)
EPOCHS = 10
Tick = Callable[[int, int], None]


def fit_ranker(protocol: str, training: DenseEvents, context: PeerContext,
               tick: Tick | None = None) -> Params:
    """Params for streamrec's peer fit on ``training`` alone: for the temporal split,
    ``prior.<feature>`` weights with stream lessons off; for prequential, next-item weights
    when they beat the built-in prior on the held-out end of ``training``; otherwise the
    defaults."""
    if protocol == "prequential":
        return _next_item_params(training, context, tick)
    if protocol != "temporal":
        return {}
    peer = StreamrecPeer(context)
    lessons: list[RankerLesson] = []
    learned = 0
    splits = [temporal_split(training, cut) for cut in TEMPORAL_CUTS]
    for done, split in enumerate(splits, 1):
        peer.learn(training.slice(learned, len(split.train)))  # one replay, cut by cut
        learned = len(split.train)
        lessons.extend(_lessons(peer, split, training))
        if tick is not None:
            tick(done, len(splits))
    start = peer.state.ranker.ftrl.weights()
    weights = fit_weights(lessons, start, EPOCHS) if lessons else start
    params: dict[str, float | int | str | None] = {
        "ranker": f"fit on {len(lessons)} validation lists", "stream_lessons": 0}
    params.update({f"prior.{name}": w for name, w in as_prior(weights).items()})
    return params


def _next_item_params(training: DenseEvents, context: PeerContext,
                      tick: Tick | None) -> Params:
    fit = fit_next_item_prior(training, context.items, tick=tick)
    verdict = (f"held-out top-{fit.k} {fit.held_out_hit_rate_fitted:.3f} fitted vs "
               f"{fit.held_out_hit_rate_built_in:.3f} built-in, {fit.fit_lessons} lists")
    if not fit.is_better:
        return {"ranker": f"built-in prior kept ({verdict})"}
    params: dict[str, float | int | str | None] = {"ranker": f"next-item prior ({verdict})"}
    params.update({f"prior.{name}": w for name, w in fit.prior.items()})
    return params


def _lessons(peer: StreamrecPeer, split: Split, training: DenseEvents) -> list[RankerLesson]:
    found = (candidate_lesson(peer.state, training.user_ids[user],
                              (training.item_ids[i] for i in relevant.tolist()), now)
             for user, relevant, now in zip(split.users.tolist(), split.relevant,
                                            split.now.tolist(), strict=True))
    return [lesson for lesson in found if lesson is not None]
