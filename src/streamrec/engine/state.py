"""Everything the engine has learned: vocabularies, user histories, models, the ranker.

Only the learner mutates it (one writer, ``with lock:``); reads take ``lock.reading()``, side
by side, for a consistent view (engine/rwlock.py). It is a function of the event log alone
(catalogue changes are in it: engine/item_changes.py), so it can always be rebuilt by
replaying the log.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import orjson

from streamrec.engine.erasures import is_erasure
from streamrec.engine.forgetting import FORGET_TYPE, forget_point, forgotten_before, idle_users
from streamrec.engine.histories import UserHistories
from streamrec.engine.identities import MERGE_TYPE, Identities, is_merge
from streamrec.engine.item_changes import ITEMS_TYPE, is_item_change, items_of
from streamrec.engine.refits import (
    BEGIN_TYPE,
    END_TYPE,
    PendingFit,
    PendingFits,
    artefact_of,
)
from streamrec.engine.rwlock import ReadWriteLock
from streamrec.events.types import EventTypeConfig, event_weight
from streamrec.events.vocab import Vocabulary
from streamrec.experiments.definitions import (
    EXPERIMENT_KEY,
    EXPERIMENT_TYPE,
    is_experiment_event,
)
from streamrec.experiments.overrides import plan_of
from streamrec.experiments.registry import Experiments
from streamrec.models.base import (
    CapturesChanges,
    DenseScorer,
    ForgetsUsers,
    LearnsItems,
    MakesRoom,
    MergesUsers,
    Model,
    Refittable,
    grow,
)
from streamrec.ranking.attribute_names import AttributeNames
from streamrec.ranking.features import CandidateSet
from streamrec.ranking.hybrid import HybridRanker
from streamrec.settings import Settings
from streamrec.sources import SOURCES
from streamrec.storage.artefacts import ArtefactStore
from streamrec.storage.codec import ERASE_TYPE
from streamrec.types import Event, EventBatch, IntArray, Item, LoggedEvent, Query

_NO_ATTRIBUTES: Mapping[str, Any] = {}


class _Unread:
    """In ``EngineState.attributes``: the item's attributes are the restored snapshot's."""


_UNREAD = _Unread()
# no item's attributes encoded yet: ``EngineState._attributes_encoded`` starts from these
_NONE_ENCODED: dict[str, np.ndarray] = {"attributes_utf8": np.zeros(0, dtype=np.uint8),
                                        "attributes_ends": np.zeros(0, dtype=np.int64)}
# a snapshot's component for a fit begun and not ended, by its begin's offset
PENDING_FIT = "pending-fit-"
# the engine's own key in an event's context: the item ids of the list the event is feedback
# on, written at ingestion from the remembered impression (clients cannot send "$" keys)
SHOWN_KEY = "$shown"


# the engine's own log entries (session merges, refit markers, catalogue changes, erasures,
# experiments started and stopped, idle users forgotten): one set, as each event of a batch
# is asked
_CONTROL_TYPES = frozenset((MERGE_TYPE, BEGIN_TYPE, END_TYPE, ITEMS_TYPE, ERASE_TYPE,
                            EXPERIMENT_TYPE, FORGET_TYPE))


def is_control(event: Event) -> bool:
    """The engine's own log entries (refit markers, session merges, catalogue changes,
    erasures, experiments started and stopped, idle users forgotten): not behaviour."""
    return event.type in _CONTROL_TYPES


def build_models(settings: Settings) -> dict[str, Model]:
    """Every registered source's model (``streamrec.sources``), by name, in the registry's
    order."""
    models = {source.name: source.build(settings.models) for source in SOURCES}
    wrong = [f"{name} built {model.name}" for name, model in models.items() if model.name != name]
    if wrong:
        raise ValueError(f"a source must build the model of its name: {', '.join(wrong)}")
    return models


class EngineState:
    def __init__(self, settings: Settings, inline_training: bool = True) -> None:
        """``inline_training``: refit heavy models inside ``apply`` when due (evaluation,
        tests); the engine turns it off and refits in its trainer thread instead."""
        self.lock = ReadWriteLock()  # reads side by side, or one writer (engine/rwlock.py)
        # held by ``apply`` for a whole batch: a snapshot's capture (``_components``) takes
        # it first, so it is a cut between batches. The write lock alone is not: the learner
        # lets waiting reads in after each lesson, where the ranker has been taught an event
        # the models have not learned yet (a capture there, by a snapshot asked for over the
        # API, would have been taught it twice on replay)
        self.cut = threading.RLock()
        self.settings = settings
        self.inline_training = inline_training
        self.event_types: Mapping[str, EventTypeConfig] = settings.events.types
        self.history_length = settings.events.history_length
        self.negatives = settings.models.negatives
        self.users = Vocabulary()
        self.items = Vocabulary()
        self.histories = UserHistories(self.history_length)  # bounded: engine/histories.py
        # per user index: 1 + the count of client events learned at their latest event (0:
        # none held); whom a ``$forget`` applies to
        self.last_active = np.zeros(0, dtype=np.int64)
        self.identities = Identities()
        self.models = build_models(settings)
        self.scorers = {n: m for n, m in self.models.items() if isinstance(m, DenseScorer)}
        self.ranker = HybridRanker(settings.models.hybrid,
                                   settings.models.content.ignored_attributes)
        self._refittables = self.refittables()
        # runtime protocol checks cost ~10 us each: asked once, not at every batch
        self._making_room = [m for m in self.models.values() if isinstance(m, MakesRoom)]
        self.experiments = self._no_experiments()  # started and stopped in the log
        self.pending_fits = PendingFits()  # begun in the log, not ended (engine/refits.py)
        self.fit_begun = threading.Condition()  # the trainer waits on it for new fits
        self.artefacts: ArtefactStore | None = None  # where fits are saved; None: nowhere
        self.available = np.ones(0, dtype=bool)
        # per item; ``_UNREAD``: the item's attributes are the restored snapshot's JSON
        # (``_saved_attributes``), read the first time they are asked for (attributes_of):
        # a restart decodes none of them (1M items' took ~0.4 s); a str: the same, from a
        # snapshot that kept them as a text array
        self.attributes: list[Mapping[str, Any] | str | _Unread] = []
        self._saved_attributes: tuple[np.ndarray, np.ndarray] = (np.zeros(0, np.uint8),
                                                                 np.zeros(0, np.int64))
        self.attribute_names = AttributeNames()  # which attributes items carry
        self.updated_at = np.zeros(0)  # of the item's version in the log; NaN: none there
        # changes with every catalogue change applied: what caches of item texts check
        self.catalogue_version = 0
        # the unavailable items, for the catalogue_version they were found at (unavailable)
        self._unavailable: tuple[int, IntArray] = (-1, np.zeros(0, np.int64))
        # the attributes as JSON text in UTF-8, one after another, for (items, arrays):
        # encoding 100k items' took 0.2 s of every snapshot's capture, under the read lock;
        # then making a fixed-width text array of them (~47 MiB) held a read ~10 ms at each
        # snapshot. As bytes, ~11 MiB at 100k items. Made again for the items added or
        # changed since (``_attributes_changed``) only: at 1M items, every item encoded at
        # each snapshot held the GIL ~0.5 s, and a shop's stream adds items all the time
        self._encoded_attributes: tuple[int, dict[str, np.ndarray]] | None = None
        # items whose attributes changed since ``_encoded_attributes`` was made
        self._attributes_changed: set[int] = set()
        self.offset = 0  # every logged event up to here is learned
        self.learned_events = 0  # log entries learned: clients' events and the engine's own
        self.client_events = 0  # clients' events learned (not merges, refit markers, ...)

    # -- learning ------------------------------------------------------------------------
    def batch_of(self, logged: Sequence[LoggedEvent]) -> EventBatch:
        types = self.event_types
        events = [entry.event for entry in logged]
        users = self.users.indices(e.user_id for e in events)
        items = self.items.indices(e.item_id for e in events)
        self._grow_items()
        weights = np.fromiter(
            (event_weight(types[e.type], e.value) if e.type in types else 0.0 for e in events),
            dtype=np.float64, count=len(events),
        )
        times = np.fromiter((e.timestamp for e in events), dtype=np.float64, count=len(events))
        return EventBatch(users, items, weights, times)

    def apply(self, logged: Sequence[LoggedEvent]) -> None:
        """Learn logged events in offset order; events at or below ``offset`` are skipped."""
        with self.cut:
            self._apply(logged)

    def _apply(self, logged: Sequence[LoggedEvent]) -> None:
        fresh = [entry for entry in logged if entry.offset > self.offset]
        if not fresh:
            return
        controls = [n for n, entry in enumerate(fresh) if is_control(entry.event)]
        if controls:  # the events between control events, each control in its place
            with self.lock:
                start = 0
                for n in controls:
                    self._apply(fresh[start:n])
                    self._control(fresh[n])
                    start = n + 1
                self._apply(fresh[start:])
            return
        fresh = list(self.identities.resolve_events(fresh))
        # a slab's pack made now, beside reads, and put in place under the lock: at 100k
        # items co-occurrence's took up to ~0.8 s, and every read waited (models/base.py)
        room = [made for model in self._making_room if (made := model.make_room()) is not None]
        with self.lock:
            for put_in_place in room:
                put_in_place()
            # the ranker is taught just before an event, on the state of everything before it,
            # whatever batches the log happens to be read in: replay rebuilds the same state
            start = 0
            for position, shown in self._may_teach(fresh):
                if self._teach_ranker(fresh, position, shown, start):
                    start = position
                    # the models have learned up to here: waiting reads need not wait for
                    # the rest of the batch (each lesson is a query, ~3 ms at 100k items)
                    self.lock.let_readers_in()
            self._learn(fresh[start:])
            if self.inline_training:
                for refittable in self._refittables:
                    if refittable.refit_due():
                        refittable.refit()

    def _control(self, entry: LoggedEvent) -> None:
        """A logged decision of the engine's own, learned in its place in the log."""
        if is_merge(entry.event):
            self._merge(entry)
        elif is_item_change(entry.event):
            self.apply_items(items_of(entry.event))
        elif is_erasure(entry.event):
            pass  # what it dropped, the learner dropped (engine/erasures.py)
        elif entry.event.type == FORGET_TYPE:
            self.forget_users(idle_users(self.last_active, self.users.held(),
                                         forgotten_before(entry.event)))
        elif is_experiment_event(entry.event):
            self.experiments.learn(entry)
        elif entry.event.type == BEGIN_TYPE:
            self._begin_fit(entry)
        else:
            self._end_fit(entry)
        self.offset = entry.offset
        self.learned_events += 1

    def _merge(self, entry: LoggedEvent) -> None:
        """A session turned out to be a user (engine/identities.py): the user gets its
        history and per-user model state, and its later events."""
        session, user = entry.event.user_id, entry.event.item_id
        source = self.users.lookup(session)
        if self.identities.learn(entry.event) and source is not None:
            target = self.users.index(user)
            self.last_active = grow(self.last_active, len(self.users))
            # the session holds nothing now: the first to be forgotten (engine/forgetting.py)
            self.last_active[target] = max(self.last_active[target], self.last_active[source])
            self.last_active[source] = 0
            self.histories.merge(source, target)
            self.ranker.blend.merge_users(source, target)
            for model in self.models.values():
                if isinstance(model, MergesUsers):
                    model.merge_users(source, target)

    def forget_users(self, users: IntArray) -> None:
        """Drop these users' state from every part that holds per-user state, and free
        their indices for new users (engine/forgetting.py). Under the lock."""
        if users.size == 0:
            return
        self.histories.forget_users(users)
        self.ranker.blend.forget_users(users)
        for model in self.models.values():
            if isinstance(model, ForgetsUsers):
                model.forget_users(users)
        self.last_active[users] = 0
        self.users.forget(users.tolist())

    def budgets(self) -> dict[str, dict[str, Any]]:
        """The users held against ``events.max_users`` (``engine/sizes.py``): ``slots`` is
        the length of per-user arrays, free indices included (the next new users take them).
        Users past the budget are forgotten at the trainer's next poll."""
        live, max_users = self.users.live, self.settings.events.max_users or None
        return {"users": {"setting": "events.max_users", "budget": max_users,
                          "per": "process", "count": live, "largest": live,
                          "most": max_users, "slots": len(self.users),
                          "bytes": None, "most_bytes": None}}

    def forget_point(self) -> int | None:
        """Where a ``$forget`` should fall now, or None while the users held are within
        ``events.max_users`` (the trainer asks, engine/trainer.py)."""
        max_users = self.settings.events.max_users  # 0: no bound
        if not max_users or self.users.live <= max_users:
            return None
        with self.lock.reading():
            return forget_point(self.last_active, self.users.held(), max_users)

    def _begin_fit(self, entry: LoggedEvent) -> None:
        """Take the model's training data here; the trainer fits it (engine/refits.py)."""
        model = self.models.get(entry.event.item_id)
        if not isinstance(model, Refittable) or self.pending_fits.has(model.name):
            return  # a model since removed, or a second begin while one is pending
        data, events = model.begin_refit()
        self.pending_fits.add(PendingFit(entry.offset, model, data, events))
        with self.fit_begun:
            self.fit_begun.notify_all()

    def prepare_end(self, entry: LoggedEvent) -> None:
        """Off the lock, before a ``$refit-end`` is applied: a replay loads the artefact it
        names (or fits again, if it is lost); nothing to do where a trainer computed it."""
        event = entry.event
        if event.type != END_TYPE or not (event.context or {}).get("ok", False):
            return
        fit = self.pending_fits.claim(int((event.context or {}).get("begin", -1)))
        if fit is not None:
            fit.load(self.artefacts, artefact_of(event))

    def _end_fit(self, entry: LoggedEvent) -> None:
        """Swap the fit begun at ``context.begin`` in here (``prepare_end`` loaded it)."""
        context = entry.event.context or {}
        self.prepare_end(entry)  # when apply is called without the learner (under the lock)
        fit = self.pending_fits.pop(int(context.get("begin", -1)))
        if fit is None:  # its begin came before the snapshot this state was restored from
            return
        if not context.get("ok", False):
            fit.model.abort_refit()
            return
        fit.done.wait()
        if fit.error is not None:  # failed here although it worked when logged
            raise RuntimeError(f"replaying the refit of {fit.model.name} logged at offset "
                               f"{fit.begin_offset} failed") from fit.error
        fit.model.swap(fit.result, fit.events)

    def _learn(self, logged: Sequence[LoggedEvent]) -> None:
        if not logged:
            return
        batch = self.batch_of(logged)
        for entry in logged:  # feedback on a list shown in an experiment: its variant's
            context = entry.event.context
            if context and EXPERIMENT_KEY in context:
                self.experiments.count(context[EXPERIMENT_KEY], entry.event.type)
        self.histories.learn(batch)
        self.last_active = grow(self.last_active, len(self.users))
        np.maximum.at(self.last_active, batch.users,
                      np.arange(self.client_events + 1, self.client_events + len(batch) + 1))
        for model in self.models.values():
            model.learn(batch)
        self.ranker.facts.learn(batch)
        self.ranker.blend.learn(batch)
        self.offset = logged[-1].offset
        self.learned_events += len(logged)
        self.client_events += len(logged)

    def _may_teach(self, fresh: Sequence[LoggedEvent]) -> list[tuple[int, list[Any] | None]]:
        """The positions of the events that may teach the ranker, in order, each with the
        list it is feedback on (``SHOWN_KEY``: a lesson) or None (the user's next item: a
        test, and a lesson when ``wants_example`` says so). A next item is one of a
        positive type, by a user who had an event before, with an item new to them; feedback
        needs its user and item known. Both are decided on the state before the batch and
        the batch's earlier events, never on where a lesson fell in it, so the choice does not
        depend on where batches start (a replay reads the log in other batches). The state's
        part is asked for the whole batch at once (``UserHistories.before``, compiled)."""
        events = [entry.event for entry in fresh]
        types = self.event_types
        teachable = {name for name, config in types.items() if not config.is_negative}
        user_ids = [event.user_id for event in events]
        item_ids = [event.item_id for event in events]
        users, items = self.users.lookups(user_ids), self.items.lookups(item_ids)
        positive = np.fromiter((event.type in teachable for event in events), dtype=bool,
                               count=len(events))
        user_known = users >= 0
        asked = np.flatnonzero(positive & user_known)
        had = np.zeros(len(events), dtype=bool)
        seen = np.zeros(len(events), dtype=bool)
        had[asked], seen[asked] = self.histories.before(users[asked], items[asked])
        may: list[tuple[int, list[Any] | None]] = []
        earlier_users: set[str] = set()
        earlier_items: set[str] = set()
        earlier: set[tuple[str, str]] = set()  # (user, item)
        had_before, seen_before = had.tolist(), seen.tolist()
        user_was_known, item_was_known = user_known.tolist(), (items >= 0).tolist()
        for k, (event, is_positive) in enumerate(zip(events, positive.tolist(), strict=True)):
            user_id, item_id = user_ids[k], item_ids[k]
            if is_positive:
                shown = (event.context or {}).get(SHOWN_KEY)
                if isinstance(shown, list) and (user_was_known[k] or user_id in earlier_users) \
                        and (item_was_known[k] or item_id in earlier_items):
                    may.append((k, shown))
                elif (had_before[k] or user_id in earlier_users) and not seen_before[k] \
                        and (user_id, item_id) not in earlier:
                    may.append((k, None))
            earlier_users.add(user_id)
            earlier_items.add(item_id)
            earlier.add((user_id, item_id))
        return may

    def _teach_ranker(self, fresh: Sequence[LoggedEvent], position: int,
                      shown_ids: list[Any] | None, start: int) -> bool:
        """Ask the ranker about ``fresh[position]`` (``_may_teach`` chose it) before the
        models learn it (test, then train); the batch's events since the last lesson
        (``fresh[start:position]``) are learned first, only when it teaches, so batches stay
        batches (and are sliced only then: a slice per event asked was quadratic in the
        batch, 9% of a restart's replay of 10,000-event batches). True if it taught."""
        entry = fresh[position]
        event = entry.event
        if shown_ids is None and not self.ranker.wants_example():
            return False
        self._learn(fresh[start:position])
        user = self.users.lookup(event.user_id)
        item = self.items.lookup(event.item_id)
        if shown_ids is not None:
            # what was shown, as the engine logged it with the event (not the in-memory
            # impression, which a restart loses): replay teaches the same lesson
            assert user is not None and item is not None  # known before it (_may_teach)
            found = (self.items.lookup(str(i)) for i in shown_ids)
            shown_items = np.array([i for i in found if i is not None], dtype=np.int64)
            with self.lock.sharing():  # reads go on beside the pass, as below
                query = self.query_for(user, event.timestamp, exclude_seen=False,
                                       serving=False)
                shown = self.ranker.candidates(query, self.scorers, len(self.items),
                                               also=shown_items)
            self.ranker.learn_feedback(_subset(shown, np.isin(shown.items, shown_items)), item)
            return True
        if user is None or item is None:  # a brand-new item: no candidate can be it
            self.ranker.missed(user)
            return True
        # the pass only reads the state: reads go on beside it rather than wait it out (~80
        # ms at 1M items, every source exact); a snapshot's capture cannot (``cut``), the
        # ranker having counted this event already
        with self.lock.sharing():
            query = self.query_for(user, event.timestamp, exclude_seen=True, serving=False)
            candidates = self.ranker.candidates(query, self.scorers, len(self.items))
        self.ranker.learn_next_item(candidates, item, user)
        return True

    def _no_experiments(self) -> Experiments:
        """The registry before any experiment: variants' plans are this engine's settings
        with their overrides (experiments/overrides.py), made for this state's ranker."""
        settings = self.settings
        default = self.ranker.plan(None, settings.models.negatives,
                                   settings.serving.max_per_category)
        return Experiments(lambda overrides, field: plan_of(settings, self.ranker, overrides,
                                                             field), default)

    def refittables(self) -> list[Refittable]:
        return [m for m in self.models.values() if isinstance(m, Refittable)]

    def prepare_swap(self, fit: PendingFit) -> None:
        """Off the lock, before a fit is swapped in: build the ANN index of the vectors it
        will serve, so no query falls back to exact scoring right after the swap."""
        vectors_of = getattr(fit.model, "serving_vectors", None)
        if vectors_of is None or fit.error is not None or fit.result is None:
            return
        reads_of = getattr(fit.model, "exact_reads_of", None)  # ``BoundedQueries``
        if self.ranker.indexes.config.wants_index(
                None if reads_of is None else reads_of(fit.result)):
            self.ranker.indexes.prepare(fit.model.name, vectors_of(fit.result))

    def _grow_items(self) -> None:
        n = len(self.items)
        self.available = grow(self.available, n, fill=True)
        self.updated_at = grow(self.updated_at, n, fill=np.nan)
        if len(self.attributes) < n:
            self.attributes.extend([_NO_ATTRIBUTES] * (n - len(self.attributes)))

    def apply_items(self, items: Iterable[Item]) -> None:
        """Make catalogue items known (cold items included): availability, attributes, and
        the models that learn from the catalogue. The engine calls it only for a logged
        ``$items`` event (engine/item_changes.py); evaluation and tests call it directly."""
        with self.lock:
            self.catalogue_version += 1
            indexed = [(self.items.index(item.item_id), item) for item in items]
            self._grow_items()
            self._attributes_changed.update(index for index, _ in indexed)
            for index, item in indexed:
                self.available[index] = item.is_available
                self.attribute_names.change(self.attributes_of(index), item.attributes)
                self.attributes[index] = dict(item.attributes)
                self.updated_at[index] = item.updated_at
            for model in self.models.values():
                if isinstance(model, LearnsItems):
                    model.learn_items(indexed)
            self.ranker.facts.learn_items(indexed)

    # -- reading -------------------------------------------------------------------------
    def query_for(self, user: int | None, now: float, exclude_seen: bool = True,
                  extra_exclude: Sequence[np.ndarray] = (), serving: bool = True) -> Query:
        """The user's state as the models see it. When ``serving``, unavailable items are
        excluded; learning leaves them in: availability is a serving rule, not
        part of what the models learn from events."""
        parts = [*extra_exclude]
        if serving:
            parts.append(self.unavailable())
        parts.append(np.zeros(0, np.int64))
        if user is None:
            return Query(None, np.zeros(0, np.int64), np.concatenate(parts).astype(np.int64), now)
        items, weights, times = self.histories.recent(user, self.history_length)
        if exclude_seen:
            parts.append(self.histories.seen(user))
        return Query(user, items, np.concatenate(parts).astype(np.int64), now, weights, times)

    def unavailable(self) -> IntArray:
        """The items marked unavailable, sorted (read-only). Found again only after a
        catalogue change: only ``apply_items`` and ``restore`` change availability, and each
        moves ``catalogue_version`` on, under the writer's lock. Every read asked a pass over
        the catalogue before (0.30 ms of a ~5 ms read at 1M items). Readers side by side
        may each find it; either result is the same, kept."""
        version, found = self._unavailable
        if version != self.catalogue_version:
            version = self.catalogue_version
            found = np.flatnonzero(~self.available[: len(self.items)])
            found.flags.writeable = False
            self._unavailable = (version, found)
        return found

    def attributes_of(self, item: int) -> Mapping[str, Any]:
        if item >= len(self.attributes):
            return _NO_ATTRIBUTES
        attributes = self.attributes[item]
        if isinstance(attributes, _Unread | str):  # as restored: parsed once, on first use
            # (readers side by side may both parse it; either result is the same, kept)
            attributes = self.attributes[item] = orjson.loads(self._saved_json(item))
        return attributes

    def _saved_json(self, item: int) -> str | bytes:
        """Item ``item``'s attributes as the restored snapshot holds them (JSON)."""
        saved = self.attributes[item]
        if isinstance(saved, str):
            return saved
        joined, ends = self._saved_attributes
        return joined[int(ends[item - 1]) if item else 0:int(ends[item])].tobytes()

    # -- persistence ---------------------------------------------------------------------
    def state(self) -> dict[str, dict[str, np.ndarray]]:
        return self._components(lambda model: model.state(), deferred=False)

    def capture(self, holds: Callable[[str], bool] = lambda token: False,
                ) -> dict[str, dict[str, Any]]:
        """``state`` for a snapshot, under the read lock. A model may offer ``capture``,
        given whether the snapshot store ``holds`` an array by its token: its state by the
        changes since a base the store holds (co-occurrence, models/sparse_rows.py)."""
        def of_model(model: Any) -> dict[str, Any]:
            arrays: dict[str, Any] = (model.capture(holds) if isinstance(model, CapturesChanges)
                                      else model.state())
            return arrays

        return self._components(of_model, deferred=True)

    def _components(self, of_model: Callable[[Any], dict[str, Any]],
                    deferred: bool) -> dict[str, dict[str, Any]]:
        # a cut between batches (``cut``), taken before the read lock as ``apply`` takes it
        # before the write lock: a caller already reading must have taken it first
        with self.cut, self.lock.reading():
            components = {
                "vocabulary": {"users": self.users.state(), "items": self.items.state(),
                               "users_last_active": self.last_active[: len(self.users)].copy()},
                "histories": of_model(self.histories),
                "counters": {"learned_events": np.array([self.learned_events]),
                             "client_events": np.array([self.client_events])},
                "ranker": self.ranker.state(),
                "identities": self.identities.state(),
                "catalogue": self._catalogue_state(),
                "experiments": self.experiments.state(),
            }
            for name, model in self.models.items():
                components[f"model-{name}"] = of_model(model)
            for fit in self.pending_fits.all():
                components[f"{PENDING_FIT}{fit.begin_offset:020d}"] = {
                    "model": np.array([fit.model.name]),
                    "counters": np.array([fit.begin_offset, fit.events]),
                    **{f"data_{key}": value if deferred else np.asarray(value)
                       for key, value in fit.model.data_arrays(fit.data).items()}}
            return components

    def _catalogue_state(self) -> dict[str, np.ndarray]:
        n = len(self.items)
        return {"available": self.available[:n].copy(), "updated_at": self.updated_at[:n].copy(),
                **self._attributes_encoded(n), **self.attribute_names.state()}

    def _attributes_encoded(self, n: int) -> dict[str, np.ndarray]:
        """The first ``n`` items' attributes as JSON text in UTF-8 (``utf8_joined``);
        read-only, the same arrays until an item is added or changed. Then only the items
        added or changed are encoded again, the last arrays' bytes kept for the others.
        Called under ``cut`` (one caller at a time)."""
        cached, changed = self._encoded_attributes, self._attributes_changed
        if cached is not None and cached[0] == n and not changed:
            return dict(cached[1])
        done, arrays = cached if cached is not None else (0, _NONE_ENCODED)
        joined, ends = arrays["attributes_utf8"], arrays["attributes_ends"]
        lengths = np.diff(ends, prepend=0)
        saved, begin = joined.data, 0
        pieces: list[bytes | memoryview] = []
        for item in sorted(i for i in changed if i < done):
            start = int(ends[item - 1]) if item else 0
            encoded = self._encoded(item)
            pieces += [saved[begin:start], encoded]
            lengths[item], begin = len(encoded), int(ends[item])
        added = [self._encoded(i) for i in range(done, n)]
        joined = np.frombuffer(b"".join([*pieces, saved[begin:], *added]), dtype=np.uint8)
        ends = np.cumsum(np.concatenate(
            [lengths, np.fromiter(map(len, added), dtype=np.int64, count=len(added))]))
        for array in (joined, ends):
            array.flags.writeable = False
        self._encoded_attributes = (n, {"attributes_utf8": joined, "attributes_ends": ends})
        self._attributes_changed = set()
        return {"attributes_utf8": joined, "attributes_ends": ends}

    def _encoded(self, item: int) -> bytes:
        """Item ``item``'s attributes as JSON in UTF-8: the restored snapshot's own text
        while they are as restored."""
        attributes = self.attributes[item]
        if isinstance(attributes, _Unread | str):
            saved = self._saved_json(item)
            return saved.encode() if isinstance(saved, str) else saved
        return orjson.dumps(dict(attributes))

    def empty_copy(self) -> EngineState:
        """A state that has learned nothing, configured as this one."""
        fresh = EngineState(self.settings, self.inline_training)
        fresh.artefacts = self.artefacts
        return fresh

    def restore_from(self, other: EngineState) -> None:
        """Hold what ``other`` learned, as a snapshot of it would (``state``), keeping this
        state's identity and lock, which the recommender, learner and trainer hold.

        Fits begun and not ended come from ``other``, with the data its replay took at their
        begins (an erasure's rebuild: without the erased events). This state's own are given
        up: a trainer computing one saves nothing more and logs no end for it
        (engine/trainer.py), and fits ``other``'s instead, unclaimed."""
        with other.cut, other.lock.reading():  # the order every capture takes them in
            offset, components = other.offset, other.state()
        for fit in self.pending_fits.all():
            fit.abandoned = True
        self.restore(offset, components)

    def restore(self, offset: int, components: Mapping[str, Mapping[str, np.ndarray]]) -> None:
        """The state a snapshot holds (``state``), at ``offset``; exact: replaying the log
        after ``offset`` on it gives what replaying the whole log gives."""
        with self.lock:
            self.catalogue_version += 1
            self._encoded_attributes, self._attributes_changed = None, set()
            self.users = Vocabulary.restore(components["vocabulary"]["users"])
            self.items = Vocabulary.restore(components["vocabulary"]["items"])
            catalogue = components["catalogue"]
            self.available = np.array(catalogue["available"], dtype=bool)
            self.updated_at = np.array(catalogue["updated_at"], dtype=np.float64)
            # as JSON, the snapshot's own text: read when asked for (attributes_of), and
            # written as they are by the next snapshot while the catalogue is unchanged; a
            # text array in snapshots before the UTF-8 bytes (f9d8f29 and earlier)
            if "attributes_utf8" in catalogue:
                joined, ends = catalogue["attributes_utf8"], catalogue["attributes_ends"]
                self._saved_attributes = (joined, ends)
                self.attributes = [_UNREAD] * int(ends.shape[0])
                for array in (joined, ends):
                    array.flags.writeable = False
                self._encoded_attributes = (int(ends.shape[0]),
                                            {"attributes_utf8": joined, "attributes_ends": ends})
            else:
                self.attributes = catalogue["attributes"].tolist()
            counted = AttributeNames.restore(catalogue)
            if counted is None:  # a snapshot from before the counts were kept
                counted = AttributeNames()
                for item in range(len(self.attributes)):
                    counted.change({}, self.attributes_of(item))
            self.attribute_names = counted
            self._grow_items()
            self.histories.restore(components["histories"])
            counters = components["counters"]
            self.learned_events = int(counters["learned_events"][0])
            # snapshots older than this counter counted the engine's own entries as events
            self.client_events = int(counters.get("client_events", counters["learned_events"])[0])
            self.ranker.restore(components["ranker"])
            self.last_active = self._last_active_of(components)
            self.identities = Identities()
            if "identities" in components:  # absent from snapshots older than sessions
                self.identities.restore(components["identities"])
            self.experiments = self._no_experiments()
            if "experiments" in components:  # absent from snapshots older than experiments
                self.experiments.restore(components["experiments"])
            for name, model in self.models.items():
                model.restore(components[f"model-{name}"])
            pending = self._pending_fits_of(components)
            self.offset = offset
            self.pending_fits = pending
        if len(pending):
            with self.fit_begun:
                self.fit_begun.notify_all()

    def _last_active_of(self, components: Mapping[str, Mapping[str, np.ndarray]]) -> IntArray:
        """As saved; a snapshot from before users were forgotten has the blend's clock of
        each user's latest event, the same count (ranking/blend.py) where it is kept."""
        vocabulary = components["vocabulary"]
        saved = vocabulary.get("users_last_active")
        if saved is None:
            saved = components["ranker"].get("last_seen", np.zeros(0, dtype=np.int64))
        last_active = np.zeros(len(self.users), dtype=np.int64)
        n = min(len(saved), len(self.users))
        last_active[:n] = saved[:n]
        return last_active

    def _pending_fits_of(self, components: Mapping[str, Mapping[str, np.ndarray]]
                         ) -> PendingFits:
        """The fits a snapshot holds as begun and not ended, each with the data its begin
        took: as a replay holds them at this offset (their ends may be in the log after it,
        or not written yet)."""
        pending = PendingFits()
        for component in sorted(c for c in components if c.startswith(PENDING_FIT)):
            arrays = components[component]
            model = self.models[str(arrays["model"][0])]
            if not isinstance(model, Refittable):
                raise ValueError(f"{component}: {model.name} has no refits")
            begin, events = (int(n) for n in arrays["counters"])
            data = model.data_from({key.removeprefix("data_"): value
                                    for key, value in arrays.items()
                                    if key.startswith("data_")})
            pending.add(PendingFit(begin, model, data, events))
        return pending


def _subset(candidates: CandidateSet, mask: np.ndarray) -> CandidateSet:
    return CandidateSet(candidates.items[mask], candidates.raw[mask], candidates.features[mask])
