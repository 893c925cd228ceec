"""The environment variables streamrec reads, so that a misspelt one stops it instead of being
ignored (pydantic-settings reads only the names it knows and passes over the rest).

The valid names are the Settings model tree: ``STREAMREC_`` then field names joined by ``__``,
any level of it (``STREAMREC_MODELS`` takes the whole section as JSON). A dict-valued setting
(``events.types``) also takes each key below it, and each key's own fields.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import AliasChoices, BaseModel

from streamrec.errors import InvalidSetting

PREFIX = "STREAMREC_"
SEPARATOR = "__"
ANY_KEY = "<KEY>"  # one segment below a dict with free-form keys

# read outside Settings, documented where they are read
OTHER_NAMES = {
    "STREAMREC_API_KEY": "evaluate --api-key (cli/evaluate.py)",
    "STREAMREC_CRASH_ROUNDS": "the crash harness's rounds (tests/integration)",
}


def _inner(annotation: Any) -> list[Any]:
    """The alternatives of an optional or union annotation, else the annotation itself."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    return [annotation]


def _other_names(name: str, alias: object) -> list[str]:
    """The names a field is also read under (``validation_alias``: a string or choices)."""
    choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
    return [str(choice) for choice in choices if isinstance(choice, str) and choice != name]


def _children(annotation: Any) -> Iterator[tuple[str | None, Any]]:
    """(segment, annotation below it) for each name one level down; None: any key."""
    for option in _inner(annotation):
        if isinstance(option, type) and issubclass(option, BaseModel):
            for name, field in option.model_fields.items():
                yield name, field.annotation
                for alias in _other_names(name, field.validation_alias):
                    yield alias, field.annotation
        elif typing.get_origin(option) in (dict, Mapping):
            key, value = typing.get_args(option)
            keys = typing.get_args(key) if typing.get_origin(key) is typing.Literal else None
            for literal in keys or [None]:
                yield (str(literal) if literal is not None else None), value


def accepts(annotation: Any, segments: list[str]) -> bool:
    """Whether ``segments`` (lower case) name something at or below ``annotation``."""
    if not segments:
        return True
    head, rest = segments[0], segments[1:]
    return any((name is None or name == head) and accepts(below, rest)
               for name, below in _children(annotation))


def known_names(model: type[BaseModel]) -> list[str]:
    """Every valid name, with ``<KEY>`` for a free-form dict key."""
    names: list[str] = []

    def walk(annotation: Any, path: str) -> None:
        for name, below in _children(annotation):
            full = f"{path}{SEPARATOR if path != PREFIX else ''}{(name or ANY_KEY).upper()}"
            names.append(full)
            walk(below, full)

    walk(model, PREFIX)
    return names


def closest(name: str, model: type[BaseModel]) -> str | None:
    # a free-form key is filled in with the one given, so that the rest of the name can match
    given = name.split(SEPARATOR)
    candidates = [SEPARATOR.join(given[i] if part == ANY_KEY and i < len(given) else part
                                 for i, part in enumerate(known.split(SEPARATOR)))
                  for known in known_names(model)] + list(OTHER_NAMES)
    matches = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return matches[0] if matches else None


def unknown_names(model: type[BaseModel], environ: Mapping[str, str]) -> list[str]:
    """The ``STREAMREC_`` variables in ``environ`` that nothing reads."""
    unknown = []
    for variable in sorted(environ):
        name = variable.upper()
        if not name.startswith(PREFIX) or name in OTHER_NAMES:
            continue
        segments = name.removeprefix(PREFIX).lower().split(SEPARATOR)
        if "" in segments or not accepts(model, segments):
            unknown.append(variable)
    return unknown


def unknown_keys(annotation: Any, data: object, path: tuple[str, ...] = ()
                 ) -> Iterator[tuple[str, ...]]:
    """Paths in ``data`` (the values given to Settings, JSON values of variables included)
    that name nothing: the section models would ignore them."""
    if not isinstance(data, dict):
        return
    children = list(_children(annotation))
    for key, value in data.items():
        # pydantic-settings matches the keys of JSON values regardless of case, as names
        below = [under for name, under in children if name in (None, str(key).lower())]
        if not below:
            yield (*path, str(key))
        elif len(below) == 1:
            yield from unknown_keys(below[0], value, (*path, str(key)))


def refuse_unknown_keys(model: type[BaseModel], data: object) -> None:
    """Raise InvalidSetting for a key no setting has, e.g. in STREAMREC_EVENTS__TYPES='{"like":
    {"wieght": 3}}' (the event type would get the default weight without a word)."""
    lines = []
    for path in unknown_keys(model, data):
        name = PREFIX + SEPARATOR.join(path).upper()
        suggestion = closest(name, model)
        hint = f"; did you mean {suggestion}?" if suggestion else ""
        lines.append(f"unknown setting {name} (a key in a JSON value{hint})")
    if lines:
        lines.append("correct or remove it; README.md's Configuration lists the settings")
        raise InvalidSetting("\n".join(lines))


def refuse_unknown_names(model: type[BaseModel], environ: Mapping[str, str]) -> None:
    """Raise InvalidSetting naming each unknown variable and the closest known name."""
    unknown = unknown_names(model, environ)
    if not unknown:
        return
    lines = []
    for variable in unknown:
        suggestion = closest(variable.upper(), model)
        hint = f" (did you mean {suggestion}?)" if suggestion else ""
        lines.append(f"unknown setting {variable}{hint}")
    lines.append("correct or unset it; README.md's Configuration lists the settings")
    raise InvalidSetting("\n".join(lines))
