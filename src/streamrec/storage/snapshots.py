"""Model state on disk: one folder per snapshot, written aside and renamed into place.

A snapshot is complete or absent: files are written into a temporary folder, fsynced, and the
folder is renamed to its final name (an atomic step on POSIX), then the parent is fsynced.
State is plain arrays (``np.savez``, no pickle), one file per component.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

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

    def _complete(self) -> list[Path]:
        return sorted(
            p for p in self.directory.glob(f"{_PREFIX}*") if (p / "meta.json").exists()
        )

    def _prune(self) -> None:
        for old in self._complete()[: -self.keep]:
            shutil.rmtree(old, ignore_errors=True)
        for stale in self.directory.glob(".tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)

    def load_latest(self) -> Snapshot | None:
        for path in reversed(self._complete()):
            meta = json.loads((path / "meta.json").read_text())
            components: dict[str, dict[str, np.ndarray]] = {}
            for name in meta["components"]:
                with np.load(path / f"{name}.npz", allow_pickle=False) as data:
                    components[name] = {key: data[key] for key in data.files}
            return Snapshot(int(meta["offset"]), meta, components)
        return None

    def delete_all(self) -> None:
        """Forget every snapshot (after an erasure, state is rebuilt from the log)."""
        for path in self.directory.glob(f"{_PREFIX}*"):
            shutil.rmtree(path, ignore_errors=True)
