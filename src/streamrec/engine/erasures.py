"""Erasures in the log: where a user's state was dropped, so a replay agrees with the live
engine, on every replica.

Forgetting a user (engine/engine.py ``erase_user``) is crypto-shredding: their data key, and
those of the sessions merged into them, are destroyed (storage/keystore.py), so every copy of
their sealed log entries is unreadable from then on (a log that can be rewritten, the embedded
SQLite one, also deletes the rows). Then one ``$erase`` control event is appended. The learner
applies it in its place: a state that holds any of the erased keys drops them by rebuilding
from what the log holds before the erasure (engine/learner.py), so no model has to "unlearn"
and nothing is approximated; a replay that meets the erasure later cannot read those entries
and holds nothing to drop. Either way the state after the erasure is the replay of the log
up to it, and every later event is learned on that state. Readers skip an erased entry the
same way everywhere, so every replica, and every replay, agrees.

The event names nobody in the clear: it carries a random salt and the salted SHA-256 of each
erased stored key, enough for a state to find out whether it holds one (it digests its own
keys) and nothing to read a key back from. Someone who can guess a stored key can test it
against the digests: with a pseudonym secret set, stored keys are keyed hashes no one can
guess; without one, that the id was erased is all it tells (its entries are unreadable).

>>> event = erasure_event(3, ["alice"], 10.0)
>>> is_erasure(event), event.user_id, event.context["events"]
(True, '', 3)
>>> erased_digests(event) == {erasure_digest(event.context["salt"], "alice")}
True
>>> "alice" in str(event)
False
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from streamrec.storage.codec import ERASE_TYPE
from streamrec.storage.snapshots import fsync_directory, write_private
from streamrec.types import Event

__all__ = ["ERASE_TYPE", "clear_pending", "erased_digests", "erasure_digest", "erasure_event",
           "is_erasure", "pending_keys", "record_pending"]

PENDING_FILE = "erasure.pending"


def erasure_digest(salt: str, stored_key: str) -> str:
    """How an erasure event names an erased stored key."""
    return hashlib.sha256(bytes.fromhex(salt) + stored_key.encode("utf-8")).hexdigest()[:32]


def erasure_event(erased_events: int, stored_keys: Iterable[str], timestamp: float) -> Event:
    """The log entry saying that the keys' ``erased_events`` entries were erased before it."""
    salt = os.urandom(16).hex()
    return Event(user_id="", item_id="", type=ERASE_TYPE, timestamp=timestamp,
                 context={"events": erased_events, "salt": salt,
                          "erased": sorted(erasure_digest(salt, key) for key in stored_keys)})


def erased_digests(event: Event) -> set[str]:
    """The digests of the keys an erasure erased (none in erasures from before digests)."""
    return {str(digest) for digest in (event.context or {}).get("erased", [])}


def is_erasure(event: Event) -> bool:
    return event.type == ERASE_TYPE


# -- an erasure under way, kept durably until it is in the log ------------------------------
# Erasing is several steps (each key destroyed, the shared log's erasure record, the $erase
# event): a process that dies between them leaves a key destroyed while the log says nothing,
# and other replicas, which learned the user's events before, keep them. The keys are written
# here, fsync'd, before anything is destroyed, and removed once the $erase event is learned;
# a start that finds the file finishes the erasure (engine/engine.py).


def record_pending(data_dir: Path, stored_keys: Iterable[str]) -> None:
    """Write the stored keys of an erasure under way, durably (atomic replace, fsync'd)."""
    write_private(data_dir / PENDING_FILE, json.dumps(sorted(set(stored_keys))).encode())


def pending_keys(data_dir: Path) -> list[str]:
    """The stored keys of an erasure that did not finish; none when none is under way."""
    path = data_dir / PENDING_FILE
    if not path.exists():
        return []
    return [str(key) for key in json.loads(path.read_text())]


def clear_pending(data_dir: Path) -> None:
    """The erasure is in the log and learned: nothing left to finish."""
    (data_dir / PENDING_FILE).unlink(missing_ok=True)
    fsync_directory(data_dir)

