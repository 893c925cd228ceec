"""The read path: the user's state -> candidates from every source -> hybrid ranking ->
filters, boosts, diversity -> top-K with scores and reasons, remembered for feedback/paging."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from streamrec.engine.state import EngineState
from streamrec.errors import NotFound
from streamrec.experiments.exposures import Exposures
from streamrec.experiments.registry import Assignment
from streamrec.models.base import SimilarItems, top_k
from streamrec.ranking.negatives import TurnedDown, demote, penalties, turned_down
from streamrec.ranking.plan import ServingPlan
from streamrec.ranking.rules import Rules, apply_rules, warnings_about
from streamrec.storage.impressions import (
    Impression,
    ImpressionStore,
    MemoryImpressions,
    RankedList,
    ranked_list,
)
from streamrec.types import FloatArray, IntArray, Query

_NOTABLE_PUSH = 0.05  # a score cut by at least this share is explained in the reasons
_ANYONE = ""  # no user id is empty (validation): the key of lists for no one in particular
_LABEL_CHARS = 60  # the start of an item's text that names it in a reason
_NOTABLE_MATCH = 0.25  # attribute matches adding this much to the logit are a reason
_LABELS_KEPT = 50_000  # item labels remembered between lists (then forgotten, all at once)
Because = Callable[[IntArray], IntArray]  # items -> the recent item that brought each in


@dataclass(frozen=True, slots=True)
class Recommendation:
    item_ids: list[str]
    scores: list[float]
    reasons: list[list[str]]
    recommendation_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    warnings: list[str] = field(default_factory=list)  # e.g. a filter no item can match
    experiment: str | None = None  # the running experiment the list was made in
    variant: str | None = None  # and the user's variant of it


class Recommender:
    def __init__(self, state: EngineState, impressions: ImpressionStore | None = None,
                 list_depth: int = 30, text_of: Callable[[str], str] | None = None,
                 exposures: Exposures | None = None) -> None:
        self.state = state
        self.exposures = exposures  # lists shown per experiment variant; None: not counted
        # an item's text (the catalogue's; ""): reasons name an item without a title by it
        self.text_of = text_of or (lambda item_id: "")
        self.impressions = impressions if impressions is not None else MemoryImpressions()
        self.list_depth = list_depth  # positions of a list kept for its later pages
        # item index -> its label in reasons, valid for one catalogue_version of the state:
        # an item's text is in the catalogue's database, a read per label per list otherwise
        self._labels: dict[int, str] = {}
        self._labels_version = -1

    def for_user(self, user_key: str, k: int, *, exclude_seen: bool = True,
                 exclude_ids: list[str] | None = None, rules: Rules | None = None,
                 after: str | None = None, now: float = 0.0) -> Recommendation:
        """Top-``k`` for a user (or session: the key the engine stores), best first.
        ``after`` names an earlier page shown to the same user: this page continues that
        list as it was made (its options, scores and reasons), to the depth kept of it
        (``list_depth`` or the first page's ``k``); ``NotFound`` (field ``after``) when no
        such page is remembered."""
        if after is not None:
            previous = self.impressions.get(after)
            if previous is None or not self._same_user(previous.user_key, user_key):
                raise NotFound(f"after: no list {after!r} was shown to this user, or it is "
                               "forgotten (the newest serving.impressions_kept are kept)",
                               field="after")
            page = self._page(user_key, previous.ranked, previous.end, k,
                              previous.experiment, previous.variant)
            if (rules is not None and not rules.is_empty) or exclude_ids:
                page = replace(page, warnings=[
                    "after: this page continues the list as it was made; the filter, boost, "
                    "max_per_category and exclude given with it are not applied again"])
            return page
        made, warnings, assigned = self._made(user_key, max(k, self.list_depth), exclude_seen,
                                              exclude_ids or [], rules or Rules(), now)
        if assigned is None:
            return replace(self._page(user_key, made, 0, k), warnings=warnings)
        return replace(self._page(user_key, made, 0, k, assigned.experiment, assigned.variant),
                       warnings=warnings)

    def _same_user(self, shown_to: str, user_key: str) -> bool:
        resolve = self.state.identities.resolve  # a session merged since is its user
        return shown_to == user_key or resolve(shown_to) == resolve(user_key)

    def _page(self, user_key: str, ranked: RankedList, start: int, k: int,
              experiment: str | None = None, variant: str | None = None) -> Recommendation:
        """Positions ``[start, start + k)`` of ``ranked``, remembered as shown (in
        ``variant`` of ``experiment``, counted as one of its lists)."""
        end = min(start + k, len(ranked))
        start = min(start, end)
        page = Recommendation(list(ranked.item_ids[start:end]),
                              [round(float(s), 6) for s in ranked.scores[start:end]],
                              [list(r) for r in ranked.reasons[start:end]],
                              experiment=experiment, variant=variant)
        self.impressions.remember(page.recommendation_id,
                                  Impression(user_key, ranked, start, end, experiment, variant))
        if experiment is not None and variant is not None and self.exposures is not None:
            self.exposures.record(experiment, variant, user_key)
        return page

    def _made(self, user_key: str, depth: int, exclude_seen: bool, exclude_ids: list[str],
              rules: Rules, now: float
              ) -> tuple[RankedList, list[str], Assignment | None]:
        """The whole list to ``depth``: ranked, rules applied, filled from popularity; what
        the caller should hear about its rules on this catalogue; and the user's variant of
        the running experiment, whose serving plan made the list (else the engine's)."""
        state = self.state
        with state.lock.reading():
            assigned = None if user_key == _ANYONE else \
                state.experiments.assign(state.identities.resolve(user_key))
            plan = state.experiments.default if assigned is None else assigned.plan
            user = state.users.lookup(user_key)
            excluded = (state.items.lookup(i) for i in exclude_ids)
            extra = [np.array([i for i in excluded if i is not None], dtype=np.int64)]
            query = state.query_for(user, now, exclude_seen, extra)
            down = turned_down(query, plan.negatives)
            if down.hidden.size:
                query = replace(query, exclude=np.concatenate((query.exclude, down.hidden)))
            if rules.max_per_category is None and plan.max_per_category is not None:
                rules = replace(rules, max_per_category=plan.max_per_category)
            if rules.max_per_category is not None and rules.diversity_by is None:
                rules = replace(rules, diversity_by=state.attribute_names.default_grouping())
            warnings = warnings_about(rules, state.attribute_names)
            items, scores, sources, pushed, because, matched = self._ranked(query, down, plan)
            items, scores = apply_rules(items, scores, rules, state.attributes_of, depth)
            if items.size < depth:
                items, scores = self._fill(query, items, scores, rules, depth)
            reasons = self._reasons(query, items, sources, pushed, because, matched,
                                    for_anyone=user_key == _ANYONE)
            return ranked_list(state.items.ids_of(items), scores, reasons), warnings, assigned

    def _ranked(self, query: Query, down: TurnedDown, plan: ServingPlan) -> tuple[
            IntArray, FloatArray, dict[int, str], dict[int, int], dict[str, Because],
            dict[int, int]]:
        """Candidates ordered by the hybrid ranker, pushed down near what the user turned
        down (ranking/negatives.py); the source that drove each one; for those pushed down
        notably, the turned-down item that weighed most; the ``because`` of the sources that
        answered with one (saves summing co-occurrence's neighbours again for the reasons);
        and for the candidates whose attribute matches lifted them notably, the value."""
        state = self.state
        if query.user is None or query.history.size == 0:
            return np.zeros(0, np.int64), np.zeros(0), {}, {}, {}, {}
        # serving: vector sources may take their candidates from an ANN index (ranking/ann.py)
        candidates = state.ranker.candidates(query, state.scorers, len(state.items),
                                             approximate=True, plan=plan)
        brought_by = {s.name: b for s in state.ranker.layout.sources
                      if (b := getattr(candidates.scored.get(s.name), "because", None))}
        if candidates.items.size == 0:
            return np.zeros(0, np.int64), np.zeros(0), {}, {}, brought_by, {}
        scores = state.ranker.rank(candidates, plan, query.user)
        # models whose one-item score is an item similarity: the neighbours a dislike pushes down
        neighbours = [m for s in state.ranker.layout.sources
                      if s.neighbours and (m := state.models.get(s.name))]
        penalty, because = penalties(down, candidates.items, neighbours, query.now)
        demoted = demote(scores, penalty, plan.negatives)
        notable = demoted < (1.0 - _NOTABLE_PUSH) * scores
        pushed = dict(zip(candidates.items[notable].tolist(), because[notable].tolist(),
                          strict=True))
        order = np.lexsort((candidates.items, -demoted))
        dominant = state.ranker.contributions(candidates).argmax(axis=1)
        names = state.ranker.layout.names
        sources = dict(zip(candidates.items.tolist(), [names[d] for d in dominant.tolist()],
                           strict=True))
        matched: dict[int, int] = {}
        if candidates.shared_values is not None:
            lifted = ((state.ranker.attribute_part(candidates) >= _NOTABLE_MATCH)
                      & (candidates.shared_values >= 0))
            matched = dict(zip(candidates.items[lifted].tolist(),
                               candidates.shared_values[lifted].tolist(), strict=True))
        return candidates.items[order], demoted[order], sources, pushed, brought_by, matched

    def _fill(self, query: Query, items: IntArray, scores: FloatArray, rules: Rules,
              k: int) -> tuple[IntArray, FloatArray]:
        """Popular items after the ranked ones, so every user gets ``k`` when there are.
        Scored by their decayed popularity (boosts applied); after ranked items, scaled so
        the first of them has the last ranked score: scores never rise down the list."""
        state = self.state
        popularity = state.models["popularity"]
        fill_query = Query(query.user, query.history, np.concatenate((query.exclude, items)),
                           query.now)
        wanted = k - items.size if rules.is_empty else max(1000, 20 * k)
        popular = popularity.recommend(fill_query, wanted)
        extra, extra_scores = apply_rules(popular.items, popular.scores, rules,
                                          state.attributes_of, k - items.size, above=items)
        if scores.size and extra_scores.size:
            first = float(extra_scores[0])
            extra_scores = extra_scores * (float(scores[-1]) / first if first > 0 else 0.0)
        return np.concatenate((items, extra)), np.concatenate((scores, extra_scores))

    def _reasons(self, query: Query, items: IntArray, sources: dict[int, str],
                 pushed: dict[int, int], because: Mapping[str, Because] | None = None,
                 matched: Mapping[int, int] | None = None, *,
                 for_anyone: bool = False) -> list[list[str]]:
        """Why each item: the reason of the source that drove it (``streamrec.sources``),
        naming the recent item that brought it where the reason does; else popularity's
        (the item's category in a list for no one in particular)."""
        state = self.state
        lay = state.ranker.layout  # the sources this engine was built with
        brought_by = self._brought_by(query, items, because or {})
        matched = matched or {}
        reasons = []
        label = self._labeller()
        for position, item in enumerate(items.tolist()):
            source = lay.source(sources.get(item, "popularity"))
            source_item = brought_by[source.name][position] if source.name in brought_by else -1
            if source.reason is not None and "{item}" not in source.reason:
                text = source.reason
            elif source.reason is not None and source_item >= 0:
                text = source.reason.format(item=label(int(source_item)))
            elif for_anyone:
                text = self._popular_reason(item)
            elif query.user is None or query.history.size == 0:
                text = "popular now (no history for this user yet)"
            else:
                text = self._popular_reason(item)
            reasons.append([text])
            if (code := matched.get(item)) is not None:
                key, value = state.ranker.facts.value_name(code)
                reasons[-1].append(f"{key} {value}, like your recent items")
            if item in pushed:
                reasons[-1].append(f"ranked lower: like {label(pushed[item])}, "
                                   "which you turned down")
        return reasons

    def _brought_by(self, query: Query, items: IntArray,
                    because: Mapping[str, Because]) -> dict[str, IntArray]:
        """For each source whose reason names an item: per item, the recent item that brought
        it in (-1: none), from this query's scores or else the model."""
        found = {}
        for source in self.state.ranker.layout.sources:
            if source.reason is None or "{item}" not in source.reason:
                continue
            explain = getattr(self.state.models.get(source.name), "because", None)
            if source.name in because:
                found[source.name] = because[source.name](items)
            elif explain is not None:
                found[source.name] = explain(query, items)
        return found

    def popular(self, k: int, *, exclude_ids: list[str] | None = None,
                rules: Rules | None = None, after: str | None = None,
                now: float = 0.0) -> Recommendation:
        """Top-``k`` by decayed popularity (the scores), to no one in particular: the list
        an unknown user gets, with reasons naming the item's category."""
        return self.for_user(_ANYONE, k, exclude_seen=False, exclude_ids=exclude_ids,
                             rules=rules, after=after, now=now)

    def _popular_reason(self, item: int) -> str:
        category = self.state.attributes_of(item).get("category")
        return f"popular now in {category}" if category else "popular now"

    def _labeller(self) -> Callable[[int], str]:
        """How reasons name an item: its title, else the start of its text (the catalogue's
        description), with its id; its id alone when it has neither. Each item is looked up
        once until the catalogue changes (reasons name a few recent items many times, and the
        text is a database read). Call under the state's lock (reading)."""
        version = self.state.catalogue_version
        if self._labels_version != version or len(self._labels) > _LABELS_KEPT:
            self._labels, self._labels_version = {}, version  # a new dict: readers keep theirs
        known = self._labels

        def label(item: int) -> str:
            if item not in known:
                item_id = self.state.items.id_of(item)
                title = self.state.attributes_of(item).get("title")
                name = title if isinstance(title, str) and title.strip() else \
                    self.text_of(item_id)
                name = textwrap.shorten(name, _LABEL_CHARS, placeholder="...") if name else ""
                known[item] = f"{name} ({item_id})" if name else item_id
            return known[item]
        return label

    def similar(self, item_id: str, k: int) -> Recommendation:
        """Items like ``item_id``: every model that knows items blends its opinion."""
        state = self.state
        with state.lock.reading():
            item = state.items.lookup(item_id)
            if item is None:
                raise NotFound(f"item {item_id!r} is unknown", field="item_id")
            unavailable = state.unavailable()
            total = np.zeros(len(state.items))
            best_source = np.full(len(state.items), -1)
            best_part = np.zeros(len(state.items))
            # each source's similar items count by its similar_weight (streamrec.sources)
            asked = [s for s in state.ranker.layout.sources if s.similar_weight > 0]
            for position, source in enumerate(asked):
                model, weight = state.models.get(source.name), source.similar_weight
                if not isinstance(model, SimilarItems):
                    continue
                found = model.similar(item, 2 * k, unavailable)
                if len(found) == 0 or found.scores[0] <= 0:
                    continue
                part = weight * np.maximum(found.scores, 0.0) / found.scores[0]
                total[found.items] += part
                better = part > best_part[found.items]
                best_part[found.items[better]] = part[better]
                best_source[found.items[better]] = position
            total[total <= 0] = -np.inf
            chosen = top_k(total, k, np.append(unavailable, item))
            name = self._labeller()(item)
            reasons = [[str(asked[int(best_source[i])].similar_reason).format(item=name)]
                       for i in chosen.items.tolist()]
            return Recommendation(state.items.ids_of(chosen.items),
                                  [round(float(s), 6) for s in chosen.scores], reasons)
