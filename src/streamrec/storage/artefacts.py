"""Fitted models on disk: one file per refit, named by the log, checked by a checksum.

A refit's result is written here (engine/refits.py) and its ``$refit-end`` event names the
file and the SHA-256 of its arrays, so a replay loads the fit instead of computing it again
(a slow or non-deterministic fit can be replayed; another machine can share the directory).
The checksum is of the arrays (names, dtypes, shapes, bytes), not of the file, so a fit
computed again from the same data has the same checksum and can stand in for a lost file.
Files are written aside, fsynced and renamed into place; plain arrays, no pickle: ``.npz``,
or ``.safetensors`` for neural network weights (the sequence model's; Hugging Face's format:
a JSON header and raw little-endian bytes, read without torch).

Which files are kept (``delete_before``): a fit that a snapshot on disk already holds is
needed only by a replay from the very start of the log, which computes it again when its
file is gone; the engine deletes the files of fits begun before the oldest snapshot it
keeps. An erasure deletes them all: each was fitted on the erased user's events.

>>> import tempfile
>>> store = ArtefactStore(Path(tempfile.mkdtemp()))
>>> saved = store.save("als", 7, {"factors": np.eye(2, dtype=np.float32)})
>>> saved.name, store.load(saved)["factors"].tolist()
('als-00000000000000000007.npz', [[1.0, 0.0], [0.0, 1.0]])
>>> store.load(Artefact(saved.name, "0" * 64)) is None  # not what the log names
True
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import safetensors.numpy
from safetensors import SafetensorError

from streamrec.storage.snapshots import fsync_directory

log = logging.getLogger(__name__)
_SUFFIXES = ("npz", "safetensors")


@dataclass(frozen=True, slots=True)
class Artefact:
    name: str  # a file in the store's directory
    sha256: str  # of the arrays it holds (``checksum``)


def checksum(arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 of the arrays' names, dtypes, shapes and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}\0{array.dtype.str}\0{array.shape}\0".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


class ArtefactStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def save(self, model: str, begin_offset: int, arrays: Mapping[str, np.ndarray],
             suffix: str = "npz") -> Artefact:
        """Write the fit of ``model`` begun at ``begin_offset``; durable when it returns.
        ``suffix``: ``npz`` or ``safetensors``."""
        if suffix not in _SUFFIXES:
            raise ValueError(f"an artefact is .npz or .safetensors, not .{suffix}")
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{model}-{begin_offset:020d}.{suffix}"
        # a thread of its own: a fit given up at a shutdown may still be saving its own
        temporary = self.directory / f".tmp-{name}-{os.getpid()}-{threading.get_ident()}"
        try:
            with open(temporary, "wb") as file:
                if suffix == "safetensors":
                    file.write(safetensors_bytes(arrays))
                else:
                    np.savez(file, allow_pickle=False, **arrays)
                file.flush()
                os.fsync(file.fileno())
            os.rename(temporary, self.directory / name)
        finally:
            temporary.unlink(missing_ok=True)
        fsync_directory(self.directory)
        return Artefact(name, checksum(arrays))

    def load(self, artefact: Artefact) -> dict[str, np.ndarray] | None:
        """The arrays, or None when the file is missing, unreadable or not the one named."""
        path = self.directory / artefact.name
        if Path(artefact.name).name != artefact.name or not path.is_file():
            return None
        try:
            if path.suffix == ".safetensors":
                arrays = safetensors_arrays(path.read_bytes())
            else:
                with open(path, "rb") as file, np.load(file, allow_pickle=False) as data:
                    arrays = {key: data[key] for key in data.files}
        except (OSError, ValueError, zipfile.BadZipFile, SafetensorError) as error:
            log.warning("artefact %s is unreadable (%s): fitting again", artefact.name, error)
            return None
        if checksum(arrays) != artefact.sha256:
            log.warning("artefact %s is not the one the log names: fitting again",
                        artefact.name)
            return None
        return arrays

    def delete_before(self, offset: int) -> int:
        """Delete the files of fits begun before ``offset``; returns how many."""
        doomed = [path for path in self._files() if _begin_of(path) < offset]
        for path in doomed:
            path.unlink(missing_ok=True)
        return len(doomed)

    def delete_all(self) -> None:
        for path in self._files():
            path.unlink(missing_ok=True)

    def _files(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(path for suffix in _SUFFIXES for path in self.directory.glob(f"*.{suffix}"))


def safetensors_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """``arrays`` in the safetensors format (contiguous copies: it needs them)."""
    return bytes(safetensors.numpy.save({name: np.ascontiguousarray(array)
                                         for name, array in arrays.items()}))


def safetensors_arrays(data: bytes) -> dict[str, np.ndarray]:
    """The arrays of a safetensors file's bytes; raises ``SafetensorError`` when damaged."""
    return dict(safetensors.numpy.load(data))


def _begin_of(path: Path) -> int:
    offset = path.stem.rpartition("-")[2]
    return int(offset) if offset.isdigit() else -1
