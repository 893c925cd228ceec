"""The read path: a query from the user's state, candidates from each source, blended, top-K.

The blend here is deliberately simple (co-occurrence first, popularity to fill), so every user
gets K items; the learned hybrid ranker replaces it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import numpy as np

from streamrec.engine.state import EngineState
from streamrec.errors import NotFound
from streamrec.models.base import SimilarItems
from streamrec.types import Candidates, Query

# a popular item ranks below every item that co-occurrence found, whatever its score
_POPULARITY_SHARE = 0.01


@dataclass(frozen=True, slots=True)
class Recommendation:
    item_ids: list[str]
    scores: list[float]
    reasons: list[list[str]]
    recommendation_id: str = field(default_factory=lambda: uuid.uuid4().hex)


class Recommender:
    def __init__(self, state: EngineState, history_length: int) -> None:
        self.state = state
        self.history_length = history_length

    def query_for(self, user_id: str, now: float, exclude_seen: bool,
                  exclude_ids: list[str]) -> Query:
        state = self.state
        user = state.users.lookup(user_id)
        excluded = [state.items.lookup(i) for i in exclude_ids]
        parts = [np.array([i for i in excluded if i is not None], dtype=np.int64),
                 np.flatnonzero(~state.available[: len(state.items)])]
        if user is None:
            return Query(None, np.zeros(0, np.int64), np.concatenate(parts), now)
        items, weights, times = state.histories.recent(user, self.history_length)
        if exclude_seen:
            parts.append(state.histories.seen(user))
        return Query(user, items, np.concatenate(parts), now, weights, times)

    def for_user(self, user_id: str, k: int, *, exclude_seen: bool = True,
                 exclude_ids: list[str] | None = None, now: float = 0.0) -> Recommendation:
        state = self.state
        with state.lock:
            query = self.query_for(user_id, now, exclude_seen, exclude_ids or [])
            personal = state.models["cooccurrence"].recommend(query, k)
            fill_query = Query(query.user, query.history, np.r_[query.exclude, personal.items],
                               now)
            popular = state.models["popularity"].recommend(fill_query, k)
            return self._blend(personal, popular, k, is_known=query.user is not None)

    def _blend(self, personal: Candidates, popular: Candidates, k: int,
               is_known: bool) -> Recommendation:
        state = self.state
        share = _POPULARITY_SHARE if len(personal) else 1.0
        scores = np.r_[_normalised(personal.scores), share * _normalised(popular.scores)]
        items = np.r_[personal.items, popular.items]
        because = np.r_[personal.because if personal.because is not None
                        else np.full(len(personal), -1), np.full(len(popular), -1)]
        order = np.lexsort((items, -scores))[:k]
        popular_reason = "popular now" if is_known else "popular now (no history for this user yet)"
        reasons = [
            [f"similar to {state.items.id_of(int(b))}, which you engaged with"] if b >= 0
            else [popular_reason]
            for b in because[order].tolist()
        ]
        return Recommendation(state.items.ids_of(items[order]),
                              [round(float(s), 6) for s in scores[order]], reasons)

    def similar(self, item_id: str, k: int) -> Recommendation:
        state = self.state
        with state.lock:
            item = state.items.lookup(item_id)
            if item is None:
                raise NotFound(f"item {item_id!r} is unknown", field="item_id")
            unavailable = np.flatnonzero(~state.available[: len(state.items)])
            found: Candidates = Candidates.empty()
            for model in state.models.values():
                if isinstance(model, SimilarItems):
                    found = model.similar(item, k, unavailable)
                    break
            reasons = [[f"often engaged with together with {item_id}"] for _ in range(len(found))]
            return Recommendation(state.items.ids_of(found.items),
                                  [round(float(s), 6) for s in found.scores], reasons)


def _normalised(scores: np.ndarray) -> np.ndarray:
    if scores.size == 0:
        return scores
    top = float(scores.max())
    return scores / top if top > 0 else np.zeros_like(scores)

