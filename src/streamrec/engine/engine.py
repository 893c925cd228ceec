"""The engine: validated events in, recommendations out, state rebuilt from snapshot + log."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from streamrec.engine import browsing, collector, histories
from streamrec.engine.browsing import ActivityDay, ShownEvent
from streamrec.engine.erasures import clear_pending, erasure_event, pending_keys, record_pending
from streamrec.engine.exports import UserExport, export_of
from streamrec.engine.identities import merge_event, merged_sessions
from streamrec.engine.item_changes import items_event, items_of
from streamrec.engine.leadership import RefitLease
from streamrec.engine.learner import Learner
from streamrec.engine.recommender import Recommendation, Recommender
from streamrec.engine.snapshotter import Snapshotter
from streamrec.engine.state import SHOWN_KEY, EngineState
from streamrec.engine.trainer import Trainer
from streamrec.errors import Conflict, Misconfigured, NotFound, Unavailable
from streamrec.events.validation import check_id, validate_events, validate_item
from streamrec.experiments.definitions import (
    EXPERIMENT_KEY,
    Definition,
    check_definition,
    check_name,
    start_event,
    stop_event,
)
from streamrec.experiments.exposures import Counts, Exposures, SqliteCounts
from streamrec.experiments.overrides import plan_of
from streamrec.experiments.registry import Experiment
from streamrec.experiments.report import report_of
from streamrec.models import compiled, sparse_rows, text_vectors, windows
from streamrec.models.change_log import gives_changes_again
from streamrec.models.sequence import SequenceModel
from streamrec.models.sequence_process import FITS_FOLDER
from streamrec.ranking import item_facts
from streamrec.ranking.features import start_index_builds
from streamrec.ranking.rules import Rules
from streamrec.settings import Settings
from streamrec.storage.artefacts import ArtefactStore
from streamrec.storage.base import Catalogue, EventLog, open_catalogue, open_log
from streamrec.storage.codec import open_cipher
from streamrec.storage.failures import storage_unavailable
from streamrec.storage.impressions import ImpressionStore, open_impressions
from streamrec.storage.integrity import check_at_start, check_pages, sqlite_paths, store_paths
from streamrec.storage.snapshots import ReadAhead, Snapshot, SnapshotStore
from streamrec.trust.pseudonyms import session_key_function, user_key_function
from streamrec.trust.secret_check import check_secret
from streamrec.types import Appended, Event, Item

# numba's cache, when neither the install nor the home can hold it (models/compiled.py)
COMPILED_FOLDER = "compiled"

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int | None], None]  # (phase, done so far, total or None)
_ITEMS_PER_EVENT = 10_000  # one $items event per this many items of one upsert


def compile_kernels() -> None:
    """Load every compiled kernel the learner and the read path run (numba's cache;
    compiled once per machine), as a start does before it learns."""
    sparse_rows.compile_kernels()
    windows.compile_kernels()
    histories.compile_kernels()
    text_vectors.compile_kernels()
    item_facts.compile_kernels()


def open_exposure_counts(settings: Settings) -> Counts:
    """Replicas with Redis count the lists they show there; else experiments.db."""
    if settings.replicas.redis_url is not None:
        from streamrec.storage.redis_shared import RedisExposureCounts

        return RedisExposureCounts(settings.replicas.redis_url, settings.replicas.redis_prefix)
    return SqliteCounts(settings.data_dir / "experiments.db")


def open_shared_impressions(settings: Settings) -> ImpressionStore:
    """Replicas with Redis share shown lists (storage/redis_shared.py); else this process's."""
    redis_url = settings.replicas.redis_url
    if redis_url is not None and settings.serving.impressions_url == "memory:":
        from streamrec.storage.redis_shared import RedisImpressions

        return RedisImpressions(redis_url, settings.replicas.redis_prefix,
                                settings.replicas.impressions_ttl_s)
    return open_impressions(settings.serving.impressions_url, settings.serving.impressions_kept)


class Engine:
    def __init__(self, settings: Settings, event_log: EventLog, catalogue: Catalogue,
                 snapshots: SnapshotStore) -> None:
        self.settings = settings
        self.log = event_log
        self.catalogue = catalogue
        self.snapshots = snapshots
        self.state = EngineState(settings, inline_training=False)
        self.state.artefacts = ArtefactStore(settings.artefact_dir)
        for model in self.state.models.values():  # models that draw training curves
            if hasattr(model, "curves_dir"):
                model.curves_dir = settings.data_dir / "tensorboard"
            if isinstance(model, SequenceModel):  # background refits: off this process's GIL
                model.fit_in_child = settings.models.sequence.separate_process
                model.fit_dir = settings.data_dir / FITS_FOLDER
        # outside the state: a rebuild (erasure) keeps every other user's pages and feedback
        self.impressions = open_shared_impressions(settings)
        # lists shown per experiment variant, and to whom (experiments/exposures.py)
        self.exposures = Exposures(open_exposure_counts(settings))
        self.recommender = Recommender(self.state, self.impressions,
                                       settings.serving.list_depth, self._text_of,
                                       self.exposures)
        self.snapshotter = Snapshotter(self.state, snapshots, settings.snapshots,
                                       settings.model_fingerprint())
        # on a log replicas share, items upserted through another replica reach this one's
        # catalogue through the log (the catalogue is each replica's own file)
        self._shared_log = not settings.log_url.startswith(("sqlite:///", "memory:"))
        self.learner = self._new_learner()
        self.lease = self._refit_lease()
        self.trainer = self._new_trainer()
        if settings.replicas.shared_dir is not None and self._shared_log:
            lease = self.lease
            self.snapshotter.shared = SnapshotStore(settings.replicas.shared_dir / "snapshots",
                                                    settings.snapshots.keep)
            self.snapshotter.publishes = lambda: lease is None or lease.held
        self.started_at = time.time()
        # the log's tail learned again at the start (after the snapshot restored), and the
        # seconds that took: a restart's pace, without its fixed costs (bench/scale.py)
        self.replayed_events, self.replay_s = 0, 0.0
        self._closed = False
        # the id the engine stores for a user: raw ids never reach the log or snapshots when
        # a pseudonym secret is set (the API still speaks raw ids)
        self.user_key = user_key_function(settings.trust.pseudonym_secret)
        self.session_key = session_key_function(settings.trust.pseudonym_secret)
        self._is_pseudonymising = settings.trust.pseudonym_secret is not None
        self._identity_changes = threading.Lock()  # erasures and merges, one at a time
        self._item_writes = threading.Lock()  # the catalogue and the log in the same order
        self._experiment_changes = threading.Lock()  # starts and stops, one at a time
        self._workers_started = False
        self._read_ahead: ReadAhead | None = None  # the snapshots ``open`` began to read

    @classmethod
    def open(cls, settings: Settings, progress: Progress | None = None,
             start_learner: bool = True) -> Engine:
        """Open the stores, restore the newest snapshot, replay the log after it, start
        learning. ``progress`` is told how the replay goes."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        compiled.cache_in(settings.data_dir / COMPILED_FOLDER)  # if numba has nowhere else
        snapshots = SnapshotStore(settings.snapshot_dir, settings.snapshots.keep)
        # the newest snapshot is read while the kernels load, the files are checked and the
        # log opens (~1.5 s of each at 1M items: reading chunks, hashing them and SQLite's
        # scans release the GIL, so they overlap on two cores)
        read_ahead = snapshots.read_ahead()
        if start_learner:  # compiled now, not in the first batch (once per machine: ~10 s)
            compile_kernels()
        # a damaged file stops the start, named, rather than being served and written into
        check_at_start(sqlite_paths(settings.data_dir, settings.log_url, settings.catalogue_url,
                                    settings.key_store_url))
        try:
            event_log = open_event_log(settings)
        except Misconfigured:  # the key store refuses the secret: say what about the ids
            _check_secret_without_keys(settings)
            raise
        try:  # the same pseudonym secret as the stored ids were written with (or none)
            check_secret(settings.data_dir, settings.trust.pseudonym_secret,
                         event_log.last_offset() > 0)  # not count(): counted beside restore
        except Misconfigured:
            event_log.close()
            raise
        engine = cls(settings, event_log, open_catalogue(settings.catalogue_url), snapshots)
        engine._read_ahead = read_ahead
        # the replay allocates as the learner does: collected as a server collects
        with collector.young_generation(settings.serving.gc_young_objects):
            engine._recover(progress)
        if start_learner:
            with engine.state.lock.reading():  # a server: its first queries use the indexes
                start_index_builds(engine.state.scorers, engine.state.ranker.indexes,
                                   len(engine.state.items))
            engine._start_workers()
        if pending_keys(settings.data_dir):  # an erasure a crash interrupted: finish it
            log.warning("finishing an erasure that was interrupted")
            try:
                engine._erase(list)
            except BaseException:  # not served while it holds what it was asked to erase
                engine.close()
                raise
        return engine

    def _new_learner(self) -> Learner:
        learner = Learner(self.state, self.log, self.snapshotter.maybe_snapshot,
                          on_items=self._catalogue_follows if self._shared_log else None,
                          before_erasure=self._forget_derived)
        self.snapshotter.follow_learning(lambda: learner.learning_s)
        return learner

    def _forget_derived(self) -> None:
        """Before the state drops an erased user (engine/learner.py), on any replica: every
        snapshot and every fitted model holds their data; the state is rebuilt from the log
        and snapshotted again."""
        try:
            self.snapshotter.forget_all()  # no snapshot taken before lands after this
        except Unavailable as error:  # the state drops them all the same: it is the log's
            log.error("%s; a snapshot from before it may still hold the erased user: delete "
                      "it once the dir is writable", error)
        if self.state.artefacts is not None:
            self.state.artefacts.delete_all()

    def _refit_lease(self) -> RefitLease | None:
        """Replicas with Redis: one refit leader at a time (engine/leadership.py)."""
        if not self._shared_log or self.settings.replicas.redis_url is None:
            return None
        return RefitLease(self.settings.replicas.redis_url, self.settings.replicas.redis_prefix,
                          self.settings.replicas.refit_lease_s)

    def _new_trainer(self) -> Trainer:
        lease = self.lease
        return Trainer(self.state, self.log, self.settings.models.trainer_poll_s,
                       leader=None if lease is None else (lambda: lease.held),
                       nice=self.settings.models.trainer_nice,
                       stop_wait_s=self.settings.models.trainer_stop_wait_s)

    def _catalogue_follows(self, changes: Sequence[Event]) -> None:
        """Items another replica logged, into this replica's catalogue (newer versions only)."""
        newer = []
        for event in changes:
            for item in items_of(event):
                held = self.catalogue.get(item.item_id)
                if held is None or held.updated_at < item.updated_at:
                    newer.append(item)
        if newer:
            self.catalogue.upsert(newer, logged=True)

    def _start_workers(self) -> None:
        if not self._workers_started:
            self.exposures.start()  # once: it outlives the workers' restarts (erasures)
            if self.lease is not None:
                self.lease.start()
        self.learner.start()
        self.trainer.start()
        self._workers_started = True

    def _recover(self, progress: Progress | None) -> None:
        self._restore_newest_snapshot()
        pending = max(0, self.log.last_offset() - self.state.offset)
        done = 0

        def tell(n: int) -> None:
            nonlocal done
            done += n
            if progress is not None:
                progress("replay", done, pending)

        started = time.perf_counter()
        replayed = self.learner.catch_up(progress=tell)
        self.replayed_events, self.replay_s = replayed, time.perf_counter() - started
        self._log_unlogged_items()
        self.snapshotter.last_offset = self.state.offset
        self.snapshotter.last_events = self.state.learned_events
        # what was replayed is in no snapshot yet: a crash now would learn it again
        self.snapshotter.owe_learning(time.perf_counter() - started)
        log.info("replayed %d events after the snapshot in %.1f s", replayed, self.replay_s)

    def _snapshots_to_try(self) -> Iterator[Snapshot]:
        """This data dir's snapshots, newest first; a replica with none of its own (a new
        one) tries the newest shared ones (replicas.shared_dir) instead."""
        own = False
        ahead, self._read_ahead = self._read_ahead, None  # begun by ``open``: used once
        for snapshot in ahead if ahead is not None else self.snapshots.readable():
            own = True
            yield snapshot
        if not own and self.snapshotter.shared is not None:
            yield from self.snapshotter.shared.readable()

    def _restore_newest_snapshot(self) -> None:
        """The newest snapshot that reads back and fits (storage/snapshots.py skips damaged
        ones); none: state stays empty and the whole log is replayed."""
        for snapshot in self._snapshots_to_try():
            if snapshot.meta.get("fingerprint") not in {
                    self.snapshotter.fingerprint, *self.settings.earlier_model_fingerprints()}:
                log.warning("model settings changed since the last snapshot: rebuilding from "
                            "the log")
                return
            try:
                self.state.restore(snapshot.offset, snapshot.components)
            except (KeyError, IndexError, ValueError, TypeError) as error:
                log.warning("snapshot at offset %d lacks or garbles a component (%s: %s): "
                            "trying an older snapshot, then a replay of the log",
                            snapshot.offset, type(error).__name__, error)
                self.state.restore_from(self.state.empty_copy())  # none of it
                continue
            self.snapshotter.written_offset = snapshot.offset
            self.snapshotter.written_whole = not gives_changes_again(snapshot.components)
            # the arrays it kept under a token are the restored models' bases: the first
            # snapshot from here names them, as this process's own would have been
            for store in (self.snapshots, self.snapshotter.shared):
                if store is not None:
                    store.adopt(snapshot)
            log.info("restored snapshot at offset %d", snapshot.offset)
            return

    def _log_unlogged_items(self) -> None:
        """Append, once, the catalogue's items that the log does not hold in that version
        (by ``updated_at``): a crash, or a log that refused them, between the catalogue's
        write and the log's. Then state and catalogue agree, through the log. Only the items
        the catalogue marks unlogged are compared (every item, once, for a catalogue from
        before it kept them: reading 1M items' versions took 1.4 s of each restart)."""
        # the log's versions as Python floats, once: a numpy comparison per item cost more
        # than reading the catalogue's (0.1 s per 100k items)
        lookup = self.state.items.lookup
        logged = self.state.updated_at[: len(self.state.items)].tolist()

        def differs(item_id: str, updated_at: float) -> bool:
            return (index := lookup(item_id)) is None or logged[index] != updated_at

        marked = self.catalogue.unlogged()
        if marked is not None:  # read whole already
            unlogged = [item for item in marked if differs(item.item_id, item.updated_at)]
        else:
            unlogged = [item for item_id, updated_at in self.catalogue.versions()
                        if differs(item_id, updated_at)
                        and (item := self.catalogue.get(item_id)) is not None]
        if unlogged:
            self._append_items(unlogged)
            self.learner.catch_up()
            log.info("logged %d catalogue items the log did not hold", len(unlogged))
        if marked is None or marked:  # every item is now in the log as stored
            try:
                self.catalogue.mark_logged(None)
            except Unavailable as error:  # a read-only data dir: compared again next start
                log.warning("%s", error)

    def _append_items(self, items: Sequence[Item]) -> Appended:
        events = [items_event(items[start:start + _ITEMS_PER_EVENT], time.time())
                  for start in range(0, len(items), _ITEMS_PER_EVENT)]
        return self.log.append(events)

    # -- writes --------------------------------------------------------------------------
    def ingest(self, events: Sequence[Event], wait_learned: bool = True) -> Appended:
        """Validate, make durable, and (by default) wait until learned: read-your-writes."""
        stored = self.stored(events)
        try:
            appended = self.log.append(stored)
        except BaseException:
            self._unmark_first_outcomes(stored)  # not stored: a retry must count as first
            raise
        if wait_learned and appended.accepted:
            self.wait_learned(appended.last_offset)
        return appended

    def stored(self, events: Sequence[Event]) -> Sequence[Event]:
        """Validated events as the log keeps them: the key of their user or session in
        ``user_id`` (a pseudonym when a secret is set). Raises on the first bad one."""
        validate_events(events, self.state.event_types, self.settings.serving.max_batch)
        if self._is_pseudonymising or any(e.session_id is not None for e in events):
            events = [e._replace(user_id=self.session_key(e.session_id), session_id=None)
                      if e.session_id is not None else e._replace(user_id=self.user_key(e.user_id))
                      for e in events]
        return [self._with_shown(e) for e in events]

    def _with_shown(self, event: Event) -> Event:
        """Feedback on a list we showed carries that list into the log, so what it teaches
        the ranker survives restarts and replays the same (the impression is only in memory)."""
        shown_in = (event.context or {}).get("recommendation_id")
        if not isinstance(shown_in, str):
            return event
        impression = self.impressions.get(shown_in)
        if impression is None or \
                self.state.identities.resolve(impression.user_key) != \
                self.state.identities.resolve(event.user_id):
            return event
        context = {**(event.context or {}), SHOWN_KEY: list(impression.shown)}
        if impression.experiment is not None:  # the variant's rates count it (registry.py)
            context[EXPERIMENT_KEY] = {
                "experiment": impression.experiment, "variant": impression.variant,
                "first": self.impressions.first_outcome(shown_in, event.type)}
        return event._replace(context=context)

    def _unmark_first_outcomes(self, events: Sequence[Event]) -> None:
        for event in events:
            tag = (event.context or {}).get(EXPERIMENT_KEY)
            if isinstance(tag, dict) and tag.get("first"):
                self.impressions.unmark_outcome(
                    str((event.context or {})["recommendation_id"]), event.type)

    def merge_session(self, session_id: str, user_id: str) -> bool:
        """Attach an anonymous session to the user it turned out to be: a merge is logged and
        learned (engine/identities.py). From then on the user's recommendations draw on the
        session's events and leave out what it saw, and the session's later events are the
        user's. False if it already was this user's (nothing logged); ``Conflict`` if it was
        merged into another user."""
        check_id(session_id, "session_id")
        check_id(user_id, "user_id")
        session, user = self.session_key(session_id), self.user_key(user_id)
        with self._identity_changes:
            self.wait_learned(self.log.last_offset())  # every earlier merge is known
            owner = self.state.identities.owner(session)
            if owner == user:
                return False
            if owner is not None:
                raise Conflict("this session was merged into another user already; a session "
                               "belongs to one user (use a new session_id)", field="session_id")
            appended = self.log.append([merge_event(session, user, time.time())])
            self.wait_learned(appended.last_offset)
        return True

    def wait_learned(self, offset: int) -> None:
        if not self.learner.wait_learned(offset, self.settings.serving.learn_timeout_s):
            if self.learner.error is not None:
                raise Unavailable("the learner has stopped; events are durable, restart to learn")
            raise Unavailable(
                f"the events are stored durably but were not learned within learn_timeout_s="
                f"{self.settings.serving.learn_timeout_s:g} s (the learner is behind); they "
                f"will be learned: do not resend them, read again shortly")

    def upsert_items(self, items: Iterable[Item]) -> int:
        """Store the items in the catalogue, then log them as one ``$items`` event (per
        10,000) for the learner to apply (engine/item_changes.py); returns once learned."""
        items = list(items)
        for position, item in enumerate(items):
            validate_item(item, f"items[{position}]")
        if not items:
            return 0
        with self._item_writes:
            count = self.catalogue.upsert(items)  # first: the log is never ahead of it
            try:
                appended = self._append_items(items)
            except Unavailable as error:  # in the catalogue; logged at the next start
                raise Unavailable(f"the catalogue could not store items: {error}") from error
            try:
                self.catalogue.mark_logged(item.item_id for item in items)
            except Unavailable as error:  # still marked: the next start compares versions
                log.warning("%s", error)
        if self._workers_started:
            self.wait_learned(appended.last_offset)
        else:  # an import: this thread is the learner
            self.learner.catch_up()
        return count

    def update_item(self, item_id: str, attributes: Mapping[str, Any] | None,
                    text: str | None, available: bool | None) -> Item:
        """Change the given fields of an item, keeping the others (new items start empty)."""
        validate_item(Item(item_id, attributes or {}), "")
        current = self.get_item(item_id, must_exist=False) or Item(item_id)
        updated = replace(
            current,
            attributes=current.attributes if attributes is None else attributes,
            text=current.text if text is None else text,
            is_available=current.is_available if available is None else available,
            updated_at=time.time(),
        )
        self.upsert_items([updated])
        return updated

    # -- experiments ---------------------------------------------------------------------
    def start_experiment(self, definition: Definition) -> dict[str, Any]:
        """Check ``definition`` (``InvalidInput`` naming the field), log its start with the
        assignment rule and return once learned: from then on every user's lists are made
        in their variant. ``Conflict`` when its name was used, or another one runs."""
        check_definition(definition, self.state.event_types)
        for position, variant in enumerate(definition.variants):
            plan_of(self.settings, self.state.ranker, variant.overrides,
                    f"variants[{position}].overrides")
        with self._experiment_changes:
            self._learned_through(self.log.last_offset())  # every earlier start and stop
            with self.state.lock.reading():
                known = self.state.experiments.get(definition.name)
                running = self.state.experiments.running
            if known is not None:
                raise Conflict(f"an experiment named {definition.name!r} exists already "
                               f"({'running' if known.is_running else 'stopped'}); names "
                               "are never reused, so its results stay readable", field="name")
            if running is not None:
                raise Conflict(f"experiment {running.definition.name!r} is running: stop it "
                               "first (one experiment at a time, so each list has one "
                               "variant)", field="name")
            appended = self.log.append([start_event(definition, time.time())])
            self._learned_through(appended.last_offset)
        return self.experiment_report(definition.name)

    def stop_experiment(self, name: str) -> tuple[dict[str, Any], bool]:
        """Log the experiment's stop (lists are made by the engine's settings again); its
        results stay. Returns its report and whether it was running (False: nothing
        logged)."""
        with self._experiment_changes:
            self._learned_through(self.log.last_offset())
            experiment = self._experiment(name)
            was_running = experiment.is_running
            if was_running:
                appended = self.log.append([stop_event(name, time.time())])
                self._learned_through(appended.last_offset)
        return self.experiment_report(name), was_running

    def _learned_through(self, offset: int) -> None:
        if self._workers_started:
            self.wait_learned(offset)
        else:  # the command line, on a data dir: this thread is the learner
            self.learner.catch_up()

    def _experiment(self, name: str) -> Experiment:
        check_name(name, "name")
        with self.state.lock.reading():
            experiment = self.state.experiments.get(name)
        if experiment is None:
            raise NotFound(f"no experiment named {name!r}", field="name")
        return experiment

    def experiment_report(self, name: str) -> dict[str, Any]:
        """The experiment with its variants' rates, intervals and verdict
        (experiments/report.py)."""
        experiment = self._experiment(name)
        totals = self.exposures.totals(name)
        with self.state.lock.reading():
            return report_of(experiment, totals)

    def experiment_reports(self) -> list[dict[str, Any]]:
        """Every experiment, newest first."""
        with self.state.lock.reading():
            names = [e.definition.name for e in self.state.experiments.all()]
        return [self.experiment_report(name) for name in reversed(names)]

    # -- reads ---------------------------------------------------------------------------
    def _text_of(self, item_id: str) -> str:
        item = self.catalogue.get(item_id)
        return item.text if item is not None else ""

    def get_item(self, item_id: str, must_exist: bool = True) -> Item | None:
        item = self.catalogue.get(item_id)
        if item is None and item_id in self.state.items:
            item = Item(item_id)  # seen in events, no metadata yet
        if item is None and must_exist:
            raise NotFound(f"item {item_id!r} is unknown", field="item_id")
        return item

    def recommend(self, user_id: str, k: int, *, exclude_seen: bool = True,
                  exclude_ids: list[str] | None = None, rules: Rules | None = None,
                  after: str | None = None) -> Recommendation:
        return self.recommender.for_user(self.user_key(user_id), k, exclude_seen=exclude_seen,
                                         exclude_ids=exclude_ids, rules=rules, after=after,
                                         now=time.time())

    def recommend_session(self, session_id: str, k: int, **options: Any) -> Recommendation:
        """As ``recommend``, for an anonymous session; a merged one gets its user's."""
        check_id(session_id, "session_id")
        key = self.state.identities.resolve(self.session_key(session_id))
        return self.recommender.for_user(key, k, now=time.time(), **options)

    def similar(self, item_id: str, k: int) -> Recommendation:
        return self.recommender.similar(item_id, k)

    def popular(self, k: int, **options: Any) -> Recommendation:
        """What is popular now, to anyone; per attribute value under a filter."""
        return self.recommender.popular(k, now=time.time(), **options)

    # -- for people looking (the dashboard; engine/browsing.py) ---------------------------
    def recent_events(self, limit: int, user_id: str | None = None,
                      session_id: str | None = None) -> tuple[list[ShownEvent], int]:
        """The log's newest entries, newest first; one user's or session's among the newest
        100,000 when named. Also how many entries were read."""
        key = None if user_id is None else self.user_key(user_id)
        key = key if session_id is None else self.session_key(session_id)
        return browsing.recent_events(self.log, limit, key)

    def item_activity(self, item_id: str, days: int) -> tuple[list[ActivityDay], int, bool]:
        self.get_item(item_id)  # NotFound for an unknown item
        return browsing.item_activity(self.log, item_id, days)

    def search_items(self, text: str, limit: int) -> list[Item]:
        return browsing.search_items(self.catalogue.scan(), text, limit)

    def proposals(self, user_id: str, k: int,
                  exclude_seen: bool = True) -> dict[str, list[tuple[str, float]]]:
        return browsing.proposals(self.state, self.user_key(user_id), k, time.time(),
                                  exclude_seen)

    def stats(self) -> dict[str, Any]:
        state = self.state
        with state.lock.reading():  # the learner adds to both counts under its lock
            own_learned = state.learned_events - state.client_events
        return {
            # stored rows less the engine's own learned so far (merges, refit markers): no
            # scan; exact once learning has caught up
            "events": self.log.count() - own_learned,
            "users": state.users.live,
            "items": len(state.items),
            "catalogue_items": self.catalogue.count(),
            "log_offset": self.log.last_offset(),
            "learned_offset": state.offset,
            "learned_events": state.learned_events,
            "learn_lag_events": max(0, self.log.last_offset() - state.offset),
            "seconds_since_learned": round(time.time() - self.learner.last_learned_at, 3),
            "uptime_s": round(time.time() - self.started_at, 1),
            "last_snapshot_offset": self.snapshotter.written_offset,
            "seconds_since_snapshot": round(time.time() - self.snapshotter.written_at, 1),
            "refits": self.trainer.refits,
            "last_refit_s": round(self.trainer.last_refit_s, 3),
            "refit_failures": self.trainer.failures,
            "refit_leader": self.lease is None or self.lease.held,
            # the last failure since the last refit that worked: the previous fit serves
            "refit_error": None if (error := self.trainer.error) is None
            else f"{type(error).__name__}: {error}",
            "online_quality": self.online_quality(),
        }

    def online_quality(self) -> dict[str, dict[str, float]]:
        """How each source, each popularity expert, the ranker and the blend would have ranked
        the items users went on to take, measured on the stream (ranking/blend.py)."""
        with self.state.lock.reading():
            return self.state.ranker.blend.report()

    # -- one user's data -----------------------------------------------------------------
    def erase_user(self, user_id: str) -> int:
        """Forget a user: snapshots deleted, the data keys of the user and of the sessions
        merged into them destroyed (their log entries are unreadable from then on, and the
        embedded log deletes them too), an erasure logged and applied (the state becomes a
        replay of the rest: engine/erasures.py), a fresh snapshot written. Returns how many
        events were erased. Learning pauses meanwhile (a write waiting to be learned may
        time out with 503, its events durable); costs a replay of the whole log."""
        check_id(user_id, "user_id")
        user = self.user_key(user_id)
        return self._erase(lambda: [user, *merged_sessions(self.log, user)])

    def erase_session(self, session_id: str) -> int:
        """Forget an anonymous session, merged or not, as ``erase_user`` does a user."""
        check_id(session_id, "session_id")
        session = self.session_key(session_id)
        return self._erase(lambda: [session])

    def erase_stored_keys(self, keys: list[str]) -> int:
        """Erase what the log stores under ``keys`` (users' or sessions' stored keys), with the
        sessions merged into them: erasures re-applied to a restored backup (engine/reapply.py)."""
        return self._erase(lambda: [stored for key in keys
                                    for stored in (key, *merged_sessions(self.log, key))])

    def _erase(self, keys: Callable[[], list[str]]) -> int:
        """Erase the events stored under ``keys()`` (asked once no merge can interleave), and
        those of an erasure a crash left unfinished (engine/erasures.py ``record_pending``)."""
        with self._identity_changes:
            # nothing is destroyed unless what the rebuild reads is whole (storage/integrity.py)
            for path in store_paths(self.settings.log_url, self.settings.catalogue_url,
                                    self.settings.key_store_url):
                check_pages(path)
            try:
                self._drain()
                # snapshots first (a write in flight waited for, so no old one lands after
                # this; the shared ones too): a crash from here on rebuilds from the log alone
                self.snapshotter.forget_all()
                unfinished = pending_keys(self.settings.data_dir)
                erased_keys = list(dict.fromkeys([*unfinished, *keys()]))
                # durable before any key is destroyed: a crash from here on is finished at
                # the next start, so no replica keeps what the keys held
                try:
                    record_pending(self.settings.data_dir, erased_keys)
                except OSError as error:  # e.g. a read-only dir: no key destroyed yet
                    raise storage_unavailable("the erasure could not be recorded",
                                              error) from error
                # each key destroyed: from here on no reader can open their entries
                erased = sum(self.log.delete_user(key) for key in erased_keys)
                for key in erased_keys:  # only theirs: everyone else's pages go on
                    self.impressions.forget_user(key)
                    self.exposures.forget_user(key)
                if erased or unfinished:  # unfinished: the crash may have come before it
                    # the learner drops them from the state (it holds them) and, before,
                    # every snapshot and fit (Engine._forget_derived)
                    self.log.append([erasure_event(erased, erased_keys, time.time())])
                    self.learner.catch_up()
                self.snapshotter.snapshot_now()
                clear_pending(self.settings.data_dir)
            finally:
                self._restart_workers()
        log.info("erased %d events and rebuilt state at offset %d", erased,
                 self.state.offset)
        return erased

    def _drain(self) -> None:
        """Stop the workers, with everything logged learned. A fit under way goes on
        computing: the erasure's rebuild gives it up if it held the erased events (its data
        is taken again from the rebuilt state, EngineState.restore_from), and the next
        trainer ends it otherwise (``_restart_workers``). An erasure never waits for a fit
        (the sequence model's take minutes)."""
        self.trainer.stop()
        self.learner.stop()
        self.learner.catch_up()

    def _restart_workers(self) -> None:
        if not self._workers_started:
            return
        before = self.trainer
        self.learner = self._new_learner()
        self.trainer = self._new_trainer()
        self.trainer.adopt(before)
        self._start_workers()

    def export_user(self, user_id: str) -> UserExport:
        """Everything held about a user, with their merged sessions' events; scans the whole
        log twice."""
        check_id(user_id, "user_id")
        user = self.user_key(user_id)
        return export_of(self.state, self.log, user, merged_sessions(self.log, user))

    def export_session(self, session_id: str) -> UserExport:
        """Everything held about an anonymous session (once merged, its history is the
        user's: the export's history is then empty)."""
        check_id(session_id, "session_id")
        return export_of(self.state, self.log, self.session_key(session_id))

    # -- lifecycle -----------------------------------------------------------------------
    def snapshot(self) -> Path:
        """A snapshot now, with the data of any refit under way (engine/refits.py)."""
        return self.snapshotter.snapshot_now()

    def close(self) -> None:
        """Stop learning, write a final snapshot (unless the newest on disk holds the state
        already), close the stores."""
        if self._closed:
            return
        self._closed = True
        self.trainer.stop()  # returns with a fit still computing (engine/trainer.py)
        self.learner.stop()
        if self.learner.error is None:
            self.learner.catch_up()
            try:
                # fits already computed are ended in the log; one still computing is given
                # up, its begin left without an end as after a crash: the final snapshot
                # holds it pending and the next start fits it (engine/refits.py)
                self.trainer.end_finished()
                self.learner.catch_up()
                self.snapshotter.snapshot_unless_on_disk()
            except Unavailable as error:  # e.g. a read-only disk: close the stores anyway
                log.error("no final snapshot: %s; the next start replays the log", error)
        self.exposures.close()
        if self.lease is not None:
            self.lease.stop()
        self.log.close()
        self.catalogue.close()


def _check_secret_without_keys(settings: Settings) -> None:
    """``check_secret`` on the log opened without its keys (counting only), so that a
    missing or wrong secret is named as the ids it concerns."""
    plain = open_log(settings.log_url, synchronous=settings.storage.synchronous)
    try:
        check_secret(settings.data_dir, settings.trust.pseudonym_secret,
                     plain.last_offset() > 0)  # the question ``open`` asks
    finally:
        plain.close()


def open_event_log(settings: Settings) -> EventLog:
    """The event log of ``settings``, each user's entries sealed with their data key from
    the key store (storage/codec.py): how the server, the commands and the tests open it."""
    secret = settings.trust.pseudonym_secret
    cipher = open_cipher(settings.key_store_url,
                         secret.get_secret_value() if secret is not None else None,
                         settings.replicas.redis_prefix)
    try:
        return open_log(settings.log_url, synchronous=settings.storage.synchronous,
                        max_queued_events=settings.serving.max_queued_events, cipher=cipher)
    except BaseException:
        cipher.close()
        raise
