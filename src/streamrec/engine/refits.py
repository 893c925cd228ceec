"""Background refits placed in the log, so that a replay rebuilds the very same state.

A refit's data and the moment its result is swapped in change what every later event teaches
the models and the ranker. If they happened at whatever moment a background thread got to
them, two replays of one log would disagree. So both moments are events in the log:

- ``$refit-begin`` (``item_id`` = the model): the learner takes the model's training data
  at exactly this position and hands it to the trainer, which fits it off the learner's
  thread;
- ``$refit-end`` (context ``{"begin": offset, "ok": bool, "artefact": file, "sha256": hex}``):
  written by the trainer once the fit is done (or failed) and saved as an artefact
  (storage/artefacts.py); the learner swaps the result in at exactly this position.

Replaying a log (after a crash, for an erasure) meets the same markers at the same places and
loads the artefact the end names, off the state's lock (engine/learner.py), never computing
the fit again; the live engine swaps in the fit as read back from those same arrays, so both
serve the very same one. Only an artefact that is missing or not the one named (its checksum)
is fitted again at this point, from the data taken at the begin: deterministic for a fixed
seed and one thread. A begin with no end yet (the process died mid-fit) is fitted by the next
trainer, which then logs the end.

A snapshot taken between the two holds each pending fit (its begin's offset, events and data,
as ``Refittable.data_arrays``; engine/state.py), so restoring it gives what a replay holds at
that offset: an end in the log's tail loads the named artefact, no end is fitted again.

Control events have an empty ``user_id``, which no client event can have, so erasing a user
never touches them.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from streamrec.models.base import Refittable
from streamrec.storage.artefacts import Artefact, ArtefactStore, checksum
from streamrec.types import Event

log = logging.getLogger(__name__)

BEGIN_TYPE = "$refit-begin"
END_TYPE = "$refit-end"


def begin_event(model: str, timestamp: float) -> Event:
    return Event(user_id="", item_id=model, type=BEGIN_TYPE, timestamp=timestamp)


def end_event(model: str, begin_offset: int, ok: bool, timestamp: float,
              artefact: Artefact | None = None) -> Event:
    named = {} if artefact is None else {"artefact": artefact.name, "sha256": artefact.sha256}
    return Event(user_id="", item_id=model, type=END_TYPE, timestamp=timestamp,
                 context={"begin": begin_offset, "ok": ok, **named})


def artefact_of(end: Event) -> Artefact | None:
    """The artefact a ``$refit-end`` names (None in logs from before artefacts)."""
    context = end.context or {}
    name, sha256 = context.get("artefact"), context.get("sha256")
    return Artefact(name, sha256) if isinstance(name, str) and isinstance(sha256, str) else None


def is_refit_marker(event: Event) -> bool:
    return event.type in (BEGIN_TYPE, END_TYPE)


@dataclass(eq=False)
class PendingFit:
    """A fit whose data was taken at ``begin_offset`` and whose result is not swapped in yet."""

    begin_offset: int
    model: Refittable
    data: Any
    events: int
    claimed: bool = False  # a trainer is computing it
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None
    artefact: Artefact | None = None  # where the result was saved, for the end marker
    seconds: float = 0.0  # the fit's computing time
    # given up at a clean shutdown (engine/trainer.py), or replaced by an erasure's rebuild
    # (EngineState.restore_from): its end is never logged, so nothing it computes from then
    # on is saved
    abandoned: bool = False

    def compute(self, store: ArtefactStore | None, expected: Artefact | None = None) -> None:
        """Fit the data (any thread) and save it in ``store``; the outcome is kept for the
        learner to swap in, as read back from the saved arrays. A fit computed again for a
        lost artefact (``expected``) is saved only if it is the same (its checksum)."""
        try:
            arrays = self.model.fit_arrays(self.model.fit(self.data))
            self.result = self.model.fitted_from(arrays)
        except Exception as error:  # the end marker says so; the old fit keeps serving
            self.error = error
            self.done.set()
            return
        try:
            if store is not None and not self.abandoned:
                suffix = getattr(self.model, "artefact_format", "npz")
                saved = store.save(self.model.name, self.begin_offset, arrays, suffix) \
                    if expected is None or checksum(arrays) == expected.sha256 else None
                self.artefact = saved
        except OSError as error:  # no artefact: a replay fits it again, the log says so
            log.error("the %s fit begun at %d could not be saved: %s", self.model.name,
                      self.begin_offset, error)
        finally:
            self.done.set()

    def load(self, store: ArtefactStore | None, artefact: Artefact | None) -> None:
        """For a replay: the result the log names, from its artefact; fitted again when the
        artefact is missing or not the one named."""
        arrays = store.load(artefact) if store is not None and artefact is not None else None
        if arrays is None:
            self.compute(store, artefact)
            return
        try:
            self.result = self.model.fitted_from(arrays)
            self.artefact = artefact
        except Exception as error:  # arrays of another shape: as if it were lost
            log.warning("artefact %s does not fit %s (%s): fitting again", artefact,
                        self.model.name, error)
            self.compute(store, artefact)
            return
        self.done.set()


class PendingFits:
    """Fits begun in the log and not ended yet, by the offset of their begin marker."""

    def __init__(self) -> None:
        self._fits: dict[int, PendingFit] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._fits)

    def add(self, fit: PendingFit) -> None:
        with self._lock:
            self._fits[fit.begin_offset] = fit

    def get(self, begin_offset: int) -> PendingFit | None:
        with self._lock:
            return self._fits.get(begin_offset)

    def all(self) -> list[PendingFit]:
        """Every pending fit, oldest begin first."""
        with self._lock:
            return [self._fits[begin] for begin in sorted(self._fits)]

    def claim(self, begin_offset: int) -> PendingFit | None:
        """The fit begun at ``begin_offset`` if no one is computing it, now the caller's."""
        with self._lock:
            fit = self._fits.get(begin_offset)
            if fit is None or fit.claimed:
                return None
            fit.claimed = True
            return fit

    def pop(self, begin_offset: int) -> PendingFit | None:
        with self._lock:
            return self._fits.pop(begin_offset, None)

    def has(self, model_name: str) -> bool:
        with self._lock:
            return any(f.model.name == model_name for f in self._fits.values())

    def claim_next(self) -> PendingFit | None:
        """The oldest fit no trainer is computing yet, now claimed by the caller."""
        with self._lock:
            for begin in sorted(self._fits):
                fit = self._fits[begin]
                if not fit.claimed:
                    fit.claimed = True
                    return fit
        return None
