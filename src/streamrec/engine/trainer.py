"""Background refits: heavy models are refit off the learner's thread and swapped in.

The trainer decides *when* (a model says its refit is due) and logs that decision as a
``$refit-begin`` marker; the learner takes the data at the marker. The trainer fits it
unlocked (implicit's solver releases the GIL), so serving and learning go on meanwhile,
builds the ANN index of the new vectors, then logs ``$refit-end``, where the learner swaps the
result in. Both moments are in the log, so a
replay rebuilds the same state (engine/refits.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from streamrec.engine.refits import PendingFit, begin_event, end_event
from streamrec.engine.state import EngineState
from streamrec.storage.base import EventLog

log = logging.getLogger(__name__)


class Trainer:
    def __init__(self, state: EngineState, event_log: EventLog, poll_s: float,
                 leader: Callable[[], bool] | None = None) -> None:
        self.state = state
        # replicas: only the holder of the refit lease begins and fits refits; the others
        # learn its markers and load the artefact its end names (engine/leadership.py)
        self.leader = leader
        self.log = event_log
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._begun: dict[str, int] = {}  # model -> offset of a begin marker not learned yet
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
                    self.fit_pending()
                    self.begin_due()
            except Exception as error:  # e.g. the log refused a marker: try again later
                log.exception("trainer step failed; trying again")
                self.error = error
            with self.state.fit_begun:
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

    def fit_pending(self) -> None:
        """Fit what the learner has begun, then log where each result goes in."""
        while not self._stop.is_set() and (fit := self.state.pending_fits.claim_next()):
            started = time.perf_counter()
            fit.compute(self.state.artefacts)
            self.state.prepare_swap(fit)
            if fit.error is not None:
                log.error("refit of %s failed; the previous fit keeps serving",
                          fit.model.name, exc_info=fit.error)
                self.failures += 1
                self.error = fit.error
            else:
                self.refits += 1
                self.error = None
                self.last_refit_s = time.perf_counter() - started
                log.info("refit %s on %d events in %.1fs", fit.model.name, fit.events,
                         self.last_refit_s)
            self._unlogged.append(fit)
        while self._unlogged:
            fit = self._unlogged[0]
            self.log.append([end_event(fit.model.name, fit.begin_offset, fit.error is None,
                                       time.time(), fit.artefact)])
            self._unlogged.pop(0)

    def finish(self) -> None:
        """With the thread stopped: fit and end whatever is begun (a clean shutdown); a
        replica that is not the refit leader leaves that to the leader."""
        if self.leader is not None and not self.leader():
            return
        self._stop.clear()
        self.fit_pending()

    def stop(self) -> None:
        self._stop.set()
        with self.state.fit_begun:
            self.state.fit_begun.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
