"""One path in, events and items out, whatever the path holds: ``streamrec evaluate --data``.

Recognised, in order: a MovieLens folder (or its ratings file); any other folder holding
exactly one data file (``.csv``, ``.tsv``, ``.jsonl``, optionally gzipped), read as that file;
a file whose header matches a preset (``online-retail``, ``diginetica``); any other events
file, read with the default spec (columns ``user_id``, ``item_id``, ``type``, ``timestamp``,
optional ``value``, ``event_id``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path

from streamrec.errors import InvalidInput
from streamrec.importers.events_file import read_events, read_events_and_items
from streamrec.importers.movielens import RATINGS_FILES, read_movielens
from streamrec.importers.presets import PRESET_ITEMS, PRESETS, preset_for_header
from streamrec.importers.report import ImportReport
from streamrec.importers.rows import inspect_file
from streamrec.importers.spec import EventFileSpec
from streamrec.types import Event, Item

# the ratings files that name a MovieLens folder when given instead of the folder
_MOVIELENS_FILES = {*RATINGS_FILES.values(), *(f"{name}.gz" for name in RATINGS_FILES.values())}


@dataclass(frozen=True, slots=True)
class Dataset:
    """Events oldest first (ties in file order), and the items known from the same source."""

    name: str  # the MovieLens layout, the preset, or "events" for a generic file
    events: list[Event]
    items: list[Item] = field(default_factory=list)  # empty when the source has no item data
    report: ImportReport | None = None  # None for MovieLens, which raises on a bad line


def read_dataset(path: Path | str) -> Dataset:
    """Read everything at ``path`` into memory, sorted for replay.

    Raises InvalidInput when the path cannot be read or yields no events at all (the
    message then carries the report's first reasons).
    """
    path = Path(path)
    if path.is_dir() and not _is_movielens_folder(path):
        path = _only_data_file(path)
    if path.is_dir() or _is_movielens_file(path):
        data = read_movielens(path)
        return Dataset(data.layout, list(data.events()), list(data.items()))
    table = inspect_file(path)
    name = preset_for_header(table.header)
    spec = PRESETS[name] if name else EventFileSpec()
    report = ImportReport()
    item_columns = PRESET_ITEMS.get(name) if name else None
    if item_columns is not None:
        events, items = read_events_and_items(path, spec, item_columns.text,
                                              item_columns.attributes, report=report)
    else:
        events, items = list(read_events(path, spec, report=report)), []
    if not events:
        raise InvalidInput("path", f"{path}: no events could be read: {report.summary()}")
    events.sort(key=attrgetter("timestamp"))  # a stable sort: ties stay in file order
    return Dataset(name or "events", events, items, report)


_DATA_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json")


def _is_movielens_folder(path: Path) -> bool:
    return any((path / name).exists() for name in RATINGS_FILES.values())


def _only_data_file(folder: Path) -> Path:
    """The one events file in ``folder`` (a data set's folder with its README beside it)."""
    found = sorted(child for child in folder.iterdir() if child.is_file()
                   and child.name.removesuffix(".gz").endswith(_DATA_SUFFIXES))
    if len(found) != 1:
        names = ", ".join(child.name for child in found) or "none"
        raise InvalidInput("path", f"{folder}: expected a MovieLens folder or one data file "
                           f"(.csv, .tsv, .jsonl, maybe .gz), found {names}")
    return found[0]


def _is_movielens_file(path: Path) -> bool:
    if path.name not in _MOVIELENS_FILES:
        return False
    # "ratings.csv" is a common name; only MovieLens's own header makes it one
    if path.name.startswith("ratings.csv"):
        return {"userId", "movieId", "rating", "timestamp"} <= set(inspect_file(path).header)
    return True
