"""Training curves of the sequence model, per refit: TensorBoard event files and a PNG.

Each fit is a run under the curves directory (``<data dir>/tensorboard/``), named by when it
started and how many events it trains on, so ``tensorboard --logdir <data dir>/tensorboard``
shows every refit side by side: the training loss, the held-out HR@10 and NDCG@10 (the
early-stopping measure) and the training throughput per epoch. The same figures are drawn in
``<run>/curves.png`` and ``latest.png`` beside the runs, for those who would rather look at a
picture than start TensorBoard. Either writer is skipped when its package is missing
(tensorboard: the 'deep' extra; matplotlib: 'eval' or 'test'): curves are a view, never a
reason for a refit to fail.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_TAGS = {"loss": "train/loss", "hr@10": "held_out/hr@10", "ndcg@10": "held_out/ndcg@10",
         "events_per_s": "train/events_per_s"}


class CurveWriter:
    def __init__(self, directory: Path, events: int) -> None:
        self.directory = directory
        self.run = directory / f"sequence-{time.strftime('%Y%m%d-%H%M%S')}-{events}-events"
        self.run.mkdir(parents=True, exist_ok=True)
        self.epochs: list[dict[str, float]] = []
        self._board: Any = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self._board = SummaryWriter(log_dir=str(self.run))
        except ImportError:  # tensorboard not installed: the PNG only
            log.info("tensorboard is not installed: the sequence model's curves go to PNG only")

    def epoch(self, epoch: int, figures: Mapping[str, float]) -> None:
        self.epochs.append(dict(figures))
        if self._board is not None:
            for name, value in figures.items():
                self._board.add_scalar(_TAGS.get(name, name), value, epoch + 1)
            self._board.flush()
        self._draw()

    def close(self) -> None:
        if self._board is not None:
            self._board.close()

    def _draw(self) -> None:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            return
        epochs = list(range(1, len(self.epochs) + 1))
        figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
        left.plot(epochs, [e["loss"] for e in self.epochs], marker="o")
        left.set(title="training loss (sampled softmax)", xlabel="epoch")
        for name in ("hr@10", "ndcg@10"):
            right.plot(epochs, [e[name] for e in self.epochs], marker="o", label=name.upper())
        right.set(title="held-out tail", xlabel="epoch")
        right.legend()
        figure.suptitle(self.run.name, fontsize=9)
        figure.tight_layout()
        png = self.run / "curves.png"
        figure.savefig(png, dpi=90)
        plt.close(figure)
        shutil.copyfile(png, self.directory / "latest.png")
