"""MovieLens movies as items: title, genres and user tags, from each layout's own files.

``text`` joins title, genres and tags (``"Toy Story (1995). Animation, Comedy. pixar"``) for
text-based similarity. ``attributes`` holds ``title``, ``genres`` (list), ``year`` (int, or
None when the title has none) and ``tags`` (distinct ignoring case, first spelling kept; only
ml-latest has tags). Files in a published layout are trusted: a malformed line raises
InvalidInput naming file and line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from streamrec.errors import InvalidInput
from streamrec.importers.rows import strict_rows
from streamrec.importers.textfiles import find_file, numbered_lines
from streamrec.types import Item

# ml-100k's u.genre, for a copy of the folder that lacks that file
GENRES_100K = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)
# how each layout says "no genre"
_NO_GENRE = frozenset({"unknown", "(no genres listed)"})
_TITLE_YEAR = re.compile(r"\((\d{4})\)\s*$")
_FIELDS_100K = 5 + len(GENRES_100K)  # id, title, release date, video date, url, genre flags


def items_100k(directory: Path) -> Iterator[Item]:
    """``u.item``: latin-1, ``|``-separated, genres as 0/1 flags named by ``u.genre``."""
    path = _required(directory, "u.item")
    genres = _genres_100k(directory)
    for line, text in numbered_lines(path, "latin-1"):
        fields = text.split("|")
        if len(fields) != _FIELDS_100K:
            raise _malformed(path, line, f"{len(fields)} fields, expected {_FIELDS_100K}")
        flags = fields[5:]
        named = [name for name, flag in zip(genres, flags, strict=True) if flag.strip() == "1"]
        release_date = fields[2].strip()  # "01-Jan-1995": the year when the title has none
        yield _item(fields[0], fields[1], named, fallback_year=_year(release_date[-4:]))


def items_1m(directory: Path) -> Iterator[Item]:
    """``movies.dat``: latin-1, ``MovieID::Title::Genre|Genre``."""
    path = _required(directory, "movies.dat")
    for line, text in numbered_lines(path, "latin-1"):
        fields = text.split("::")
        if len(fields) != 3:
            raise _malformed(path, line, f"{len(fields)} fields, expected 3 separated by '::'")
        yield _item(fields[0], fields[1], fields[2].split("|"))


def items_latest(directory: Path) -> Iterator[Item]:
    """``movies.csv`` (``movieId,title,genres``) with ``tags.csv`` when present."""
    path = _required(directory, "movies.csv")
    tags = _tags_latest(directory)
    for _, row in strict_rows(path, ("movieId", "title", "genres")):
        movie_id = row["movieId"].strip()
        yield _item(movie_id, row["title"], row["genres"].split("|"), tags.get(movie_id, []))


def _item(movie_id: str, title: str, genres: Sequence[str], tags: Sequence[str] = (),
          fallback_year: int | None = None) -> Item:
    title = title.strip()
    genres = [genre.strip() for genre in genres if genre.strip() not in _NO_GENRE]
    match = _TITLE_YEAR.search(title)
    year = int(match[1]) if match else fallback_year
    text = ". ".join(part for part in (title, ", ".join(genres), ", ".join(tags)) if part)
    return Item(item_id=movie_id.strip(), text=text,
                attributes={"title": title, "genres": genres, "year": year, "tags": list(tags)})


def _genres_100k(directory: Path) -> Sequence[str]:
    path = find_file(directory, "u.genre")
    if path is None:
        return GENRES_100K
    names: dict[int, str] = {}
    for line, text in numbered_lines(path, "latin-1"):
        name, _, index = text.rpartition("|")
        if not name or not index.strip().isdigit():
            raise _malformed(path, line, "expected 'genre|index'")
        names[int(index)] = name
    if sorted(names) != list(range(len(GENRES_100K))):
        raise InvalidInput("path", f"{path}: expected genre indices 0 to "
                           f"{len(GENRES_100K) - 1}, found {sorted(names)}")
    return [names[index] for index in range(len(GENRES_100K))]


def _tags_latest(directory: Path) -> dict[str, list[str]]:
    path = find_file(directory, "tags.csv")
    if path is None:
        return {}
    tags: dict[str, dict[str, str]] = {}  # movie -> lower-cased tag -> first spelling
    for _, row in strict_rows(path, ("movieId", "tag")):
        tag = row["tag"].strip()
        if tag:
            tags.setdefault(row["movieId"].strip(), {}).setdefault(tag.lower(), tag)
    return {movie: list(spellings.values()) for movie, spellings in tags.items()}


def _year(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _required(directory: Path, name: str) -> Path:
    path = find_file(directory, name)
    if path is None:
        raise InvalidInput("path", f"{directory}: no {name} (nor {name}.gz)")
    return path


def _malformed(path: Path, line: int, problem: str) -> InvalidInput:
    return InvalidInput("path", f"{path}: line {line}: {problem}")
