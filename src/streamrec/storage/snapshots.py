"""Model state on disk: one folder per snapshot, written aside and renamed into place.

A snapshot is complete or absent: files are written into a temporary folder, fsynced, and the
folder is renamed to its final name (an atomic step on POSIX), then the parent is fsynced.
State is plain arrays, no pickle.

Incremental: each array's bytes are cut into chunks of ``CHUNK_BYTES``, stored once under
their SHA-256 digest in ``chunks/``; a snapshot folder holds one manifest per component
(``<component>.json``: each array's dtype, shape and chunk digests). A chunk that an older
snapshot already wrote (the catalogue, content vectors, the vocabularies' settled prefix,
item factors between refits) is not written again, so every snapshot reads back whole on its
own while the disk sees only what changed. An array that cannot change (read-only down to
the memory it views, or declared ``unchanging``: a fit's factors and data, the catalogue's
encoding) is hashed once: the next save of the same array object reuses its digests. At 1M
items that is 1.5 of the 1.9 GiB a snapshot holds, which the writer's thread, at its low
priority beside learning and a fit, took seconds to hash again every time. State that
changes a little in very many places (sparse rows) is saved as a base now and then
(``Kept`` under a token) and, in between, as that base named again (``AsSaved``: its
manifest entries, nothing hashed or written) plus the changes since. A start that
restored a snapshot adopts it (``adopt``): the first save after it names the same bases and
knows the digests of the arrays read back that their models keep unchanged. A chunk is
checked against its digest when read:
a torn or overwritten one makes its snapshot damaged, and the previous one (or a replay of
the log) is used. Chunks no kept snapshot names are deleted after each save.

Snapshots written before this format (``<component>.npz``, ``np.savez``) still read back, and
so do those whose chunks are named by BLAKE2b (``chunks-1``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
import weakref
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import blake3
import numpy as np

log = logging.getLogger(__name__)

_PREFIX = "snapshot-"
_CHUNKS = "chunks"
# chunks-3 names chunks by BLAKE3, chunks-2 by SHA-256, chunks-1 by BLAKE2b. One core here
# hashed ~5 GB/s with BLAKE3, ~1.1 with SHA-256 (the CPUs' SHA instructions) and ~0.3 with
# BLAKE2b. A write hashes what changed (at 100k items and 10M events, 800 MiB every snapshot)
# and a restart checks every chunk it reads. All three are read; new snapshots are chunks-3
_FORMAT = "chunks-3"
CHUNK_BYTES = 4 * 1024 * 1024
# threads reading a snapshot's chunks side by side: reading and hashing release the GIL, so
# on two cores a restart reads in about half the time (the digests cost as much as the reads)
_READERS = max(1, min(4, os.cpu_count() or 1))


def _digest(data: np.ndarray) -> str:
    # blake3 releases the GIL on big buffers: serving goes on while a snapshot is hashed
    return blake3.blake3(memoryview(data.data)).hexdigest()


# arrays their owners declared unchanging (``unchanging``), by id, held weakly
_UNCHANGING: weakref.WeakValueDictionary[int, np.ndarray] = weakref.WeakValueDictionary()


def unchanging(array: np.ndarray) -> np.ndarray:
    """Declare that nothing writes ``array`` while it lives (it is replaced, never changed: a
    fit's factors, the data a fit was given), where it cannot be made read-only (implicit's
    solver takes only writeable buffers): a snapshot hashes its bytes once. Returns it."""
    _UNCHANGING[id(array)] = array
    return array


@dataclass(frozen=True, slots=True)
class Kept:
    """An array for a save to write and keep the manifest entry of, under ``token``: a later
    save may then name it by ``AsSaved(token)`` instead of giving it again. For state whose
    owner writes it whole now and then and its changes since in between (a base and a
    change log, models/sparse_rows.py), without holding the base in memory meanwhile."""

    array: np.ndarray
    token: str


@dataclass(frozen=True, slots=True)
class AsSaved:
    """The array the store's last save had as ``Kept(array, token)`` or ``AsSaved(token)``:
    its manifest entry is written again, nothing is hashed or written. Ask ``holds`` first:
    a store that does not hold it (its save failed, an erasure deleted every snapshot, a
    start restored no snapshot of this store's that kept it) raises ``NotHeld``."""

    token: str


class NotHeld(OSError):
    """An ``AsSaved`` array the store does not hold (or a chunk of it is gone): the save
    fails as a disk's refusal does, and the store no longer holds it."""


def _immutable(array: np.ndarray) -> bool:
    """Whether nothing can write the array's bytes: declared ``unchanging``, or read-only and
    so is every array it views (a read-only view of a writeable array changes with it), down
    to memory no array owns writeably. The code marks arrays read-only where they are
    replaced, never changed."""
    if _UNCHANGING.get(id(array)) is array:
        return True
    seen: object = array
    while isinstance(seen, np.ndarray):
        if seen.flags.writeable:
            return False
        seen = seen.base
    return seen is None or isinstance(seen, bytes)


def _sha256_digest(data: np.ndarray) -> str:
    """How chunks-2 snapshots named their chunks."""
    return hashlib.sha256(memoryview(data.data)).hexdigest()


def _blake2b_digest(data: np.ndarray) -> str:
    """How chunks-1 snapshots named their chunks."""
    return hashlib.blake2b(memoryview(data.data), digest_size=20).hexdigest()


_DIGESTS: dict[str, Callable[[np.ndarray], str]] = {
    _FORMAT: _digest, "chunks-2": _sha256_digest, "chunks-1": _blake2b_digest}


@dataclass(frozen=True, slots=True)
class Snapshot:
    offset: int  # every event up to and including this offset is in the state
    meta: dict[str, Any]
    components: dict[str, dict[str, np.ndarray]]
    folder: Path | None = None
    # the manifest entries of its arrays kept under a token (``Kept``), by token
    kept: dict[str, dict[str, Any]] = field(default_factory=dict)
    # each array's chunk digests, by id, as ``SnapshotStore._known`` holds them
    digests: dict[int, tuple[weakref.ref[np.ndarray], list[str]]] = field(
        default_factory=dict)


def fsync_directory(path: Path) -> None:
    """Make a rename or an unlink in ``path`` durable (the directory's entry, not a file's
    data)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_private(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all, readable by the owner only, and durably: a
    temporary file fsync'd, renamed over ``path``, the directory fsync'd."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(descriptor, data)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, path)
    fsync_directory(path.parent)


class SnapshotStore:
    def __init__(self, directory: Path, keep: int = 2) -> None:
        self.directory = directory
        self.keep = keep
        directory.mkdir(parents=True, exist_ok=True)
        self.last_written_bytes = 0  # of the last save: chunks written
        self.last_reused_bytes = 0  # and chunks an older snapshot had written already
        self.last_hashed_bytes = 0  # and of those, the bytes hashed (not known already)
        # the chunk digests of the arrays that cannot change in the last save (or in the
        # snapshot a start restored: ``adopt``), by id, each with a weak reference to its
        # array (an id is reused once its array is gone): the next save of one reuses them
        self._known: dict[int, tuple[weakref.ref[np.ndarray], list[str]]] = {}
        # the manifest entries of the last save's ``Kept`` and ``AsSaved`` arrays, by token
        self._kept: dict[str, dict[str, Any]] = {}

    def holds(self, token: str) -> bool:
        """Whether a save may name ``AsSaved(token)``: the last save wrote or named it, or
        the snapshot ``adopt`` was given holds it."""
        return token in self._kept

    def adopt(self, snapshot: Snapshot) -> None:
        """A start restored ``snapshot``: if it is one of this store's, hold its kept arrays
        and its arrays' digests as if this process had saved it, so that the first
        snapshot after a start names the kept ones too (their owners, restored, carry on
        from the same bases), and hashes no array read back that its model keeps as it is
        and marks unchanging (at 1M items a start's first snapshot hashed all 3.4 GiB)."""
        if snapshot.folder is not None and snapshot.folder.parent == self.directory:
            self._kept = dict(snapshot.kept)
            # the arrays the restored models keep as read back and made immutable: they
            # hold the bytes read, as no model changes an array it restores and then
            # declares it unchanging (it changes a copy: ``models/base.py``'s ``own_copy``)
            self._known = {key: (ref, digests) for key, (ref, digests)
                           in snapshot.digests.items()
                           if (array := ref()) is not None and _immutable(array)}

    def save(
        self, offset: int, components: Mapping[str, Mapping[str, Any]],
        meta: Mapping[str, Any],
    ) -> Path:
        """Write a snapshot at ``offset``; chunks already on disk are not written again
        (``last_written_bytes`` and ``last_reused_bytes`` say how much was which). An array
        may be given as ``Kept`` or ``AsSaved`` (``NotHeld`` if not held: nothing is saved)."""
        started = time.time()
        final = self.directory / f"{_PREFIX}{offset:020d}"
        temporary = self.directory / f".tmp-{offset:020d}-{os.getpid()}"
        chunks = self.directory / _CHUNKS
        chunks.mkdir(exist_ok=True)
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir()
        written = reused = 0
        self.last_hashed_bytes = 0
        known: dict[int, tuple[weakref.ref[np.ndarray], list[str]]] = {}
        kept: dict[str, dict[str, Any]] = {}
        try:
            for name, arrays in components.items():
                manifest = {}
                for key, value in arrays.items():
                    if isinstance(value, AsSaved):
                        entry, fresh, old = self._as_saved(value.token, chunks)
                        kept[value.token] = entry
                    else:
                        array = value.array if isinstance(value, Kept) else np.asarray(value)
                        entry, fresh, old = self._save_array(array, chunks, known)
                        if isinstance(value, Kept):  # the manifest names its token
                            entry = kept[value.token] = {**entry, "token": value.token}
                    manifest[key] = entry
                    written, reused = written + fresh, reused + old
                _write_synced(temporary / f"{name}.json", json.dumps(manifest).encode())
            _write_synced(temporary / "meta.json", json.dumps(
                {**meta, "offset": offset, "components": sorted(components),
                 "format": _FORMAT}).encode())
            fsync_directory(chunks)
            fsync_directory(temporary)
        except BaseException:  # e.g. the disk filled up: give back what was written
            shutil.rmtree(temporary, ignore_errors=True)
            raise
        if final.exists():
            shutil.rmtree(final)
        os.rename(temporary, final)
        fsync_directory(self.directory)
        self._prune(started)
        self._known, self._kept = known, kept
        self.last_written_bytes, self.last_reused_bytes = written, reused
        return final

    def _as_saved(self, token: str, chunks: Path) -> tuple[dict[str, Any], int, int]:
        """``_save_array``'s answer for ``AsSaved(token)``: the entry kept, its chunks on
        disk (touched, as a reused chunk is), all of them reused."""
        entry = self._kept.get(token)
        if entry is None:
            raise NotHeld(f"no array kept as {token!r} in the last snapshot")
        for digest in entry["chunks"]:
            path = chunks / f"{digest}.bin"
            try:
                os.utime(path)
            except FileNotFoundError:
                self._kept.pop(token, None)  # the owner's next snapshot gives it whole
                raise NotHeld(f"a chunk of the array kept as {token!r} is gone") from None
        return entry, 0, int(entry["bytes"])

    def _save_array(self, array: np.ndarray, chunks: Path,
                    known: dict[int, tuple[weakref.ref[np.ndarray], list[str]]],
                    ) -> tuple[dict[str, Any], int, int]:
        """One array's manifest entry, and the bytes written and reused for it; an array that
        cannot change goes into ``known`` with its digests (taken from the last save's when
        it was there)."""
        if array.dtype.hasobject or array.dtype.fields is not None:
            raise ValueError(f"a snapshot holds plain arrays, not {array.dtype}")
        flat = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
        immutable = _immutable(array)
        last = self._known.get(id(array)) if immutable else None
        digests_known = last[1] if last is not None and last[0]() is array else None
        digests: list[str] = []
        written = reused = 0
        for n, start in enumerate(range(0, flat.size, CHUNK_BYTES)):
            piece = flat[start:start + CHUNK_BYTES]
            if digests_known is None:
                digest = _digest(piece)
                self.last_hashed_bytes += piece.size
            else:
                digest = digests_known[n]
            digests.append(digest)
            path = chunks / f"{digest}.bin"
            try:
                if path.stat().st_size == piece.size:
                    os.utime(path)  # in use again: not a stale chunk of a failed save
                    reused += piece.size
                    continue
            except FileNotFoundError:
                pass
            temporary = chunks / f".tmp-{digest}-{os.getpid()}"
            _write_synced(temporary, piece)
            os.rename(temporary, path)
            written += piece.size
        if immutable:
            known[id(array)] = (weakref.ref(array), digests)
        entry = {"dtype": array.dtype.str, "shape": list(array.shape), "bytes": int(flat.size),
                 "chunks": digests}
        return entry, written, reused

    def folders(self) -> list[Path]:
        """Complete snapshot folders, oldest first."""
        return self._complete()

    def _complete(self) -> list[Path]:
        return sorted(
            p for p in self.directory.glob(f"{_PREFIX}*") if (p / "meta.json").exists()
        )

    def _prune(self, started: float = 0.0) -> None:
        """Keep the newest ``keep`` snapshots and the chunks they name; chunks touched since
        ``started`` (this save's) are kept whatever happens."""
        for old in self._complete()[: -self.keep]:
            shutil.rmtree(old, ignore_errors=True)
        for stale in self.directory.glob(".tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        chunks = self.directory / _CHUNKS
        if not chunks.is_dir():
            return
        named: set[str] = set()
        for folder in self._complete():
            try:
                named.update(_chunk_names(folder))
            except DamagedSnapshot:
                continue  # its chunks go; it would not read back anyway
        for path in chunks.iterdir():
            if path.name in named:
                continue
            try:
                if path.stat().st_mtime < started or path.name.startswith(".tmp-"):
                    path.unlink()
            except FileNotFoundError:
                pass

    def offsets(self) -> list[int]:
        """Offsets of the complete snapshots on disk, oldest first."""
        return [int(path.name.removeprefix(_PREFIX)) for path in self._complete()]

    def metas(self) -> list[dict[str, Any]]:
        """The ``meta.json`` of each complete snapshot, oldest first, with its ``offset``;
        unreadable ones left out."""
        found = []
        for path in self._complete():
            try:
                meta = json.loads((path / "meta.json").read_text())
            except (OSError, ValueError):
                continue
            if isinstance(meta, dict) and isinstance(meta.get("offset"), int):
                found.append(meta)
        return found

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

    def read_ahead(self) -> ReadAhead:
        """``readable``, its first (newest) snapshot read in a thread from now on."""
        return ReadAhead(self.readable())

    def delete_all(self) -> None:
        """Forget every snapshot (after an erasure, state is rebuilt from the log). Raises
        ``OSError`` when one cannot be deleted (a read-only dir): an erasure must not go on
        while a snapshot holds the user. What another process deleted meanwhile (replicas
        sharing a dir) is no error."""
        self._known, self._kept = {}, {}
        for path in [*self.directory.glob(f"{_PREFIX}*"), self.directory / _CHUNKS]:
            _remove_tree(path)


def _remove_tree(path: Path) -> None:
    """``shutil.rmtree``, where an entry another process deleted first is no error: each
    retry lists what is left (no ``onerror``/``onexc`` hook, whose name differs from
    Python 3.12 on, and the old one warns there)."""
    while True:
        try:
            shutil.rmtree(path)
            return
        except FileNotFoundError:
            if not path.exists():
                return


class ReadAhead:
    """Snapshots newest first, as ``SnapshotStore.readable`` gives them, the newest read in a
    thread of its own as soon as this is made: a start reads it while it opens the event log
    (reading and hashing chunks release the GIL, and so does much of SQLite's work). Iterate
    once; an error of the read is raised there."""

    def __init__(self, snapshots: Iterator[Snapshot]) -> None:
        self._rest = snapshots
        self._first: Snapshot | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._read_first, name="snapshot-read-ahead",
                                        daemon=True)
        self._thread.start()

    def _read_first(self) -> None:
        try:
            self._first = next(self._rest, None)
        except BaseException as error:  # for the caller to meet, in its own thread
            self._error = error

    def __iter__(self) -> Iterator[Snapshot]:
        self._thread.join()
        if self._error is not None:
            raise self._error
        first, self._first = self._first, None  # held by the caller alone from here
        if first is None:
            return
        yield first
        del first
        yield from self._rest


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
    digest = _DIGESTS.get(str(meta.get("format")))
    if digest is not None:
        chunks = path.parent / _CHUNKS
        reads: list[_ChunkRead] = []
        kept: dict[str, dict[str, Any]] = {}
        named: list[tuple[np.ndarray, list[str]]] = []
        components = {name: _read_manifest(path / f"{name}.json", chunks, reads, digest, kept,
                                           named)
                      for name in names}
        _read_chunks(reads)
        digests = {}
        if digest is _digest:  # this format's digests name the chunks a save would write
            digests = {id(array): (weakref.ref(array), chunk_digests)
                       for array, chunk_digests in named}
        return Snapshot(offset, meta, components, path, kept, digests)
    # written before incremental snapshots
    components = {name: _read_arrays(path / f"{name}.npz") for name in names}
    return Snapshot(offset, meta, components, path)


def _write_synced(path: Path, data: bytes | np.ndarray) -> None:
    with open(path, "wb") as file:
        file.write(data if isinstance(data, bytes) else memoryview(data.data))
        file.flush()
        os.fsync(file.fileno())


def _load_manifest(file: Path) -> dict[str, dict[str, Any]]:
    try:
        manifest = json.loads(file.read_bytes())
        if not isinstance(manifest, dict):
            raise TypeError("not an object")
        return manifest
    except FileNotFoundError:
        raise DamagedSnapshot(file, "missing") from None
    except (OSError, ValueError, TypeError) as error:
        raise DamagedSnapshot(file, f"unreadable manifest: {type(error).__name__}: "
                              f"{error}") from None


def _chunk_names(folder: Path) -> set[str]:
    """The chunk files a snapshot folder's manifests name (none for an .npz snapshot)."""
    names: set[str] = set()
    for file in folder.glob("*.json"):
        if file.name == "meta.json":
            continue
        for entry in _load_manifest(file).values():
            names.update(f"{digest}.bin" for digest in entry.get("chunks", []))
    return names


def _read_manifest(file: Path, chunks: Path, reads: list[_ChunkRead],
                   digest_of: Callable[[np.ndarray], str], kept: dict[str, dict[str, Any]],
                   named: list[tuple[np.ndarray, list[str]]]) -> dict[str, np.ndarray]:
    """One component's arrays, each in its own buffer, not filled yet: the chunks to read
    into them (each to be checked against its digest) are appended to ``reads``, which
    ``read_snapshot`` reads for all components at once, side by side. The entries of
    arrays kept under a token go into ``kept``, each array and its digests into ``named``."""
    arrays = {}
    for key, entry in _load_manifest(file).items():
        try:
            dtype, shape = np.dtype(str(entry["dtype"])), tuple(int(n) for n in entry["shape"])
            size, digests = int(entry["bytes"]), [str(d) for d in entry["chunks"]]
            if dtype.hasobject or size != int(np.prod(shape)) * dtype.itemsize:
                raise ValueError(f"{size} bytes cannot be {dtype}{list(shape)}")
        except (KeyError, ValueError, TypeError) as error:
            raise DamagedSnapshot(file, f"array {key!r}: {type(error).__name__}: "
                                  f"{error}") from None
        if len(digests) != -(-size // CHUNK_BYTES):
            raise DamagedSnapshot(file, f"array {key!r}: {len(digests)} chunks cannot hold "
                                  f"{size} bytes")
        # an array of its own (no base), its bytes read in place: a model that keeps it and
        # marks it read-only has an array that cannot change (``_immutable``)
        array = np.empty(shape, dtype)
        buffer = array.reshape(-1).view(np.uint8)
        for n, digest in enumerate(digests):
            start = n * CHUNK_BYTES
            reads.append(_ChunkRead(chunks / f"{digest}.bin", digest,
                                      buffer[start:min(start + CHUNK_BYTES, size)],
                                      f"array {key!r} of {file.name}", digest_of))
        arrays[key] = array
        named.append((array, digests))
        if isinstance(entry.get("token"), str):
            kept[entry["token"]] = entry
    return arrays


@dataclass(frozen=True, slots=True)
class _ChunkRead:
    """One chunk of an array: its file, its digest, and where its bytes go."""

    path: Path
    digest: str
    into: np.ndarray  # a slice of the array's buffer, exactly the chunk's size
    of: str  # which array, for the log line
    digest_of: Callable[[np.ndarray], str]  # as the snapshot's format names chunks

    def check(self) -> None:
        """Read the chunk into its place; ``DamagedSnapshot`` if it is missing, short, long
        or not what its digest says. File reads and hashing release the GIL, so chunks read
        side by side in threads overlap."""
        try:
            with open(self.path, "rb") as stream:
                read = stream.readinto(memoryview(self.into.data))
                extra = stream.read(1)
        except OSError as error:
            reason = "missing" if isinstance(error, FileNotFoundError) else str(error)
            raise DamagedSnapshot(self.path, f"{reason} ({self.of})") from None
        if read != self.into.size or extra or self.digest_of(self.into) != self.digest:
            raise DamagedSnapshot(self.path, f"torn or overwritten: its bytes do not match "
                                  f"its digest ({self.of})")


def _read_chunks(reads: list[_ChunkRead]) -> None:
    """Every chunk read and checked, ``_READERS`` at a time; the first damaged one (in the
    snapshot's order) is raised, after the others have stopped."""
    if len(reads) < 2 or _READERS < 2:
        for read in reads:
            read.check()
        return
    with ThreadPoolExecutor(_READERS, thread_name_prefix="snapshot-read") as pool:
        futures = [pool.submit(read.check) for read in reads]
        failed = None
        for future in futures:
            error = future.exception()
            if error is not None:
                failed = error
                break
        if failed is not None:
            for future in futures:
                future.cancel()
            raise failed


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
