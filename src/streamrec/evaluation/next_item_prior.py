"""The ranker's starting weights, fit offline on a replay of a shop's own log.

Online, the hybrid ranker learns which candidate a user takes next, from the first event on;
until it has seen enough it leans on its built-in prior. ``fit_next_item_prior`` replays a
log once, in time order, through a fresh engine state and, at a sample of the events a
prequential evaluation would ask about (the user has history, the item is new to them), takes
the candidate list before the event is learned and notes which candidate was taken. Lessons
from the first part fit the weights (FTRL, a few shuffled epochs from the built-in prior); the
last part is held out and says whether the fit ranks the taken item higher than the built-in
prior does. ``streamrec fit-ranker`` prints the result as the setting to start a server with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from streamrec.engine.state import EngineState
from streamrec.evaluation.dense_events import DenseEvents
from streamrec.evaluation.peers.base import PeerContext
from streamrec.evaluation.peers.streamrec_engine import StreamrecPeer
from streamrec.evaluation.queries import query_positions
from streamrec.ranking.features import layout
from streamrec.ranking.offline import RankerLesson, as_prior, fit_weights
from streamrec.types import FloatArray, Item

Tick = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class PriorFit:
    prior: dict[str, float]  # by feature name, as ``models.hybrid.prior`` takes it
    fit_lessons: int
    held_out_lessons: int
    # share of held-out lessons whose taken item the weights put in the candidates' top k
    held_out_hit_rate_fitted: float
    held_out_hit_rate_built_in: float
    k: int

    @property
    def is_better(self) -> bool:
        return self.held_out_hit_rate_fitted > self.held_out_hit_rate_built_in


def fit_next_item_prior(events: DenseEvents, items: Sequence[Item] = (), *,
                        held_out: float = 0.2, max_lessons: int = 20_000, epochs: int = 5,
                        k: int = 10, tick: Tick | None = None) -> PriorFit:
    """Replay ``events`` once; fit on lessons from the first ``1 - held_out`` of them, score
    on the rest. At most ``max_lessons`` lessons in all (an even sample of the eligible
    events)."""
    if not 0.0 < held_out < 1.0:
        raise ValueError("held_out must be between 0 and 1")
    eligible = query_positions(events.users, events.items)
    step = max(1, -(-eligible.size // max_lessons))
    asked = eligible[::step]
    context = PeerContext(events.user_ids, events.item_ids, refit_every=max(1, len(events)),
                          items=tuple(items))
    lessons = _lessons(StreamrecPeer(context), events, asked, tick)
    cut = int(len(events) * (1.0 - held_out))
    fit = [lesson for position, lesson in lessons if position < cut]
    kept = [lesson for position, lesson in lessons if position >= cut]
    start = layout().prior.copy()
    weights = fit_weights(fit, start, epochs) if fit else start
    return PriorFit(as_prior(weights), len(fit), len(kept), _hit_rate(kept, weights, k),
                    _hit_rate(kept, start, k), k)


def _lessons(peer: StreamrecPeer, events: DenseEvents, asked: np.ndarray,
             tick: Tick | None) -> list[tuple[int, RankerLesson]]:
    state = peer.state
    lessons = []
    learned = 0
    for done, position in enumerate(asked.tolist(), 1):
        peer.learn(events.slice(learned, position))  # everything before it, then the test
        learned = position
        lesson = candidate_lesson(state, events.user_ids[events.users[position]],
                                  [events.item_ids[events.items[position]]],
                                  float(events.timestamps[position]))
        if lesson is not None:
            lessons.append((position, lesson))
        if tick is not None and (done % 100 == 0 or done == asked.size):
            tick(done, int(asked.size))
    return lessons


def candidate_lesson(state: EngineState, user_id: str, wanted_ids: Iterable[str],
                     now: float) -> RankerLesson | None:
    """The exact candidate list ``user_id`` gets at ``now`` and which of its rows are items
    of ``wanted_ids`` (what the user went on to take); None when the user is unknown or none
    of them is a candidate."""
    user = state.users.lookup(user_id)
    wanted = [i for i in (state.items.lookup(w) for w in wanted_ids) if i is not None]
    if user is None or not wanted:
        return None
    query = state.query_for(user, now, exclude_seen=True, serving=False)
    candidates = state.ranker.candidates(query, state.scorers, len(state.items))
    taken = np.flatnonzero(np.isin(candidates.items, wanted))
    return RankerLesson(candidates.features, taken) if taken.size else None


def _hit_rate(lessons: Sequence[RankerLesson], weights: FloatArray, k: int) -> float:
    """Lessons whose taken item the weights rank in the top ``k`` of its candidate list
    (ties broken against it). A lesson exists only when the item was a candidate."""
    if not lessons:
        return 0.0
    hits = 0
    for lesson in lessons:
        scores = lesson.features @ weights
        taken = scores[lesson.taken].max()
        hits += int((scores >= taken).sum() <= k)
    return hits / len(lessons)
