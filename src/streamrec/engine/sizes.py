"""How much memory each part of the engine state holds, to tell growth from a leak.

``state_sizes`` walks the state's object graph (``EngineState``) and reports bytes per
component: the vocabularies, user histories, merged identities, each model, the
ranker, the catalogue's availability and attributes, begun refits, and whatever else the state
holds (``other``), so a component added later is never missing from the total; and what the
caller names beside it (the engine's impressions). For each
component it also reports its biggest parts (its attributes), e.g. ``models.als`` ->
``_rows``, ``_user_factors``.

Beside the bytes, ``budgets``: each structure that a setting bounds (issue 18), against that
setting: users held, neighbours per item, items per user in ALS, events per user in
histories, recent items per user, impressions kept; the largest one now and the most one
can hold, and bytes now and at most for this many items or users. Past its budget a
structure stops growing with the stream; it grows only with new items (and new users, up to
``events.max_users``).

The figures are estimates of what the objects themselves hold: numpy arrays count their
buffer (``nbytes``) once however many views share it, scipy sparse matrices their three
arrays, ``array.array``, strings, lists, dicts and plain objects what ``sys.getsizeof`` says,
summed over their contents; serving's ANN indexes, what faiss holds for them
(``VectorIndex.__sizeof__``), under the ranker. Functions, classes, modules and locks are
not followed. Memory
the Python and C allocators hold without an object in it (freed but not returned, arenas,
fragmentation) is in the process's RSS and not here: the difference between the two is what
to watch when the state stops growing and RSS does not.

Costs one pass over every object of the state, under the state's lock (readers and the
learner wait): ~0.1 s per million objects.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
import time
import types
from array import array
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# never followed: shared by everything, or not data
_OPAQUE = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
           types.MethodType, types.CodeType, types.FrameType, functools.partial,
           threading.Thread, type(threading.Lock()), type(threading.RLock()),
           threading.Condition, threading.Event, threading.Semaphore)
_ATOMS = (str, bytes, bytearray, int, float, complex, bool, array, memoryview)
_SINGLETONS = (None, True, False, Ellipsis, NotImplemented)
_NUMBERS = {int, float}
_MAX_PARTS = 8  # the biggest parts named per component; the rest are summed in "(rest)"


@dataclass
class SizeReport:
    """Bytes per component (``components``), their biggest attributes (``parts``), and how
    long the walk took."""

    components: dict[str, int] = field(default_factory=dict)
    parts: dict[str, dict[str, int]] = field(default_factory=dict)
    seconds: float = 0.0
    # each bounded structure against its budget (components that have ``budgets()``)
    budgets: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.components.values())

    def as_dict(self) -> dict[str, Any]:
        return {"total_bytes": self.total, "components": dict(self.components),
                "parts": {name: dict(parts) for name, parts in self.parts.items()},
                "budgets": {name: dict(b) for name, b in self.budgets.items()},
                "seconds": round(self.seconds, 4)}


class _Walker:
    """Deep sizes with one ``seen`` set, so an object shared by two parts counts once (for
    the first), and objects in ``stop`` (other components) are never entered."""

    def __init__(self, stop: Iterable[int] = ()) -> None:
        self.seen: set[int] = {id(s) for s in _SINGLETONS}
        self.stop = set(stop)

    def size(self, root: object) -> int:
        total = 0
        stack = [root]
        seen, stop = self.seen, self.stop
        while stack:
            obj = stack.pop()
            key = id(obj)
            if key in seen or key in stop:
                continue
            seen.add(key)
            if isinstance(obj, _OPAQUE):
                continue
            # an array that owns its buffer counts it; a view counts its header, and its
            # base (the buffer's owner) once
            total += sys.getsizeof(obj)
            if isinstance(obj, np.ndarray):
                if obj.base is not None:
                    stack.append(obj.base)
                elif obj.dtype.hasobject:
                    stack.extend(obj.ravel().tolist())
            elif isinstance(obj, _ATOMS):
                continue
            elif isinstance(obj, Mapping):
                items = list(obj.items())
                stack.extend(k for k, _ in items)
                stack.extend(v for _, v in items)
            elif isinstance(obj, list | tuple | set | frozenset | deque):
                elements = list(obj)
                if set(map(type, elements)) <= _NUMBERS:
                    # e.g. a list of item indices: sized in one pass (numbers are immutable,
                    # sharing one between lists is rare and small)
                    total += sum(map(sys.getsizeof, elements))
                else:
                    stack.extend(elements)
            else:
                if hasattr(obj, "__dict__"):
                    seen.add(id(obj.__dict__))
                    total += sys.getsizeof(obj.__dict__)
                stack.extend(_attributes(obj).values())
        return total


def process_rss_bytes() -> int | None:
    """This process's resident memory (Linux ``/proc``), or None where it cannot be read."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _attributes(obj: object) -> dict[str, Any]:
    """An object's attributes: its ``__dict__`` and ``__slots__`` (of every class)."""
    found: dict[str, Any] = dict(getattr(obj, "__dict__", {}))
    for cls in type(obj).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name not in ("__dict__", "__weakref__") and hasattr(obj, name):
                found[name] = getattr(obj, name)
    return found


class _Grouped(dict[str, object]):
    """Attributes of the state reported together as one component (no object of its own)."""


def _components(state: Any, also: Mapping[str, object]) -> dict[str, object]:
    """The named components of an ``EngineState``, and ``also``; attributes it does not name
    go to ``other`` (read with ``getattr``, so a state without one of them still reports)."""
    named: dict[str, object] = dict(also)
    # configuration and handles, not learned state
    taken = {"models", "scorers", "_refittables", "_making_room", "lock", "cut", "fit_begun",
             "settings", "artefacts"}
    for name, attribute in (("vocabulary.users", "users"), ("vocabulary.items", "items"),
                            ("users.last_active", "last_active"),
                            ("histories", "histories"), ("identities", "identities"),
                            ("ranker", "ranker"),
                            ("pending_fits", "pending_fits"), ("experiments", "experiments")):
        if hasattr(state, attribute):
            named[name] = getattr(state, attribute)
            taken.add(attribute)
    for model_name, model in getattr(state, "models", {}).items():
        named[f"models.{model_name}"] = model
    catalogue = {a: getattr(state, a) for a in ("available", "attributes", "updated_at",
                                                "catalogue_version", "_encoded_attributes",
                                                "_attributes_changed", "_saved_attributes",
                                                "_unavailable")
                 if hasattr(state, a)}
    named["catalogue"] = _Grouped(catalogue)
    taken.update(catalogue)
    named["other"] = _Grouped({a: v for a, v in vars(state).items() if a not in taken})
    return named


def _parts(component: object) -> dict[str, object]:
    if isinstance(component, Mapping):
        return {str(k): v for k, v in component.items()}
    return _attributes(component)


def _budgets_of(name: str, component: object) -> dict[str, dict[str, Any]]:
    """What a component reports against its budgets (``budgets()``: a dict per bounded
    part: setting, budget, per, count, largest, most, bytes, most_bytes); an impression
    store, its capacity."""
    report = getattr(component, "budgets", None)
    if callable(report):
        return dict(report())
    capacity = getattr(component, "capacity", None)
    if isinstance(capacity, int) and hasattr(component, "__len__"):
        held = len(component)
        return {name: {"setting": "serving.impressions_kept", "budget": capacity,
                       "per": "process", "count": held, "largest": held, "most": capacity,
                       "bytes": None, "most_bytes": None}}
    return {}


def state_sizes(state: Any, also: Mapping[str, object] | None = None) -> SizeReport:
    """Bytes held by each component of ``state`` (an ``EngineState``), and of the objects
    in ``also`` (what the engine keeps beside the state: impressions), under its lock."""
    started = time.perf_counter()
    report = SizeReport()
    lock = getattr(state, "lock", None)
    with lock if lock is not None else contextlib.nullcontext():
        components = _components(state, also or {})
        # the state, the components, and what every model points at (the scorers dict)
        # belong to no component: never entered from another one
        roots = {id(state), *(id(c) for c in components.values())}
        roots |= {id(getattr(state, a)) for a in ("scorers", "_refittables", "models")
                  if hasattr(state, a)}
        for name, component in components.items():
            walker = _Walker(roots - {id(component)})
            walker.seen.add(id(component))
            own = 0
            if not isinstance(component, _Grouped):
                own = sys.getsizeof(component)
                if hasattr(component, "__dict__"):
                    walker.seen.add(id(component.__dict__))
                    own += sys.getsizeof(component.__dict__)
            # arrays first: one held directly (the ALS item factors) is named as itself,
            # not as part of another object that shares it (the solver)
            parts = sorted(_parts(component).items(),
                           key=lambda kv: not isinstance(kv[1], np.ndarray))
            sizes = {part: walker.size(value) for part, value in parts}
            report.components[name] = own + sum(sizes.values())
            ranked = sorted(sizes.items(), key=lambda kv: -kv[1])
            named = dict(ranked[:_MAX_PARTS])
            rest = sum(size for _, size in ranked[_MAX_PARTS:])
            if rest:
                named["(rest)"] = rest
            report.parts[name] = named
            report.budgets.update(_budgets_of(name, component))
        report.budgets.update(_budgets_of("state", state))  # its own: the users held
    report.seconds = time.perf_counter() - started
    return report
