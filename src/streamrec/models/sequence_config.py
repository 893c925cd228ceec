"""The sequence model's settings and what a refit takes: shared by the model (serving,
numpy) and its training (PyTorch), which import nothing of each other at import time."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field


class SequenceConfig(BaseModel):
    enabled: bool = Field(default=True, description="Refit when due (needs the 'deep' extra: "
                          "torch); off, or without torch, the source stays silent.")
    dimensions: int = Field(default=64, ge=4, le=1024)
    context: int = Field(default=20, ge=1, le=500, description="Latest items the encoder reads.")
    content_buckets: int = Field(default=2**14, ge=16, le=2**22,
                                 description="Hashed content tokens' embedding rows.")
    content_tokens: int = Field(default=32, ge=1, le=256, description="Tokens kept per item.")
    negatives: int = Field(default=512, ge=1, description="Sampled per batch (logQ-corrected).")
    sampling_power: float = Field(default=0.75, ge=0.0, le=1.0,
                                  description="Negatives drawn with probability ~ count^power.")
    dropout: float = Field(default=0.2, ge=0.0, lt=1.0)
    id_dropout: float = Field(default=0.2, ge=0.0, le=1.0, description="Share of items whose "
                              "own vector is dropped in a batch, so content learns alone.")
    learning_rate: float = Field(default=3e-3, gt=0.0)
    weight_decay: float = Field(default=0.0, ge=0.0, description="On the GRU and output "
                                "layer; with sparse_embeddings, not on the embedding tables.")
    sparse_embeddings: bool = Field(
        default=True, description="Each batch updates only the item and content rows it "
        "touched (sparse gradients, lazy Adam): a batch's cost does not grow with the "
        "catalogue. Off: dense Adam over every row, every batch.")
    batch_size: int = Field(default=128, ge=1)
    max_epochs: int = Field(default=8, ge=1)
    patience: int = Field(default=1, ge=0, description="Epochs without a better held-out "
                          "NDCG@10 before stopping (the best epoch's weights are kept).")
    held_out_share: float = Field(default=0.1, gt=0.0, lt=1.0,
                                  description="The log's newest share: early stopping only.")
    held_out_queries: int = Field(default=2_000, ge=10)
    max_training_events: int = Field(default=1_000_000, ge=1_000,
                                     description="The newest positive events kept to train on.")
    refit_min_events: int = Field(default=5_000, ge=1, description="No refit before this many.")
    refit_growth: float = Field(default=0.5, gt=0.0, description="Refit when new events "
                                "reach this share of the fitted.")
    warm_start: bool = True
    separate_process: bool = Field(
        default=True, description="The server fits in a child process, so a fit's "
        "Python work never holds the server's interpreter lock (learning and requests wait "
        "behind it otherwise). Off: in a thread of the server.")
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="'auto': CUDA when torch sees one, else CPU.")
    seed: int = 0


@dataclass(frozen=True)
class TrainingData:
    """What a refit fits, taken at its ``$refit-begin``: the positive events in log order,
    the items' content tokens, and the fit it warm-starts from (None: from scratch)."""

    users: npt.NDArray[np.int32]
    items: npt.NDArray[np.int32]
    tokens: npt.NDArray[np.int32]
    previous: Mapping[str, np.ndarray] | None


Progress = Callable[[str, int, int], None]  # (what, done, total) for a progress bar
EpochReport = Callable[[int, Mapping[str, float]], None]  # (epoch, figures)
