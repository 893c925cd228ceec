"""Decides when to snapshot and writes snapshots off the learner's thread.

A snapshot the disk refuses (full, read-only) is no loss: the log holds every event, and the
next start replays more of it. A write off the learner's thread logs the failure and the next
one is tried when due again; ``snapshot_now`` raises ``Unavailable``.

A snapshot is due after ``every_events`` events, ``every_s`` seconds, or ``every_learning_s``
seconds of the learner's work since the last (the replay at a start counts too): a crash
leaves a restart the log's tail since the newest snapshot to learn again, at about the live
pace, so the last bounds a restart's time whatever the stream's size, pace or the machine.

Writing costs time in proportion to the state (at 10M events, a gigabyte or more): a write
that cost d seconds spaces the next at least d / ``max_busy_share`` seconds from the last, so
the writer never takes more than that share of a core from learning and serving, whatever
the state's size. Its cost is the copies' time (the learner waits for them), and the CPU
time the write's thread used: beside learning and a fit on two cores, late in a 10M-event
run, a write took 5.7-6.6 s, of which it ran 1.2-1.6 s (hashing, copying into the page
cache); the rest it waited, at its lower priority, for CPUs others used, or for the disk,
and that cost learning and serving nothing. The log holds every event in between."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from streamrec.engine.priority import lower_priority
from streamrec.engine.state import PENDING_FIT, EngineState
from streamrec.errors import Unavailable
from streamrec.models.change_log import gives_changes_again
from streamrec.settings import SnapshotSettings
from streamrec.storage.failures import storage_unavailable
from streamrec.storage.snapshots import AsSaved, Kept, SnapshotStore

log = logging.getLogger(__name__)


def thread_cpu_s() -> float:
    """CPU seconds the calling thread has used."""
    return time.thread_time()


def by_changes(components: dict[str, dict]) -> bool:  # type: ignore[type-arg]
    """Whether a capture named every base it has (``AsSaved``) and gave none whole (``Kept``):
    its sparse rows are in it by their changes since their bases."""
    kinds = {type(value) for arrays in components.values() for value in arrays.values()}
    return AsSaved in kinds and Kept not in kinds


class Snapshotter:
    def __init__(self, state: EngineState, store: SnapshotStore, settings: SnapshotSettings,
                 fingerprint: str) -> None:
        self.state = state
        self.store = store
        self.settings = settings
        self.fingerprint = fingerprint
        # the last cut taken (its write may have failed): when the next one is due
        self.last_offset = state.offset
        self.last_events = state.learned_events
        self.written_offset = 0  # the newest snapshot on disk: what a restart starts from
        # whether that one has every part whole: a restart from it gives no change again
        # (models/change_log.py); a close writes one that has (``snapshot_unless_on_disk``)
        self.written_whole = False
        self.written_at = time.time()  # of this process's newest write (its start before one)
        self.last_at = time.monotonic()
        self.last_duration_s = 0.0
        # what the last snapshot cost: its copies' seconds (the learner waits for them), and
        # the CPU seconds its write used (its waits, for a CPU others were using or for the
        # disk, cost them nothing)
        self.last_capture_s = 0.0
        self.last_capture_cpu_s = 0.0
        self.last_cost_s = 0.0
        # the learner's seconds of learning so far (engine.py gives it) and at the last cut
        self.learning_s: Callable[[], float] = lambda: 0.0
        self.last_learning_s = 0.0
        self.writes = 0
        self.busy_s = 0.0  # seconds spent writing, in total
        self.capture_s = 0.0  # of the copies, in total (the learner waits for them)
        self.written_bytes = 0  # chunks written, in total (storage/snapshots.py)
        self.reused_bytes = 0  # chunks an older snapshot had written: not written again
        # of the writes, those whose sparse rows were all named by their base and changes
        # since (models/sparse_rows.py), and whether the last capture was one
        self.by_changes = 0
        self.last_by_changes = False
        self._writing: threading.Thread | None = None
        # replicas with a shared directory: the refit leader also writes its snapshots there,
        # where a new replica starts from (engine/engine.py)
        self.shared: SnapshotStore | None = None
        self.publishes: Callable[[], bool] = lambda: False

    def is_due(self) -> bool:
        new_events = self.state.learned_events - self.last_events
        if new_events <= 0 and self.state.offset == self.last_offset:
            return False
        since = time.monotonic() - self.last_at
        if since < self.last_cost_s / self.settings.max_busy_share:
            return False
        return (new_events >= self.settings.every_events or since >= self.settings.every_s
                or self.learning_since_cut() >= self.settings.every_learning_s)

    def learning_since_cut(self) -> float:
        """Seconds the learner spent on what the newest cut does not hold: about what a
        crash now would leave a restart to learn again (it learns at the live pace)."""
        return self.learning_s() - self.last_learning_s

    def follow_learning(self, learning_s: Callable[[], float]) -> None:
        """Count a new learner's seconds (from 0), carrying what the last one learned since
        the cut."""
        carried = self.learning_since_cut()
        self.learning_s = learning_s
        self.last_learning_s = learning_s() - carried

    def owe_learning(self, seconds: float) -> None:
        """``seconds`` of learning that no snapshot holds were done outside the learner's
        count (the replay at a start): the next snapshot is due that much sooner."""
        self.last_learning_s -= seconds

    def _is_writing(self) -> bool:
        writing = self._writing
        return writing is not None and writing.is_alive()

    @property
    def under_way(self) -> bool:
        """A snapshot due and not taken yet, or one being written."""
        return self.is_due() or self._is_writing()

    def maybe_snapshot(self) -> None:
        """Called by the learner between batches: the state is a consistent cut right now.
        The copies are taken in the writer's thread, at its lower priority (``nice``), while
        the learner waits for them: reads beside take the CPU first, and the learner, not
        asking for the write lock meanwhile, holds no reader up."""
        if not self.is_due() or self._is_writing():
            return
        captured = threading.Event()
        failed: list[BaseException] = []
        self._writing = threading.Thread(
            target=self._capture_and_write, args=(captured, failed), name="snapshot-writer",
            daemon=True,
        )
        self._writing.start()
        captured.wait()
        if failed:
            raise failed[0]

    def _capture_and_write(self, captured: threading.Event,
                           failed: list[BaseException]) -> None:
        if self.settings.nice:
            lower_priority(self.settings.nice)
        try:
            offset, components = self._capture()
        except BaseException as error:  # the learner raises it, as when it captured itself
            failed.append(error)
            return
        finally:
            captured.set()
        self._write_or_log(offset, components)

    def _capture(self, whole: bool = False,
                 ) -> tuple[int, dict[str, dict]]:  # type: ignore[type-arg]
        # a read: it excludes the learner's writes (a consistent cut: between two batches,
        # EngineState.cut) but not the readers, so recommendations are served while the
        # snapshot's copies are taken
        with self.state.cut, self.state.lock.reading():
            # from the lock on: a wait for it (behind a refit's swap) is not the copies' cost
            started, cpu = time.perf_counter(), thread_cpu_s()
            offset = self.state.offset
            # whole: the capture's default, a store that holds no base
            components = self.state.capture() if whole else self.state.capture(self._holds)
            self.last_by_changes = by_changes(components)
            # the learner waits for the copies: their whole time is a cost, waits and all
            self.last_capture_s = time.perf_counter() - started
            self.last_capture_cpu_s = thread_cpu_s() - cpu  # of which they ran (the log's)
            self.capture_s += self.last_capture_s
        self.last_offset, self.last_events = offset, self.state.learned_events
        self.last_learning_s = self.learning_s()
        self.last_at = time.monotonic()
        return offset, components

    def _holds(self, token: str) -> bool:
        """Whether every store this snapshot goes to holds the array kept as ``token``, so
        that a model may name it instead of giving it again (storage/snapshots.py)."""
        if not self.store.holds(token):
            return False
        return self.shared is None or not self.publishes() or self.shared.holds(token)

    def _forget_covered_fits(self) -> None:
        """Every snapshot on disk holds the fits begun before the oldest one, swapped in or
        pending (with their data): only a replay from the start of the log would need the
        artefacts of fits begun before the oldest snapshot and not pending in it, and it can
        fit them again. The shared snapshots new replicas start from count too."""
        if self.state.artefacts is None:
            return
        metas = [*self.store.metas(), *(self.shared.metas() if self.shared else [])]
        needed = [min([int(meta["offset"]), *(int(b) for b in meta.get("pending_fits", []))])
                  for meta in metas]
        if needed:
            self.state.artefacts.delete_before(min(needed))

    def _meta(self, components: dict[str, dict]) -> dict[str, Any]:  # type: ignore[type-arg]
        """What a snapshot says of itself: the settings it was made with, and the begins of
        the fits pending in it (their artefacts are kept while it is)."""
        pending = sorted(int(name.removeprefix(PENDING_FIT)) for name in components
                         if name.startswith(PENDING_FIT))
        return {"fingerprint": self.fingerprint, "created_at": time.time(),
                "pending_fits": pending}

    def _write(self, offset: int, components: dict[str, dict]) -> Path:  # type: ignore[type-arg]
        started, cpu = time.perf_counter(), thread_cpu_s()
        try:
            path = self.store.save(offset, components, self._meta(components))
        except OSError as error:
            raise storage_unavailable(f"the snapshot at offset {offset} could not be written",
                                      error) from error
        self.last_duration_s = time.perf_counter() - started
        self.last_cost_s = self.last_capture_s + max(0.0, thread_cpu_s() - cpu)
        if self.shared is not None and self.publishes():
            try:
                self.shared.save(offset, components, self._meta(components))
            except OSError as error:  # this replica's own snapshot is written: go on
                log.warning("snapshot at offset %d not shared: %s", offset, error)
        self.written_bytes += self.store.last_written_bytes
        self.reused_bytes += self.store.last_reused_bytes
        self._forget_covered_fits()
        if offset >= self.written_offset:
            self.written_whole = not gives_changes_again(components)
        self.written_offset = max(self.written_offset, offset)
        self.written_at = time.time()
        self.writes += 1
        self.by_changes += self.last_by_changes
        self.busy_s += self.last_duration_s
        log.info("snapshot at offset %d%s written in %.2fs (%.1f MiB new, %.1f MiB an older "
                 "snapshot had, %.1f MiB hashed); copies %.2fs (%.2fs on a CPU); cost %.2fs, the "
                 "next in %.0fs at the earliest", offset,
                 " (sparse rows by their changes)" if self.last_by_changes else "",
                 self.last_duration_s,
                 self.store.last_written_bytes / 2**20, self.store.last_reused_bytes / 2**20,
                 self.store.last_hashed_bytes / 2**20, self.last_capture_s,
                 self.last_capture_cpu_s, self.last_cost_s,
                 self.last_cost_s / self.settings.max_busy_share)
        return path

    def _write_or_log(self, offset: int,
                      components: dict[str, dict]) -> None:  # type: ignore[type-arg]
        try:
            self._write(offset, components)
        except Unavailable as error:
            log.error("%s; the event log has every event, a restart replays them", error)

    def wait_written(self) -> None:
        """Wait for the snapshot write in flight, if any."""
        writing = self._writing
        if writing is not None and writing is not threading.current_thread():
            writing.join()

    def forget_all(self) -> None:
        """Before an erasure changes anything (engine/engine.py): wait for the write in flight,
        then delete every snapshot, this replica's and the shared ones new replicas start
        from, since each holds the erased user's history. Every replica does it as it learns
        the erasure, so a shared snapshot the refit leader wrote before it learned the
        erasure is deleted when the leader learns it. Raises ``Unavailable`` when one
        cannot be deleted."""
        self.wait_written()
        try:
            self.store.delete_all()
            if self.shared is not None:
                self.shared.delete_all()
        except OSError as error:
            raise storage_unavailable("the snapshots could not be deleted before the erasure",
                                      error) from error

    def snapshot_unless_on_disk(self) -> Path | None:
        """A close's snapshot, every part whole (``snapshot_now(whole=True)``): none when
        the newest one on disk already holds this very state whole, written or restored by
        this process at the state's offset with these settings (the state is the log's up to
        its offset, so that one restores it exactly; writing it again took ~5 s at 1M
        items). Whole, so that a clean restart gives no change again: at 1M items and 10M
        events the histories' changes alone, up to a sixteenth of their events, could add
        1-2 s to it (a Python step per event), where a crash's restart from a snapshot by
        changes still saves replaying the events since it."""
        self.wait_written()
        offset = self.state.offset
        metas = self.store.metas()
        if metas and self.written_offset == offset == metas[-1]["offset"] and \
                metas[-1].get("fingerprint") == self.fingerprint and self.written_whole:
            log.info("no snapshot at close: the newest, at offset %d, holds this state", offset)
            return None
        return self.snapshot_now(whole=True)

    def snapshot_now(self, whole: bool = False) -> Path:
        """Wait for any write in flight, then write a snapshot synchronously (with the data
        of any refit under way: engine/refits.py); ``whole``: every part whole, none by its
        changes since a base (models/change_log.py)."""
        if self._writing is not None:
            self._writing.join()
        offset, components = self._capture(whole)
        return self._write(offset, components)
