"""Where a run's events come from: any log the importers read, or the synthetic generator.

``"synthetic:N"`` generates N events with ``streamrec.datagen`` (users and items scaled with
N, seed 0); ``"synthetic-slow:N"`` a sparse, slow shop (about 7 events per user, 900 items or
more, ten years); anything else is a path given to ``streamrec.importers.read_dataset`` (a
MovieLens directory, online-retail, diginetica, or a generic event CSV/JSONL file).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from streamrec.errors import InvalidInput
from streamrec.evaluation.dense_events import DenseEvents, weigh
from streamrec.events.types import default_event_types
from streamrec.types import Event, IntArray, Item

SYNTHETIC = "synthetic:"
# a small shop of another tempo: few events per user (sessions of one or two views), a
# catalogue of hundreds, ten years in which items rise and fade over months
SLOW = "synthetic-slow:"
_YEAR_S = 365.25 * 86400.0


@dataclass(frozen=True, slots=True)
class LoadedLog:
    """The events of a data set, and its items when the source describes them."""

    events: DenseEvents
    items: tuple[Item, ...] = ()


def synthetic_config(n_events: int, slow: bool = False) -> dict[str, Any]:
    """The generator settings used for ``synthetic:N`` or ``synthetic-slow:N`` (reported
    with the results)."""
    if slow:
        return {"n_events": n_events, "n_users": max(100, n_events // 7),
                "n_items": max(900, n_events // 100), "seed": 0, "duration_s": 10 * _YEAR_S,
                "mean_session_views": 1.5, "freshness_decay_s": 90 * 86400.0,
                "rating_fraction": 0.3, "mean_view_gap_s": 600.0}
    return {"n_events": n_events, "n_users": max(1_000, n_events // 50),
            "n_items": max(2_000, n_events // 200), "seed": 0}


def dataset_name(data: str) -> str:
    """A short name for file names and titles: ``movielens-100k``, ``synthetic-1000000``."""
    for prefix in (SYNTHETIC, SLOW):
        if data.startswith(prefix):
            return prefix.removesuffix(":").replace(":", "-") + "-" + data.removeprefix(prefix)
    path = Path(data)
    name = path.name or path.resolve().name
    for suffix in (".gz", ".csv", ".jsonl", ".json", ".tsv"):
        name = name.removesuffix(suffix)
    return name


def load_log(data: str) -> LoadedLog:
    """Read the whole log once and make it dense; raises InvalidInput naming ``data``."""
    for prefix in (SYNTHETIC, SLOW):
        if data.startswith(prefix):
            count = data.removeprefix(prefix).replace("_", "")
            if not count.isdigit() or int(count) < 1:
                raise InvalidInput("data", f"{data!r}: give a positive count, e.g. "
                                   f"{prefix}100000")
            slow = prefix == SLOW
            return LoadedLog(generate(int(count), slow), synthetic_items(int(count), slow))
    from streamrec.importers import read_dataset

    dataset = read_dataset(Path(data))
    return LoadedLog(from_events(dataset.events), tuple(dataset.items))


def from_events(events: Iterable[Event]) -> DenseEvents:
    """Dense events from importer events (already in replay order: the sort is stable)."""
    return DenseEvents.from_events(events)


def generate(n_events: int, slow: bool = False) -> DenseEvents:
    """``n_events`` synthetic shop events (views, clicks, carts, purchases), columnar."""
    from streamrec.datagen import EventArrays, GeneratorConfig, generate_event_arrays

    config = GeneratorConfig(**synthetic_config(n_events, slow))
    arrays = EventArrays.concatenate(list(generate_event_arrays(config)))
    users, user_codes = first_seen(arrays.users)
    items, item_codes = first_seen(arrays.items)
    kinds = arrays.types.astype(np.int64)
    names = tuple(arrays.type_names)
    return DenseEvents(
        users, items, arrays.timestamps.astype(np.float64),
        weigh(kinds, arrays.values, names, default_event_types()), kinds,
        arrays.values.astype(np.float64),
        tuple(f"u{code}" for code in user_codes.tolist()),
        tuple(f"i{code}" for code in item_codes.tolist()), names,
    )


def synthetic_items(n_events: int, slow: bool = False) -> tuple[Item, ...]:
    """The catalogue of ``generate(n_events, slow)`` (attributes and text), as a shop would
    have upserted it before the stream: the same ids the events name."""
    from streamrec.datagen import GeneratorConfig, generate_items

    config = GeneratorConfig(**synthetic_config(n_events, slow))
    return tuple(item for chunk in generate_items(config) for item in chunk)


def first_seen(codes: IntArray) -> tuple[IntArray, IntArray]:
    """Dense ids numbered by first appearance, and the original code of each dense id."""
    unique, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[inverse.reshape(-1)].astype(np.int64), unique[order]
