"""The deduplication window both event logs apply: the ids of the newest accepted events.

An event re-sent with an ``event_id`` among the last ``size`` ids the log accepted is a
duplicate and is not stored again; one re-sent later than that is stored as a new event.
The window is a function of the log alone (the ids it accepted, in order, less those of
erased users), so the Kafka log's replicas drop the same records, and the embedded log
rebuilds the same window when it opens.

Why a window and not an index over every id ever stored: keyed tags (storage/codec.py) are
uniformly random, and a UNIQUE index over random keys dirties a different B-tree page for
nearly every insert, which made each sealed event cost the embedded log more than the rest
of its write. The window costs no I/O, and about 160 bytes of memory per id it holds.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from streamrec.errors import InvalidSetting

DEFAULT_DEDUP_WINDOW = 1_000_000
_BYTES_PER_ID = 160  # a 34-character tag and the dict's entry; the owner strings are shared


def pop_dedup_window(query: dict[str, str], url: str) -> int:
    """Take ``dedup_window`` out of a log URL's parsed ``query`` (the default when absent);
    a value that is not a whole number >= 1 stops the start with its name."""
    try:
        window = int(query.pop("dedup_window", str(DEFAULT_DEDUP_WINDOW)))
    except ValueError:
        window = 0
    if window < 1:
        raise InvalidSetting(f"storage.log_url: {url!r}: dedup_window is a whole number >= 1")
    return window


class DedupWindow:
    """Accepted ids, oldest first, each with the user it was stored under (an erasure
    forgets the user's ids: an erased event is gone, and its id may come again)."""

    def __init__(self, size: int = DEFAULT_DEDUP_WINDOW) -> None:
        if size < 1:
            raise ValueError(f"a dedup window holds at least one id, not {size}")
        self.size = size
        self._owners: OrderedDict[str, str] = OrderedDict()

    def __contains__(self, key: object) -> bool:
        return key in self._owners

    def __len__(self) -> int:
        return len(self._owners)

    def add(self, key: str, owner: str) -> None:
        """``key`` (not in the window) was accepted now; the oldest id leaves once the window
        is full."""
        self._owners[key] = owner
        if len(self._owners) > self.size:
            self._owners.popitem(last=False)

    def extend(self, accepted: Iterable[tuple[str, str]]) -> None:
        """``add`` for each ``(key, owner)`` in order, at once (a rebuild at open: a million
        ``add`` calls took a second)."""
        self._owners.update(accepted)
        while len(self._owners) > self.size:
            self._owners.popitem(last=False)

    def forget_owner(self, owner: str) -> int:
        """Forget every id stored under ``owner``; returns how many."""
        gone = [key for key, holder in self._owners.items() if holder == owner]
        for key in gone:
            del self._owners[key]
        return len(gone)

    def budget(self) -> dict[str, Any]:
        """The window against its bound, for ``/v1/admin/sizes`` (bytes: about 160 an id,
        measured with tracemalloc; not walked, as the log's writer changes it meanwhile)."""
        held = len(self._owners)
        return {"setting": "storage.log_url ?dedup_window=", "budget": self.size,
                "per": "log", "count": held, "largest": held, "most": self.size,
                "bytes": _BYTES_PER_ID * held, "most_bytes": _BYTES_PER_ID * self.size}
