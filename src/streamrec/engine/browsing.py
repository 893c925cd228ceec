"""Reads for people looking at the engine (the dashboard): the log's newest entries, an item's
events per day, items found by id or text, and what each source proposes for a user.

Each reads at most a bounded share of the log or the catalogue, so a look never stalls the
server; the answers say how much they read.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from streamrec.engine.state import EngineState
from streamrec.storage.base import EventLog
from streamrec.trust.pseudonyms import SESSION_PREFIX
from streamrec.types import Item, LoggedEvent

_CHUNK = 5_000
_DAY_S = 86_400.0


@runtime_checkable
class FindsEvents(Protocol):
    """A log that finds one user's or one item's entries itself (an index, a query in the
    store) instead of having every entry read and decoded here (the SQLite log)."""

    def user_events(self, user_id: str, after: int, limit: int) -> list[LoggedEvent]: ...

    def item_events(self, item_id: str, after: int) -> list[tuple[float, str]]: ...


@dataclass(frozen=True, slots=True)
class ShownEvent:
    """A log entry as the dashboard shows it: the user or session as the log stores it (its
    pseudonym when a pseudonym secret is set), none for the engine's own entries."""

    offset: int
    type: str
    item_id: str
    timestamp: float
    user_id: str | None = None
    session_id: str | None = None
    value: float | None = None
    event_id: str | None = None
    recommendation_id: str | None = None


@dataclass(frozen=True, slots=True)
class ActivityDay:
    day: str  # YYYY-MM-DD, UTC
    events: int
    by_type: dict[str, int] = field(default_factory=dict)


def _backwards(log: EventLog, most: int) -> Iterator[LoggedEvent]:
    """The log's entries newest first, at most ``most`` of them (read forwards in chunks)."""
    end, read = log.last_offset(), 0
    while end > 0 and read < most:
        start = max(0, end - min(_CHUNK, most - read))
        # erased rows leave gaps: a read past them would reach entries already given
        chunk = [e for e in log.read(start, end - start) if e.offset <= end]
        read += end - start
        yield from reversed(chunk)
        end = start


def shown(entry: LoggedEvent) -> ShownEvent:
    event = entry.event
    who: dict[str, str] = {}
    if event.user_id.startswith(SESSION_PREFIX):
        who["session_id"] = event.user_id[len(SESSION_PREFIX):]
    elif event.user_id:
        who["user_id"] = event.user_id
    context = event.context or {}
    listed = context.get("recommendation_id")
    return ShownEvent(entry.offset, event.type, event.item_id, event.timestamp, value=event.value,
                      event_id=event.event_id,
                      recommendation_id=listed if isinstance(listed, str) else None, **who)


def recent_events(log: EventLog, limit: int, user_key: str | None = None,
                  scan: int = 100_000) -> tuple[list[ShownEvent], int]:
    """The newest ``limit`` entries, newest first (only ``user_key``'s when given, among the
    newest ``scan``), and how many entries were read."""
    if user_key is not None and isinstance(log, FindsEvents):
        after = max(0, log.last_offset() - scan)
        return [shown(e) for e in log.user_events(user_key, after, limit)], \
            log.last_offset() - after
    found: list[ShownEvent] = []
    read = 0
    for entry in _backwards(log, scan if user_key is not None else limit):
        read += 1
        if user_key is None or entry.event.user_id == user_key:
            found.append(shown(entry))
            if len(found) == limit:
                break
    return found, read


def item_activity(log: EventLog, item_id: str, days: int, now: float | None = None,
                  scan: int = 200_000) -> tuple[list[ActivityDay], int, bool]:
    """The item's clients' events per UTC day over the last ``days`` days, oldest first
    (days without events included), from the newest ``scan`` log entries; how many entries
    were read, and whether that reached the log's start."""
    now = time.time() if now is None else now
    first_day = int(now // _DAY_S) - days + 1
    counts: dict[int, Counter[str]] = {}
    read = 0
    if isinstance(log, FindsEvents):
        after = max(0, log.last_offset() - scan)
        found = log.item_events(item_id, after)
        read = log.last_offset() - after
    else:
        found = []
        for entry in _backwards(log, scan):
            read += 1
            if entry.event.item_id == item_id:
                found.append((entry.event.timestamp, entry.event.type))
    for timestamp, kind in found:
        day = int(timestamp // _DAY_S)
        if not kind.startswith("$") and first_day <= day <= first_day + days - 1:
            counts.setdefault(day, Counter())[kind] += 1
    complete = read < scan or log.last_offset() <= scan
    out = [ActivityDay(time.strftime("%Y-%m-%d", time.gmtime(day * _DAY_S)),
                       sum(counts[day].values()) if day in counts else 0,
                       dict(sorted(counts[day].items())) if day in counts else {})
           for day in range(first_day, first_day + days)]
    return out, read, complete


def search_items(items: Iterable[Item], text: str, limit: int) -> list[Item]:
    """Items whose id, text or a string attribute (e.g. the title) holds ``text`` (case
    ignored): an exact id first, then ids starting with it, then the rest in catalogue
    order."""
    wanted = text.casefold()
    exact: list[Item] = []
    prefix: list[Item] = []
    other: list[Item] = []
    for item in items:
        item_id = item.item_id.casefold()
        if item_id == wanted:
            exact.append(item)
        elif item_id.startswith(wanted):
            prefix.append(item)
        elif len(other) < limit and (
                wanted in item_id or wanted in item.text.casefold()
                or any(isinstance(v, str) and wanted in v.casefold()
                       for v in item.attributes.values())):
            other.append(item)
    return (exact + prefix + other)[:limit]


def proposals(state: EngineState, user_key: str, k: int, now: float,
              exclude_seen: bool = True) -> dict[str, list[tuple[str, float]]]:
    """Per candidate source, the ``k`` items it scores highest for the user among the
    candidates of their list (every source's best, as the ranker gets them), with its own
    score: what each source proposed before the ranker and the blend ordered them (a source
    the user's experiment variant turns off proposes nothing). Empty for a user with no
    history (their list is popularity's)."""
    with state.lock.reading():
        user = state.users.lookup(user_key)
        query = state.query_for(user, now, exclude_seen)
        if user is None or query.history.size == 0:
            return {}
        # the user's variant of a running experiment gathers by its own plan (sources on,
        # candidates per source), as their list is made
        assigned = state.experiments.assign(state.identities.resolve(user_key))
        plan = state.experiments.default if assigned is None else assigned.plan
        candidates = state.ranker.candidates(query, state.scorers, len(state.items),
                                             approximate=True, plan=plan)
        proposed: dict[str, list[tuple[str, float]]] = {}
        for column, source in enumerate(state.ranker.layout.sources):
            scores = candidates.raw[:, column]
            order = np.lexsort((candidates.items, -scores))
            chosen = order[scores[order] > 0][:k]
            proposed[source.name] = list(zip(
                state.items.ids_of(candidates.items[chosen]),
                [round(float(s), 6) for s in scores[chosen]], strict=True))
        return proposed
