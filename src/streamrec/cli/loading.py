"""Feeding an engine from files: validated chunks into the log, then learned, with progress."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from streamrec.engine.engine import Engine
from streamrec.events.validation import validate_events
from streamrec.types import Event, Item

_CHUNK = 10_000
console = Console(stderr=True)


def _chunks(values: Iterable[Event] | Iterable[Item], size: int) -> Iterator[list]:  # type: ignore[type-arg]
    iterator = iter(values)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TaskProgressColumn(), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                    console=console, disable=not console.is_terminal)  # no bars in logs


def append_events(engine: Engine, events: Iterable[Event], total: int | None = None
                  ) -> tuple[int, int]:
    """Validate and append in chunks (each chunk all-or-nothing), then learn everything.
    Returns (accepted, duplicates)."""
    accepted = duplicates = 0
    with _bar() as bar:
        task = bar.add_task("storing events", total=total, rate="")
        for chunk in _chunks(events, _CHUNK):
            validate_events(chunk, engine.state.event_types, max_batch=len(chunk))
            appended = engine.log.append(chunk)
            accepted += appended.accepted
            duplicates += appended.duplicates
            speed = bar.tasks[0].speed or 0.0
            bar.update(task, advance=len(chunk), rate=f"{speed:,.0f} events/s")
        pending = max(0, engine.log.last_offset() - engine.state.offset)
        learn = bar.add_task("learning", total=pending, rate="")
        engine.learner.catch_up(progress=lambda n: bar.update(learn, advance=n))
    return accepted, duplicates


def upsert_items(engine: Engine, items: Iterable[Item]) -> int:
    count = 0
    with _bar() as bar:
        task = bar.add_task("storing items", total=None, rate="")
        for chunk in _chunks(items, _CHUNK):
            count += engine.upsert_items(chunk)
            bar.update(task, advance=len(chunk))
    return count
