"""Generated events and items written as JSON lines, gzipped when the path ends in ``.gz``.

Files are byte-identical for the same configuration (the gzip header carries no time), so a
data set can be regenerated instead of stored.
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Iterator, Sized
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import orjson
from rich.progress import Progress

from streamrec.datagen.arrays import EventArrays
from streamrec.datagen.config import GeneratorConfig
from streamrec.datagen.items import generate_items
from streamrec.datagen.stream import generate_event_arrays

Chunk = TypeVar("Chunk", bound=Sized)


def write_events(
    path: str | os.PathLike[str], config: GeneratorConfig, *, show_progress: bool = True
) -> int:
    """Write the events of ``config`` in time order, one JSON object a line with
    ``event_id``, ``user_id``, ``item_id``, ``type``, ``timestamp`` (unix seconds) and
    ``value`` when the event has one. Returns how many were written."""
    with _open_for_writing(Path(path)) as out:
        chunks = generate_event_arrays(config)
        for arrays in _with_progress(chunks, config.n_events, "events", show_progress):
            out.write(_event_lines(arrays).encode())
    return config.n_events


def write_items(
    path: str | os.PathLike[str], config: GeneratorConfig, *, show_progress: bool = True
) -> int:
    """Write every item of ``config``, one JSON object a line with ``item_id``,
    ``attributes`` and ``text``. Returns how many were written."""
    with _open_for_writing(Path(path)) as out:
        chunks = generate_items(config)
        for items in _with_progress(chunks, config.n_items, "items", show_progress):
            out.write(
                b"".join(
                    orjson.dumps(
                        {"item_id": item.item_id, "attributes": item.attributes, "text": item.text},
                        option=orjson.OPT_APPEND_NEWLINE,
                    )
                    for item in items
                )
            )
    return config.n_items


def _event_lines(arrays: EventArrays) -> str:
    # every field is an integer, a finite float or a known type name: nothing needs escaping,
    # and formatting directly is several times faster than building a dict per event
    names = arrays.type_names
    lines = []
    rows = zip(
        range(arrays.offset, arrays.offset + len(arrays)),
        arrays.users.tolist(),
        arrays.items.tolist(),
        arrays.types.tolist(),
        arrays.timestamps.tolist(),
        arrays.values.tolist(),
        strict=True,
    )
    for number, user, item, kind, timestamp, value in rows:
        extra = "" if value != value else f',"value":{value!r}'  # NaN: no value
        lines.append(
            f'{{"event_id":"e{number}","user_id":"u{user}","item_id":"i{item}",'
            f'"type":"{names[kind]}","timestamp":{timestamp!r}{extra}}}\n'
        )
    return "".join(lines)


def _with_progress(chunks: Iterator[Chunk], total: int, what: str, show: bool) -> Iterator[Chunk]:
    if not show:
        yield from chunks
        return
    with Progress(transient=False) as progress:
        task = progress.add_task(f"writing {what}", total=total)
        for chunk in chunks:
            yield chunk
            progress.advance(task, len(chunk))


@contextmanager
def _open_for_writing(path: Path) -> Iterator[io.BufferedIOBase]:
    with path.open("wb") as raw:
        if path.name.endswith(".gz"):
            # mtime=0 and no file name: the same data always gives the same bytes
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped:
                yield zipped
        else:
            yield raw
