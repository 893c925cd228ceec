"""Erasures in the log: where a user's state was dropped, so a replay agrees with the live
engine.

Forgetting a user (engine/engine.py ``erase_user``) deletes their rows from the embedded log
(and scrubs its file), then appends one ``$erase`` control event. The learner applies it in
its place: if the state holds rows the log no longer has, it drops them by rebuilding the
state from what the log holds before the erasure (engine/learner.py), so no model has to
"unlearn" and nothing is approximated; a replay that meets the erasure later reads a log
without those rows and has nothing to drop. Either way the state after the erasure is the
replay of the log up to it, and every later event is learned on that state.

The event names nobody: the user's key (a pseudonym when a secret is set) would outlive the
erasure in the log it was erased from. A log that cannot be rewritten (a shared Kafka topic)
needs the key in the event and crypto-shredding of the payloads instead (issue 17); then
dropping becomes a surgical per-user removal applied by every replica.

>>> event = erasure_event(3, 10.0)
>>> is_erasure(event), event.user_id, event.context
(True, '', {'events': 3})
"""

from __future__ import annotations

from streamrec.types import Event

ERASE_TYPE = "$erase"


def erasure_event(erased_events: int, timestamp: float) -> Event:
    """The log entry saying that ``erased_events`` rows were erased just before it."""
    return Event(user_id="", item_id="", type=ERASE_TYPE, timestamp=timestamp,
                 context={"events": erased_events})


def is_erasure(event: Event) -> bool:
    return event.type == ERASE_TYPE
