"""MovieLens folders as streamrec events and items: the ml-100k, ml-1m and ml-latest layouts.

F. M. Harper and J. A. Konstan, "The MovieLens Datasets: History and Context", ACM TiiS 5(4),
2015. The three layouts differ in file names, separators and encodings; each is recognised by
its ratings file (``u.data``, ``ratings.dat``, ``ratings.csv``, or the same with ``.gz``).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from streamrec.errors import InvalidInput
from streamrec.importers import movielens_items
from streamrec.importers.rows import strict_rows
from streamrec.importers.textfiles import find_file, numbered_lines
from streamrec.types import Event, Item

Layout = Literal["ml-100k", "ml-1m", "ml-latest"]
RATINGS_FILES: dict[Layout, str] = {
    "ml-100k": "u.data", "ml-1m": "ratings.dat", "ml-latest": "ratings.csv",
}
_SEPARATORS = {"ml-100k": "\t", "ml-1m": "::"}
_RATING_FIELDS = ("user", "movie", "rating", "timestamp")
_LATEST_COLUMNS = ("userId", "movieId", "rating", "timestamp")


def detect_layout(path: Path | str) -> Layout:
    """The layout of a MovieLens folder (or of the folder holding the file ``path``)."""
    path = Path(path)
    if not path.exists():
        raise InvalidInput("path", f"{path} does not exist")
    directory = path if path.is_dir() else path.parent
    for layout, name in RATINGS_FILES.items():
        if find_file(directory, name) is not None:
            return layout
    raise InvalidInput("path", f"{path} is not a MovieLens folder: it has none of "
                       f"{', '.join(RATINGS_FILES.values())}")


@dataclass(frozen=True, slots=True)
class MovieLensData:
    """One MovieLens folder. Each call reads the files again: nothing is kept in between."""

    directory: Path
    layout: Layout

    def events(self) -> Iterator[Event]:
        """Every rating as an event of type ``"rating"`` (value: the stars), oldest first.

        Ties keep file order. To sort, four numbers per rating are held in memory (about 32 MB
        for ml-1m's million ratings); events are made one at a time as they are consumed.
        ``event_id`` is ``ml-{user}-{movie}-{timestamp}``, the same on every import.
        """
        users, movies, ratings, timestamps = self._ratings()
        order = np.argsort(np.frombuffer(timestamps, dtype=np.int64), kind="stable")
        for index in order.tolist():
            user, movie, timestamp = users[index], movies[index], timestamps[index]
            yield Event(user_id=str(user), item_id=str(movie), type="rating",
                        timestamp=float(timestamp), value=ratings[index],
                        event_id=f"ml-{user}-{movie}-{timestamp}")

    def items(self) -> Iterator[Item]:
        """Every movie in the catalogue file (rated or not), in file order; see
        ``movielens_items`` for the text and attributes."""
        readers = {"ml-100k": movielens_items.items_100k, "ml-1m": movielens_items.items_1m,
                   "ml-latest": movielens_items.items_latest}
        return readers[self.layout](self.directory)

    def _ratings(self) -> tuple[array[int], array[int], array[float], array[int]]:
        path = find_file(self.directory, RATINGS_FILES[self.layout])
        if path is None:
            raise InvalidInput("path", f"{self.directory}: no {RATINGS_FILES[self.layout]}")
        # compact typed arrays rather than lists of objects: ml-latest has 27 million ratings
        users, movies, timestamps = array("q"), array("q"), array("q")
        ratings = array("d")
        for line, fields in _rating_records(path, self.layout):
            users.append(_integer(path, line, fields, 0))
            movies.append(_integer(path, line, fields, 1))
            ratings.append(_rating(path, line, fields[2]))
            timestamps.append(_integer(path, line, fields, 3))
        return users, movies, ratings, timestamps


def read_movielens(path: Path | str) -> MovieLensData:
    """A MovieLens folder (or a file inside one), its layout recognised; no rows read yet."""
    path = Path(path)
    layout = detect_layout(path)
    return MovieLensData(path if path.is_dir() else path.parent, layout)


def _rating_records(path: Path, layout: Layout) -> Iterator[tuple[int, list[str]]]:
    if layout == "ml-latest":
        for line, row in strict_rows(path, _LATEST_COLUMNS):
            yield line, [row[column] for column in _LATEST_COLUMNS]
        return
    separator = _SEPARATORS[layout]
    for line, text in numbered_lines(path, "ascii"):
        fields = text.split(separator)
        if len(fields) != len(_RATING_FIELDS):
            raise InvalidInput("path", f"{path}: line {line}: {len(fields)} fields, expected "
                               f"{len(_RATING_FIELDS)} separated by {separator!r}")
        yield line, fields


def _integer(path: Path, line: int, fields: list[str], position: int) -> int:
    try:
        return int(fields[position])
    except ValueError:
        raise InvalidInput("path", f"{path}: line {line}: column {_RATING_FIELDS[position]!r}: "
                           f"{fields[position]!r} is not an integer") from None


def _rating(path: Path, line: int, text: str) -> float:
    try:
        rating = float(text)
    except ValueError:
        rating = math.nan
    if not math.isfinite(rating):
        raise InvalidInput("path", f"{path}: line {line}: column 'rating': {text!r} is not "
                           "a number")
    return rating
