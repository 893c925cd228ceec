"""A write the storage refused, as the error callers get: ``Unavailable`` (retrying later may
succeed) with a message an operator can act on. A read-only data dir is named as such; other
reasons (a full disk, an I/O error) pass on SQLite's or the OS's own words."""

from __future__ import annotations

import errno
import sqlite3

from streamrec.errors import Unavailable

_SQLITE_READONLY = 8  # primary result code; the extended ones (READONLY_*) keep it in the low byte
_NOT_WRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM}


def is_read_only(error: BaseException) -> bool:
    """SQLite or the OS refused to write: a read-only file, directory or file system."""
    if isinstance(error, sqlite3.Error):
        return getattr(error, "sqlite_errorcode", 0) & 0xFF == _SQLITE_READONLY
    return isinstance(error, OSError) and error.errno in _NOT_WRITABLE


def storage_unavailable(what: str, error: BaseException) -> Unavailable:
    """``what`` ("the event log could not store events") failed because of ``error``."""
    if is_read_only(error):
        return Unavailable(f"{what}: the data dir is read-only ({error}); make it and its "
                           "files writable by the server, then retry")
    return Unavailable(f"{what}: {error}")
