"""Background refits: heavy models are refit off the learner's thread and swapped in.

The lock is held only to copy the training data and to swap the result; the fit itself runs
unlocked (implicit's solver releases the GIL), so serving and learning go on meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time

from streamrec.engine.state import EngineState

log = logging.getLogger(__name__)


class Trainer:
    def __init__(self, state: EngineState, poll_s: float) -> None:
        self.state = state
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.refits = 0
        self.last_refit_s = 0.0
        self.is_refitting = False
        self.error: BaseException | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="trainer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.refit_due_models()
            except Exception as error:  # a failed fit keeps the old model serving
                log.exception("refit failed; serving continues with the previous fit")
                self.error = error

    def refit_due_models(self) -> None:
        for model in self.state.refittables():
            with self.state.lock:
                if not model.refit_due():
                    continue
                data, events = model.begin_refit()
            self.is_refitting = True
            started = time.perf_counter()
            try:
                fitted = model.fit(data)
            finally:
                self.is_refitting = False
            with self.state.lock:
                model.swap(fitted, events)
            self.refits += 1
            self.last_refit_s = time.perf_counter() - started
            log.info("refit %s on %d events in %.1fs", type(model).__name__, events,
                     self.last_refit_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
