"""Model state on disk: one folder per snapshot, written aside and renamed into place.

A snapshot is complete or absent: files are written into a temporary folder, fsynced, and the
folder is renamed to its final name (an atomic step on POSIX), then the parent is fsynced.
State is plain arrays (``np.savez``, no pickle), one file per component.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

_PREFIX = "snapshot-"


@dataclass(frozen=True, slots=True)
class Snapshot:
    offset: int  # every event up to and including this offset is in the state
    meta: dict[str, Any]
    components: dict[str, dict[str, np.ndarray]]


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class SnapshotStore:
    def __init__(self, directory: Path, keep: int = 2) -> None:
        self.directory = directory
        self.keep = keep
        directory.mkdir(parents=True, exist_ok=True)

    def save(
        self, offset: int, components: Mapping[str, Mapping[str, np.ndarray]],
        meta: Mapping[str, Any],
    ) -> Path:
        final = self.directory / f"{_PREFIX}{offset:020d}"
        temporary = self.directory / f".tmp-{offset:020d}-{os.getpid()}"
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir()
        try:
            for name, arrays in components.items():
                with open(temporary / f"{name}.npz", "wb") as file:
                    np.savez(file, allow_pickle=False, **arrays)
                    file.flush()
                    os.fsync(file.fileno())
            with open(temporary / "meta.json", "w") as file:
                json.dump({**meta, "offset": offset, "components": sorted(components)}, file)
                file.flush()
                os.fsync(file.fileno())
            _fsync_dir(temporary)
        except BaseException:  # e.g. the disk filled up: give back what was written
            shutil.rmtree(temporary, ignore_errors=True)
            raise
        if final.exists():
            shutil.rmtree(final)
        os.rename(temporary, final)
        _fsync_dir(self.directory)
        self._prune()
        return final

    def folders(self) -> list[Path]:
        """Complete snapshot folders, oldest first."""
        return self._complete()

    def _complete(self) -> list[Path]:
        return sorted(
            p for p in self.directory.glob(f"{_PREFIX}*") if (p / "meta.json").exists()
        )

    def _prune(self) -> None:
        for old in self._complete()[: -self.keep]:
            shutil.rmtree(old, ignore_errors=True)
        for stale in self.directory.glob(".tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)

    def offsets(self) -> list[int]:
        """Offsets of the complete snapshots on disk, oldest first."""
        return [int(path.name.removeprefix(_PREFIX)) for path in self._complete()]

    def load_latest(self) -> Snapshot | None:
        """The newest snapshot that reads back whole, or None."""
        return next(self.readable(), None)

    def readable(self) -> Iterator[Snapshot]:
        """Snapshots newest first, each read whole; a damaged one (truncated or garbage
        archive, bad meta.json, a missing component) is skipped with one log line naming the
        bad file, so the previous one, and then a replay of the log, is tried."""
        for path in reversed(self._complete()):
            try:
                yield read_snapshot(path)
            except DamagedSnapshot as damaged:
                log.warning("snapshot file %s is damaged (%s): trying an older snapshot, then "
                            "a replay of the log", damaged.file, damaged.reason)

    def delete_all(self) -> None:
        """Forget every snapshot (after an erasure, state is rebuilt from the log)."""
        for path in self.directory.glob(f"{_PREFIX}*"):
            shutil.rmtree(path, ignore_errors=True)


class DamagedSnapshot(Exception):
    def __init__(self, file: Path, reason: str) -> None:
        super().__init__(f"{file}: {reason}")
        self.file = file
        self.reason = reason


def read_snapshot(path: Path) -> Snapshot:
    """One snapshot folder read whole, or ``DamagedSnapshot`` naming the bad file."""
    meta_file = path / "meta.json"
    try:
        meta = json.loads(meta_file.read_text())
        offset, names = int(meta["offset"]), [str(name) for name in meta["components"]]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DamagedSnapshot(meta_file, f"unreadable meta.json: {type(error).__name__}: "
                              f"{error}") from None
    components = {name: _read_arrays(path / f"{name}.npz") for name in names}
    return Snapshot(offset, meta, components)


def _read_arrays(file: Path) -> dict[str, np.ndarray]:
    if not file.is_file():
        raise DamagedSnapshot(file, "missing")
    if not zipfile.is_zipfile(file):
        raise DamagedSnapshot(file, "not an npz archive (truncated or overwritten)")
    try:
        with np.load(file, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as error:
        # numpy's own words for object arrays point at pickle: state is plain arrays only
        reason = "holds something other than plain arrays" if "pickle" in str(error) \
            else f"{type(error).__name__}: {error}"
        raise DamagedSnapshot(file, reason) from None
