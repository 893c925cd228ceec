"""Fitting the sequence model in a child process, so its training never holds the server's GIL.

A GRU fit is thousands of small PyTorch steps, each a Python loop of autograd and optimiser
calls between short kernels. In a thread of the server those loops hold the interpreter's
lock a large share of the time: on two cores, at 100k items and 4M events, the learner got
the lock only about two thirds of the time it wanted it, and requests waited behind it too.
In a process of its own the fit competes for a core, at the refit threads' niceness (a child
keeps the niceness of the thread that started it), and for nothing else.

The child is ``python -m streamrec.models.sequence_process JOB OUT SERVER_PID``, a fresh interpreter
that imports nothing of the parent's program: a ``multiprocessing`` spawn would import the
parent's main script again, and a script without an ``if __name__ == "__main__"`` guard
then fails every fit. It trains exactly what a thread would (``sequence_training.train``:
seeded, one thread, deterministic on CPU, so the same bytes), draws its curves where the
model would, and writes the weights to ``OUT``. A stop (``SequenceModel.stop_fitting``) kills
the child at once, and a child whose server is gone (killed) stops at its next batch; a child
that ends without a result (killed, out of memory, an error) is a
failed fit with the end of its error output, and the previous fit keeps serving.
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import BinaryIO

import numpy as np

import streamrec
from streamrec.models.base import FitStopped
from streamrec.models.sequence_config import SequenceConfig, TrainingData
from streamrec.types import FloatArray

_POLL_S = 0.2
_PIECE_BYTES = 8 * 2**20  # the job is written in pieces this size, a stop heard between
_ERROR_TAIL = 2_000  # characters of a failed child's error output kept in the message

Weights = dict[str, np.ndarray]

FITS_FOLDER = "fits"  # a fit's job and result: ``<data dir>/fits/sequence-fit-*``
_JOB_PREFIX = "sequence-fit-"

_running: set[int] = set()  # process ids of the fits under way (``running_fits``)
_running_lock = threading.Lock()


def running_fits() -> list[int]:
    """The process ids of the sequence fits under way (a benchmark counts their memory)."""
    with _running_lock:
        return sorted(_running)


class _StopsWriting:
    """A file that writes in pieces and raises ``FitStopped`` between them once ``stopping``
    is set. The job holds the item table (~430 MB at 1M items), written at the refit
    threads' niceness: beside a restart's index builds on two cores that took 15 s, which a
    shutdown waited for (0.7 s at niceness 0)."""

    def __init__(self, stream: BinaryIO, stopping: threading.Event) -> None:
        self._stream, self._stopping = stream, stopping

    def write(self, data: bytes | memoryview) -> int:
        view = memoryview(data).cast("B")
        for start in range(0, len(view), _PIECE_BYTES):
            if self._stopping.is_set():
                raise FitStopped("the sequence fit stopped before its process began")
            self._stream.write(view[start:start + _PIECE_BYTES])
        return len(view)


def fit_in_child(data: TrainingData, config: SequenceConfig, curves_dir: Path | None,
                 stopping: threading.Event, work_dir: Path | None = None
                 ) -> tuple[Weights, FloatArray]:
    """``sequence_training.train(data, config)`` run in a child process: the weights and
    curves. Raises ``FitStopped`` once ``stopping`` is set (the child is killed), and
    ``RuntimeError`` if the fit failed or its process ended without a result. The job and
    its result are files in a folder made under ``work_dir`` (the server's data dir: the
    system's temp dir may be small or read-only in a container), removed after."""
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=_JOB_PREFIX, dir=work_dir) as folder:
        job, out, errors = (Path(folder) / name for name in ("job.pickle", "fit.pickle",
                                                              "stderr.txt"))
        with job.open("wb") as stream:
            pickle.dump((data, config, curves_dir), _StopsWriting(stream, stopping),
                        protocol=pickle.HIGHEST_PROTOCOL)
        package_root = str(Path(streamrec.__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [package_root, *filter(None, [os.environ.get("PYTHONPATH")])])}
        with errors.open("wb") as error_output:
            process = subprocess.Popen(
                [sys.executable, "-m", "streamrec.models.sequence_process", str(job), str(out),
                 str(os.getpid())],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=error_output,
                env=env)
        with _running_lock:
            _running.add(process.pid)
        try:
            while True:
                try:
                    code = process.wait(_POLL_S)
                    break
                except subprocess.TimeoutExpired:
                    if stopping.is_set():
                        stopped = FitStopped("the sequence fit stopped: its process was ended")
                        raise stopped from None
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            with _running_lock:
                _running.discard(process.pid)
        if code != 0 or not out.exists():
            tail = errors.read_text(errors="replace").strip()[-_ERROR_TAIL:]
            raise RuntimeError(f"the sequence fit's process ended with exit code {code} and "
                               f"no result: {tail or 'no error output'}")
        with out.open("rb") as stream:
            weights, curves = pickle.load(stream)
        return weights, curves


def sweep_leftover_fits(data_dir: Path) -> int:
    """Remove the job folders of fits no server is waiting for (how many were removed).

    A server removes a fit's folder when the fit ends, and a child whose server was killed
    removes its own; a server killed while its child was starting leaves one behind. Call
    only holding the data dir's lock (``storage/dir_lock.py``): then no server in another
    process is fitting in this directory, and an orphaned child, if one still runs, ends
    at its next batch whatever happens to its folder."""
    folder = data_dir / FITS_FOLDER
    if not folder.is_dir():
        return 0
    leftovers = [path for path in folder.iterdir() if path.name.startswith(_JOB_PREFIX)]
    for path in leftovers:
        shutil.rmtree(path, ignore_errors=True)
    return len(leftovers)


def _main(job: Path, out: Path, server: int) -> None:  # pragma: no cover - in the child
    """``server``: the parent's process id, given (not read here: the server may be gone
    before this interpreter has started)."""
    from streamrec.models.sequence_training import train

    with job.open("rb") as stream:
        data, config, curves_dir = pickle.load(stream)

    def progress(what: str, done: int, total: int) -> None:  # after every batch
        if os.getppid() != server:  # the server is gone (kill -9): no one wants the fit,
            shutil.rmtree(job.parent, ignore_errors=True)  # and no one removes its folder
            raise SystemExit(f"the server's process ended; the fit stops at {what}")

    fitted = train(data, config, progress, None, curves_dir)
    partial = out.with_suffix(".partial")
    with partial.open("wb") as sink:
        pickle.dump(fitted, sink, protocol=pickle.HIGHEST_PROTOCOL)
    partial.replace(out)  # whole or absent: a child killed while writing leaves no result


if __name__ == "__main__":  # pragma: no cover - the child
    _main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]))
