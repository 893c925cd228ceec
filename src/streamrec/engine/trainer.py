"""Background refits: heavy models are refit off the learner's thread and swapped in.

The trainer decides *when* (a model says its refit is due) and logs that decision as a
``$refit-begin`` marker; the learner takes the data at the marker. The trainer fits it
unlocked (implicit's solver releases the GIL), so serving and learning go on meanwhile,
builds the ANN index of the new vectors, then logs ``$refit-end``, where the learner swaps the
result in. Both moments are in the log, so a
replay rebuilds the same state (engine/refits.py).

Each fit is computed in a thread of its own (at ``models.trainer_nice``: on Linux a thread has
its own niceness, so a fit takes the CPU that learning and serving leave; at 100k items the
GRU's refits, always due on a growing log, took a core from the learner), which the trainer
waits for: stopping the trainer
never waits for a fit (the sequence model's take tens of minutes). A clean shutdown ends the
fits that are done and leaves one still computing as a begin without an end, exactly what a
crash mid-fit leaves: the final snapshot holds it pending and the next trainer fits it again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from streamrec.engine.forgetting import forget_event
from streamrec.engine.priority import lower_priority
from streamrec.engine.refits import PendingFit, begin_event, end_event
from streamrec.engine.state import EngineState
from streamrec.models.base import StopsFitting
from streamrec.storage.base import EventLog

log = logging.getLogger(__name__)
_STOP_POLL_S = 0.05  # how soon a fit's waiter hears a stop


class Trainer:
    def __init__(self, state: EngineState, event_log: EventLog, poll_s: float,
                 leader: Callable[[], bool] | None = None, nice: int = 0,
                 stop_wait_s: float = 60.0) -> None:
        self.state = state
        self.nice = nice
        self.stop_wait_s = stop_wait_s  # a shutdown's wait for a fit to stop at its next step
        # replicas: only the holder of the refit lease begins and fits refits; the others
        # learn its markers and load the artefact its end names (engine/leadership.py)
        self.leader = leader
        self.log = event_log
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._begun: dict[str, int] = {}  # model -> offset of a begin marker not learned yet
        self._forget_at: int | None = None  # the offset of a $forget not learned yet
        self.forgets = 0  # $forget events this trainer logged
        self._fitting: list[PendingFit] = []  # claimed by this trainer, computing or done
        self._unlogged: list[PendingFit] = []  # fitted, the end marker not yet appended
        self.refits = 0
        self.failures = 0  # refits whose fit failed (the previous fit kept serving)
        self.last_refit_s = 0.0
        # the last failure, a fit's or the trainer's own (e.g. the log refused a marker);
        # None again once a refit succeeds. Shown in /v1/stats and /metrics
        self.error: BaseException | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="trainer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.leader is not None and not self.leader():
                    self._begun.clear()  # a leader's begins are its own to follow
                else:
                    self.forget_due()
                    self.fit_pending()
                    self.begin_due()
            except Exception as error:  # e.g. the log refused a marker: try again later
                log.exception("trainer step failed; trying again")
                self.error = error
            with self.state.fit_begun:  # ``stop`` sets the flag, then notifies under it
                if not self._stop.is_set():
                    self.state.fit_begun.wait(self.poll_s)

    def begin_due(self) -> None:
        """Log a begin marker for every model whose refit is due and not under way."""
        for model in self.state.refittables():
            begun = self._begun.get(model.name)
            if begun is not None and self.state.offset < begun:
                continue  # the learner has not reached our marker yet
            self._begun.pop(model.name, None)
            with self.state.lock:
                due = model.refit_due() and not self.state.pending_fits.has(model.name)
            if due:
                appended = self.log.append([begin_event(model.name, time.time())])
                self._begun[model.name] = appended.last_offset

    def forget_due(self) -> None:
        """Log a ``$forget`` when more users are held than ``events.max_users`` and none is
        on its way (engine/forgetting.py): checked at every poll, a fit under way included."""
        if self._forget_at is not None and self.state.offset < self._forget_at:
            return  # the learner has not reached ours yet
        self._forget_at = None
        point = self.state.forget_point()
        if point is not None:
            appended = self.log.append([forget_event(point, time.time())])
            self._forget_at = appended.last_offset
            self.forgets += 1

    def fit_pending(self) -> None:
        """Fit what the learner has begun, one at a time, then log where each result goes
        in. Returns once the trainer is stopped, leaving a fit under way computing."""
        for left in self._fitting:  # one left computing by a stop, when started again
            self._wait(left)
        while not self._stop.is_set() and (fit := self.state.pending_fits.claim_next()):
            self._fitting.append(fit)
            threading.Thread(target=self._compute, args=(fit,), daemon=True,
                             name=f"refit-{fit.model.name}").start()
            self._wait(fit)
        self._end_done()

    def _compute(self, fit: PendingFit) -> None:
        if self.nice:
            lower_priority(self.nice)
        started = time.perf_counter()
        fit.compute(self.state.artefacts)
        fit.seconds = time.perf_counter() - started

    def _wait(self, fit: PendingFit) -> None:
        """Until ``fit`` is computed or the trainer is stopped (heard within
        ``_STOP_POLL_S``: a shutdown waits for it); forgetting is checked every poll."""
        checked = time.monotonic()
        while not fit.done.wait(min(self.poll_s, _STOP_POLL_S)) and not self._stop.is_set():
            if time.monotonic() - checked >= self.poll_s:
                checked = time.monotonic()
                if self.leader is None or self.leader():
                    self.forget_due()

    def _end_done(self) -> None:
        """Log the end of every fit this trainer computed, in the order it began them."""
        while self._fitting and self._fitting[0].done.is_set():
            fit = self._fitting.pop(0)
            if fit.abandoned:  # an erasure's rebuild replaced it (EngineState.restore_from)
                log.info("the %s fit begun at %d was given up: an erasure rebuilt its data",
                         fit.model.name, fit.begin_offset)
                continue
            self.state.prepare_swap(fit)
            if fit.error is not None:
                log.error("refit of %s failed; the previous fit keeps serving",
                          fit.model.name, exc_info=fit.error)
                self.failures += 1
                self.error = fit.error
            else:
                self.refits += 1
                self.error = None
                self.last_refit_s = fit.seconds
                log.info("refit %s on %d events in %.1fs", fit.model.name, fit.events,
                         fit.seconds)
            self._unlogged.append(fit)
        while self._unlogged:
            fit = self._unlogged[0]
            self.log.append([end_event(fit.model.name, fit.begin_offset, fit.error is None,
                                       time.time(), fit.artefact)])
            self._unlogged.pop(0)

    def adopt(self, before: Trainer) -> None:
        """Take over from the stopped trainer ``before`` (an erasure restarts the workers):
        its counts, and the fits it left computing or unlogged, whose ends this one logs."""
        self.refits, self.failures, self.error = before.refits, before.failures, before.error
        self._fitting, self._unlogged = before._fitting, before._unlogged
        before._fitting, before._unlogged = [], []

    def end_finished(self) -> None:
        """With the thread stopped, at a clean shutdown: log the ends of the fits already
        computed, and give up the one still computing without waiting for it to finish
        (a model that can stop part way, ``StopsFitting``, is stopped at its next step and
        waited for that long). Its begin has no end in the log, as after a crash mid-fit:
        the final snapshot holds it pending, and the next trainer fits it again
        (engine/refits.py)."""
        self._end_done()
        for fit in self._fitting:
            fit.abandoned = True  # it saves nothing from now on
            if isinstance(fit.model, StopsFitting):
                # stopped at its next step and waited for: a thread left inside torch
                # aborts the interpreter's exit (std::terminate, status 134)
                fit.model.stop_fitting()
                if not fit.done.wait(self.stop_wait_s):  # inside one long step: leave it
                    log.warning("the %s fit did not stop within %.0f s; leaving it",
                                fit.model.name, self.stop_wait_s)
        self._fitting.clear()  # the others' threads die with the process

    def stop(self) -> None:
        self._stop.set()
        with self.state.fit_begun:
            self.state.fit_begun.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

