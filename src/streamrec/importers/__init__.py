"""Readers that turn users' files into streamrec's events and items.

Used by ``streamrec import`` (``movielens PATH``, ``events FILE``, ``items FILE``) and by the
evaluation harness (``read_dataset``). Every reader streams (an iterator; ``.gz`` files are
decompressed as read), so a file larger than memory can be imported; only ``read_dataset`` and
the MovieLens sort hold a whole data set. Options that cannot work and files that cannot be read
raise ``InvalidInput`` naming file, line and column; single bad rows of users' files are
rejected and counted in an ``ImportReport`` instead.
"""

from streamrec.importers.dataset import Dataset, read_dataset
from streamrec.importers.events_file import (
    read_events,
    read_events_and_items,
    read_items_from_events,
)
from streamrec.importers.filters import Condition, parse_condition
from streamrec.importers.items_file import read_items
from streamrec.importers.movielens import Layout, MovieLensData, detect_layout, read_movielens
from streamrec.importers.presets import PRESET_ITEMS, PRESETS, ItemColumns, preset_for_header
from streamrec.importers.report import ImportReport
from streamrec.importers.spec import Columns, EventFileSpec
from streamrec.importers.timestamps import TimestampParser

__all__ = [
    "PRESETS",
    "PRESET_ITEMS",
    "Columns",
    "Condition",
    "Dataset",
    "EventFileSpec",
    "ImportReport",
    "ItemColumns",
    "Layout",
    "MovieLensData",
    "TimestampParser",
    "detect_layout",
    "parse_condition",
    "preset_for_header",
    "read_dataset",
    "read_events",
    "read_events_and_items",
    "read_items",
    "read_items_from_events",
    "read_movielens",
]
