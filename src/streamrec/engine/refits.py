"""Background refits placed in the log, so that a replay rebuilds the very same state.

A refit's data and the moment its result is swapped in change what every later event teaches
the models and the ranker. If they happened at whatever moment a background thread got to
them, two replays of one log would disagree. So both moments are events in the log:

- ``$refit-begin`` (``item_id`` = the model): the learner takes the model's training data
  at exactly this position and hands it to the trainer, which fits it off the learner's
  thread;
- ``$refit-end`` (context ``{"begin": offset, "ok": bool}``): written by the trainer once the
  fit is done (or failed); the learner swaps the result in at exactly this position.

Replaying a log (after a crash, for an erasure) meets the same markers at the same places and
computes a missing result on the spot, from the same data: the fit is deterministic (fixed
seed, one thread). A begin with no end yet (the process died mid-fit) is fitted by the next
trainer, which then logs the end. Control events have an empty ``user_id``, which no client
event can have, so erasing a user never touches them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from streamrec.models.base import Refittable
from streamrec.types import Event

BEGIN_TYPE = "$refit-begin"
END_TYPE = "$refit-end"


def begin_event(model: str, timestamp: float) -> Event:
    return Event(user_id="", item_id=model, type=BEGIN_TYPE, timestamp=timestamp)


def end_event(model: str, begin_offset: int, ok: bool, timestamp: float) -> Event:
    return Event(user_id="", item_id=model, type=END_TYPE, timestamp=timestamp,
                 context={"begin": begin_offset, "ok": ok})


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

    def compute(self) -> None:
        """Fit the data (any thread); the outcome is kept for the learner to swap in."""
        try:
            self.result = self.model.fit(self.data)
        except Exception as error:  # the end marker says so; the old fit keeps serving
            self.error = error
        finally:
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
