"""Fitting the sequence model in a child process, so its training never holds the server's GIL.

A GRU fit is thousands of small PyTorch steps, each a Python loop of autograd and optimiser
calls between short kernels. In a thread of the server those loops hold the interpreter's
lock a large share of the time: on two cores, at 100k items and 4M events, the learner got
the lock only about two thirds of the time it wanted it, and requests waited behind it too.
In a process of its own the fit competes for a core, at the refit threads' niceness (a
spawned child keeps the niceness of the thread that started it), and for nothing else.

The child is spawned (not forked: the server has threads), trains exactly what a thread would
(``sequence_training.train``: seeded, one thread, deterministic on CPU, so the same bytes),
draws its curves where the model would, and sends the weights back through a pipe. A stop
(``SequenceModel.stop_fitting``) ends the child at once; a child that dies without an answer
(killed, out of memory) is a failed fit, and the previous one keeps serving.
"""

from __future__ import annotations

import multiprocessing
import threading
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from streamrec.models.base import FitStopped
from streamrec.models.sequence_config import SequenceConfig, TrainingData
from streamrec.types import FloatArray

_POLL_S = 0.2

Weights = dict[str, np.ndarray]


def fit_in_child(data: TrainingData, config: SequenceConfig, curves_dir: Path | None,
                 stopping: threading.Event) -> tuple[Weights, FloatArray]:
    """``sequence_training.train(data, config)`` run in a spawned process: the weights and
    curves. Raises ``FitStopped`` once ``stopping`` is set (the child is killed), and
    ``RuntimeError`` if the fit failed or its process ended without a result."""
    context = multiprocessing.get_context("spawn")
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(target=_train, args=(sending, data, config, curves_dir),
                              name="streamrec-sequence-fit", daemon=True)
    process.start()
    sending.close()  # the child's end: the parent's copy would keep the pipe open for ever
    try:
        while not receiving.poll(_POLL_S):
            if stopping.is_set():
                raise FitStopped("the sequence fit stopped: its process was ended")
            if not process.is_alive() and not receiving.poll(0):
                raise RuntimeError("the sequence fit's process ended (exit code "
                                   f"{process.exitcode}) without a result")
        try:
            outcome, payload = receiving.recv()
        except EOFError:
            raise RuntimeError("the sequence fit's process ended (exit code "
                               f"{process.exitcode}) without a result") from None
    finally:
        if process.is_alive() and stopping.is_set():
            process.kill()
        process.join()
        receiving.close()
    if outcome != "fitted":
        raise RuntimeError(f"the sequence fit failed in its process: {payload}")
    weights, curves = payload
    return weights, curves


def _train(sending: Connection, data: TrainingData, config: SequenceConfig,
           curves_dir: Path | None) -> None:  # pragma: no cover - runs in the child
    writer = None
    try:
        from streamrec.models.sequence_training import train

        report = None
        if curves_dir is not None:
            from streamrec.models.sequence_curves import CurveWriter

            writer = CurveWriter(curves_dir, data.users.shape[0])
            report = writer.epoch
        sending.send(("fitted", train(data, config, None, report)))
    except BaseException as error:  # told to the parent, which fails the fit
        sending.send(("failed", f"{type(error).__name__}: {error}"))
    finally:
        if writer is not None:
            writer.close()
        sending.close()
