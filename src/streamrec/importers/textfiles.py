"""Opening users' text files, gzipped or not, with errors that name the file."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from streamrec.errors import InvalidInput

# utf-8-sig reads plain UTF-8 too, and drops the byte-order mark spreadsheets like to write
DEFAULT_ENCODING = "utf-8-sig"


def open_text(path: Path, encoding: str = DEFAULT_ENCODING) -> TextIO:
    """Open ``path`` for reading text; a ``.gz`` suffix means gzip, decompressed as it streams.

    Newlines are passed through untranslated (``newline=""``), as the csv module wants.
    Raises InvalidInput naming the file when it is missing or is a directory.
    """
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise InvalidInput("path", f"{path} {what}")
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding=encoding, newline="")
    return path.open("r", encoding=encoding, newline="")


def find_file(directory: Path, name: str) -> Path | None:
    """``directory/name``, or its gzipped twin ``name.gz``, whichever exists first."""
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def numbered_lines(path: Path, encoding: str = DEFAULT_ENCODING) -> Iterator[tuple[int, str]]:
    """Each non-blank line without its line end, with its 1-based number.

    Raises InvalidInput naming the file (and line) when it cannot be read or decoded.
    """
    with open_text(path, encoding) as stream:
        try:
            for number, line in enumerate(stream, start=1):
                line = line.rstrip("\r\n")
                if line.strip():
                    yield number, line
        except UnicodeDecodeError as error:
            raise undecodable(path, encoding, error) from None
        except (OSError, EOFError, zlib.error) as error:
            raise unreadable(path, error) from None


def base_suffix(path: Path) -> str:
    """The suffix that says the format, looking past ``.gz``: ``events.csv.gz`` -> ``.csv``."""
    name = path.name[: -len(".gz")] if path.suffix == ".gz" else path.name
    return Path(name).suffix.lower()


def undecodable(path: Path, encoding: str, error: UnicodeDecodeError) -> InvalidInput:
    """The error for a file that is not in the encoding we were told; reading cannot go on.

    Text is decoded in blocks, so the failing line is found again by decoding line by line.
    """
    line = _first_undecodable_line(path, encoding)
    where = f"line {line}: " if line else ""
    return InvalidInput(
        "encoding", f"{path}: {where}not valid {encoding} ({error.reason}); "
        "give the file's encoding (e.g. latin-1)")


def unreadable(path: Path, error: Exception) -> InvalidInput:
    """The error for a file that cannot be read as stored, e.g. a damaged gzip stream."""
    return InvalidInput("path", f"{path}: cannot be read: {error}")


def _first_undecodable_line(path: Path, encoding: str) -> int | None:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as stream:
        for number, raw in enumerate(stream, start=1):
            try:
                raw.decode(encoding)
            except UnicodeDecodeError:
                return number
    return None
