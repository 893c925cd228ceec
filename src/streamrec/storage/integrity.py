"""Is a SQLite file whole? Cheap checks at every start, a full one on demand.

At start every SQLite file of the data dir (events, catalogue, user keys, keys, audit) gets
its header read (16 bytes) and, up to ``QUICK_CHECK_MAX_BYTES``, SQLite's ``PRAGMA
quick_check`` (reads every page once, without checking indexes against tables: about a second
per few hundred MiB).
Bigger files get the header check only, said in the log; ``streamrec check`` runs
``PRAGMA integrity_check`` on each, however big. Erasure checks the log and the catalogue
before it deletes anything.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

from streamrec.errors import Damaged

log = logging.getLogger(__name__)

HEADER = b"SQLite format 3\x00"
QUICK_CHECK_MAX_BYTES = 256 * 2**20
# SQLite's primary result codes for a damaged file: SQLITE_CORRUPT, SQLITE_NOTADB
_DAMAGED_CODES = {11, 26}
_ADVICE = "stop the server and restore it from a backup (docs/security.md, Backups)"


def is_damage(error: BaseException) -> bool:
    """SQLite said the file is damaged (malformed, or not a database at all)."""
    return isinstance(error, sqlite3.DatabaseError) and \
        getattr(error, "sqlite_errorcode", 0) & 0xFF in _DAMAGED_CODES


def damaged(path: Path, reason: object) -> Damaged:
    return Damaged(f"{path} is damaged ({reason}): {_ADVICE}")


def check_header(path: Path) -> None:
    """Raise ``Damaged`` unless ``path`` is absent, empty, or starts as a SQLite file does."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    with open(path, "rb") as file:
        if file.read(len(HEADER)) != HEADER:
            raise damaged(path, "not a SQLite database: its header is overwritten")


def check_pages(path: Path, full: bool = False) -> None:
    """SQLite's own check of every page (``quick_check``; ``integrity_check`` when ``full``).
    A file that cannot be opened for another reason (read-only dir) is left to its opener."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    pragma = "integrity_check" if full else "quick_check"
    try:
        # read-only: a check never writes (not even the checkpoint a last close makes)
        connection = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=10.0)
        try:
            problems = [row[0] for row in connection.execute(f"PRAGMA {pragma}(5)")]
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        if is_damage(error):
            raise damaged(path, error) from None
        log.warning("could not check %s: %s", path, error)
        return
    if problems != ["ok"]:
        raise damaged(path, "; ".join(problems))


def check_at_start(paths: Iterable[Path]) -> None:
    """The cheap checks: every header, pages of files up to ``QUICK_CHECK_MAX_BYTES``."""
    for path in paths:
        check_header(path)
        if path.is_file() and path.stat().st_size > QUICK_CHECK_MAX_BYTES:
            log.info("%s is %.1f GiB: only its header was checked at start; 'streamrec check' "
                     "checks every page", path, path.stat().st_size / 2**30)
            continue
        check_pages(path)


def sqlite_path(url: str) -> Path:
    """The file of a ``sqlite:///path[?query]`` URL."""
    return Path(url.removeprefix("sqlite:///").partition("?")[0])


def store_paths(*urls: str) -> list[Path]:
    """The files of the given store URLs that are SQLite files (``sqlite:///path``)."""
    return [sqlite_path(url) for url in urls if url.startswith("sqlite:///")]


def sqlite_paths(data_dir: Path, *urls: str) -> list[Path]:
    """The SQLite files of a data dir: those of the given store URLs (the log, the catalogue,
    the log's data keys), keys.db, audit.db and experiments.db (lists shown per experiment
    variant)."""
    return [*store_paths(*urls), data_dir / "keys.db", data_dir / "audit.db",
            data_dir / "experiments.db"]


def wal_emptied(connection: sqlite3.Connection, tries: int = 50) -> bool:
    """Copy the WAL into its database file and empty it, so no old page (what was deleted)
    stays in it; retried briefly while readers of older snapshots hold it. False when they
    stayed busy (the caller says what that means for it)."""
    for _ in range(tries):
        busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy == 0:
            return True
        time.sleep(0.02)
    return False
