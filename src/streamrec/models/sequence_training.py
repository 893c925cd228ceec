"""Training the sequence model (models/sequence.py) with PyTorch: the one module that needs it.

Each user's positive events, in log order (repeats in a row as one), are cut into windows of
``context + 1`` items; the GRU reads each window from an empty state and predicts every next
item in it (teacher forcing, as GRU4Rec trains). The loss is a sampled softmax: per batch,
``negatives`` items drawn with probability ~ count^``sampling_power``, every logit corrected by
the log of its item's sampling probability (logQ: Bengio & Senécal 2008; Yi et al.,
"Sampling-Bias-Corrected Neural Modeling for Large Corpus Item Recommendations", RecSys 2019),
sampled items equal to the target masked out. Dropout on the GRU's inputs; id dropout (an
item's own vector dropped for a share of the items of each batch) so the content part of the
item tower learns to stand alone for new items.

The newest ``held_out_share`` of the events is not trained on: after each epoch the model
ranks, for up to ``held_out_queries`` of them, the item the user took among all items from
their items before it (HR@10, NDCG@10), and training stops after ``patience`` epochs without
a better NDCG@10, keeping the best epoch's weights. A refit starts from the previous fit's
weights (warm start; new items' vectors are drawn fresh).

Deterministic on CPU: seeded (torch, the sampler, the shuffle), one thread, deterministic
algorithms; so a lost artefact is fitted again to the same bytes. On CUDA (``device``) it is
not guaranteed, which is why a replay loads the artefact the log names instead.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from streamrec.models.sequence_config import EpochReport, Progress, SequenceConfig, TrainingData
from streamrec.types import FloatArray

try:
    import torch
    from torch import nn
except ImportError as error:  # pragma: no cover - the message is the point
    raise ImportError("training the sequence model needs torch: pip install "
                      "'streamrec[deep]' (torch==2.13.0, the CPU wheel)") from error


class SequenceNet(nn.Module):
    """Item tower (own vector + mean of content token vectors) and GRU encoder; the last
    item row and the last content row are padding (always zero)."""

    def __init__(self, tokens: np.ndarray, buckets: int, config: SequenceConfig) -> None:
        super().__init__()
        n_items, dim = tokens.shape[0], config.dimensions
        self.pad = n_items
        sparse = config.sparse_embeddings
        self.items = nn.Embedding(n_items + 1, dim, padding_idx=n_items, sparse=sparse)
        self.content = nn.Embedding(buckets + 1, dim, padding_idx=buckets, sparse=sparse)
        self.gru = nn.GRU(dim, dim, batch_first=True)
        self.output = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(config.dropout)
        padded = np.vstack([tokens, np.full((1, tokens.shape[1]), -1)]).astype(np.int64)
        counts = (padded >= 0).sum(axis=1, keepdims=True)
        padded[padded < 0] = buckets
        self.tokens: torch.Tensor
        self.counts: torch.Tensor
        self.register_buffer("tokens", torch.from_numpy(padded))
        self.register_buffer("counts", torch.from_numpy(np.maximum(counts, 1)).float())
        with torch.no_grad():
            for table in (self.items, self.content):
                table.weight.normal_(0.0, 0.05)
                table.weight[-1].zero_()

    def tower(self, ids: torch.Tensor, keep_own: torch.Tensor | None = None) -> torch.Tensor:
        content = self.content(self.tokens[ids]).sum(-2) / self.counts[ids]
        own = self.items(ids)
        if keep_own is not None:
            own = own * keep_own[ids].unsqueeze(-1)
        vectors: torch.Tensor = own + content
        return vectors

    def encode(self, inputs: torch.Tensor) -> torch.Tensor:
        """(batch, steps, dim) item vectors -> (batch, steps, dim) user vectors."""
        states, _ = self.gru(self.dropout(inputs))
        out: torch.Tensor = self.output(states)
        return out


def train(data: TrainingData, config: SequenceConfig, progress: Progress | None = None,
          epoch_report: EpochReport | None = None, curves_dir: Path | None = None
          ) -> tuple[dict[str, np.ndarray], FloatArray]:
    """The fitted weights (``sequence.WEIGHT_NAMES``) and per-epoch curves (loss, held-out
    HR@10 and NDCG@10); ``epoch_report`` also hears the training events per second. With a
    ``curves_dir``, each epoch's figures are drawn there too (``sequence_curves.py``)."""
    writer = None
    if curves_dir is not None:
        from streamrec.models.sequence_curves import CurveWriter

        writer = CurveWriter(curves_dir, data.users.shape[0])
        epoch_report = _both(writer.epoch, epoch_report)
    try:
        return _train(data, config, progress, epoch_report)
    finally:
        if writer is not None:
            writer.close()


def _both(first: EpochReport, second: EpochReport | None) -> EpochReport:
    def report(epoch: int, figures: Mapping[str, float]) -> None:
        first(epoch, figures)
        if second is not None:
            second(epoch, figures)

    return report


def _train(data: TrainingData, config: SequenceConfig, progress: Progress | None,
           epoch_report: EpochReport | None) -> tuple[dict[str, np.ndarray], FloatArray]:
    device = _device(config)
    torch.manual_seed(config.seed)
    n_items = data.tokens.shape[0]
    windows, held_out, cut = _examples(data, config, n_items)
    if windows.shape[0] == 0:
        raise ValueError("no user has two positive events to learn a sequence from")
    net = SequenceNet(data.tokens, config.content_buckets, config)
    if data.previous is not None:
        _warm_start(net, data.previous, config)
    net.to(device)
    logq, sampling = _sampling(data.items[:cut], n_items, config.sampling_power, device)
    optimiser = _optimiser(net, config)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    shuffle = np.random.default_rng(config.seed)
    best: tuple[float, dict[str, torch.Tensor]] = (-1.0, {})
    curves: list[list[float]] = []
    stale = 0
    for epoch in range(config.max_epochs):
        started = time.perf_counter()
        loss = _epoch(net, optimiser, windows[shuffle.permutation(windows.shape[0])], logq,
                      sampling, generator, config, device, epoch, progress)
        seconds = time.perf_counter() - started
        hr, ndcg = _held_out_quality(net, held_out, device)
        curves.append([loss, hr, ndcg])  # no timing: the artefact must be reproducible
        if epoch_report is not None:
            epoch_report(epoch, {"loss": loss, "hr@10": hr, "ndcg@10": ndcg,
                                 "events_per_s": cut / max(seconds, 1e-9)})
        if ndcg > best[0]:
            best, stale = (ndcg, copy.deepcopy(net.state_dict())), 0
        else:
            stale += 1
            if stale > config.patience:
                break
    net.load_state_dict(best[1])
    return _weights_of(net), np.array(curves, dtype=np.float64)


class _Optimisers:
    """Lazy Adam on the embedding tables (only the rows a batch touched move, so a batch
    costs the same at 10k items as at 1M), Adam on the rest; one ``zero_grad``/``step``."""

    def __init__(self, parts: list[torch.optim.Optimizer]) -> None:
        self.parts = parts

    def zero_grad(self) -> None:
        for part in self.parts:
            part.zero_grad()

    def step(self) -> None:
        for part in self.parts:
            part.step()


def _optimiser(net: SequenceNet, config: SequenceConfig) -> _Optimisers:
    if not config.sparse_embeddings:
        return _Optimisers([torch.optim.Adam(net.parameters(), lr=config.learning_rate,
                                             weight_decay=config.weight_decay)])
    tables = [net.items.weight, net.content.weight]
    rest = [p for p in net.parameters() if all(p is not t for t in tables)]
    return _Optimisers([torch.optim.SparseAdam(tables, lr=config.learning_rate),
                        torch.optim.Adam(rest, lr=config.learning_rate,
                                         weight_decay=config.weight_decay)])


def _device(config: SequenceConfig) -> torch.device:
    # one thread: a refit runs beside serving on a machine of few cores, and the same
    # thread count is part of what makes the CPU result the same on every run
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    wants_cuda = config.device == "cuda" or (config.device == "auto"
                                             and torch.cuda.is_available())
    return torch.device("cuda" if wants_cuda else "cpu")


def _examples(data: TrainingData, config: SequenceConfig, n_items: int
              ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], int]:
    """Training windows (rows of ``context + 1`` items, padded with ``n_items``) from events
    before the held-out tail, the held-out queries (contexts, targets) and the tail's start."""
    n, width = data.users.shape[0], config.context + 1
    cut = n - max(1, int(n * config.held_out_share))
    order = np.argsort(data.users, kind="stable")
    users, items = data.users[order], data.items[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    ends = np.r_[starts[1:], n]
    rows: list[np.ndarray] = []
    tail: list[tuple[int, int]] = []  # (start of its user's events, position in order)
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        trained = start + int(np.searchsorted(order[start:end], cut))
        sequence = _without_repeats(items[start:trained])
        for first in range(0, max(sequence.size - 1, 0), config.context):
            window = sequence[first:first + width]
            if window.size >= 2:
                rows.append(np.pad(window, (0, width - window.size), constant_values=n_items))
        tail.extend((start, position) for position in range(max(trained, start + 1), end))
    chosen = np.linspace(0, len(tail) - 1, min(len(tail), config.held_out_queries)).astype(int) \
        if tail else np.zeros(0, dtype=int)
    contexts = np.full((chosen.size, config.context), n_items, dtype=np.int64)
    targets = np.zeros(chosen.size, dtype=np.int64)
    for row, pick in enumerate(chosen.tolist()):
        start, position = tail[pick]
        recent = _without_repeats(items[max(start, position - 2 * config.context):position])
        recent = recent[-config.context:]
        contexts[row, :recent.size] = recent
        targets[row] = items[position]
    windows = np.array(rows, dtype=np.int64).reshape(-1, width)
    return windows, (contexts, targets), cut


def _without_repeats(items: np.ndarray) -> np.ndarray:
    return items[np.r_[True, items[1:] != items[:-1]]] if items.size > 1 else items


def _sampling(items: np.ndarray, n_items: int, power: float, device: torch.device
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """log Q per item (for the correction) and the sampling weights (Q unnormalised)."""
    counts = np.bincount(items, minlength=n_items + 1).astype(np.float64)[: n_items + 1]
    counts[n_items] = 0.0
    weights = np.where(counts > 0, counts, 0.0) ** power
    q = weights / weights.sum()
    logq = np.log(np.where(q > 0, q, 1.0))
    return (torch.tensor(logq, dtype=torch.float32, device=device),
            torch.tensor(weights, dtype=torch.float32, device=device))


def _epoch(net: SequenceNet, optimiser: _Optimisers, windows: np.ndarray,
           logq: torch.Tensor, sampling: torch.Tensor, generator: torch.Generator,
           config: SequenceConfig, device: torch.device, epoch: int,
           progress: Progress | None) -> float:
    net.train()
    total, count = 0.0, 0
    batches = math.ceil(windows.shape[0] / config.batch_size)
    n_negatives = min(config.negatives, int((sampling > 0).sum()))
    for number in range(batches):
        batch = torch.from_numpy(
            windows[number * config.batch_size:(number + 1) * config.batch_size]).to(device)
        inputs, targets = batch[:, :-1], batch[:, 1:]
        mask = targets != net.pad
        keep_own = (torch.rand(net.pad + 1, generator=generator, device=device)
                    >= config.id_dropout).float()
        users = net.encode(net.tower(inputs, keep_own))[mask]
        positive = targets[mask]
        negatives = torch.multinomial(sampling, n_negatives, replacement=True,
                                      generator=generator)
        positive_logits = (users * net.tower(positive, keep_own)).sum(-1) - logq[positive]
        negative_logits = users @ net.tower(negatives, keep_own).T - logq[negatives]
        negative_logits = negative_logits.masked_fill(
            negatives.unsqueeze(0) == positive.unsqueeze(1), float("-inf"))
        logits = torch.cat([positive_logits.unsqueeze(1), negative_logits], dim=1)
        loss = nn.functional.cross_entropy(
            logits, torch.zeros(logits.shape[0], dtype=torch.long, device=device))
        optimiser.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimiser.step()
        total += float(loss.detach()) * positive.shape[0]
        count += positive.shape[0]
        if progress is not None:
            progress(f"epoch {epoch + 1}", number + 1, batches)
    return total / max(count, 1)


_TOWER_ROWS = 16_384  # items whose vectors are made at once for the held-out figures
_QUALITY_ROWS = 64  # held-out contexts scored at once (320 MiB of scores at 1.28M items;
# 256 at once held 1.3 GiB, and the held-out step peaked 4.3 GiB above the fit's start)


@torch.no_grad()
def _held_out_quality(net: SequenceNet, held_out: tuple[np.ndarray, np.ndarray],
                      device: torch.device) -> tuple[float, float]:
    """HR@10 and NDCG@10 of the held-out next items among all items. Every item's vector is
    made ``_TOWER_ROWS`` items at a time: in one pass, the content rows of every item's
    tokens (32 x 64 floats each) were gathered at once, 8 GiB at 1M items, and the fit's
    process reached 10 GiB."""
    net.eval()
    contexts, targets = held_out
    if targets.size == 0:
        return 0.0, 0.0
    items = torch.cat([net.tower(torch.arange(start, min(start + _TOWER_ROWS, net.pad),
                                              device=device))
                       for start in range(0, net.pad, _TOWER_ROWS)])
    hits, gains = 0.0, np.zeros(targets.size, dtype=np.float64)
    lengths = (contexts != net.pad).sum(axis=1)
    for start in range(0, targets.size, _QUALITY_ROWS):
        end = start + _QUALITY_ROWS
        context = torch.from_numpy(contexts[start:end]).to(device)
        length = torch.from_numpy(np.maximum(lengths[start:end], 1) - 1).to(device)
        states = net.encode(net.tower(context))
        users = states[torch.arange(context.shape[0], device=device), length]
        scores = users @ items.T
        target = torch.from_numpy(targets[start:end]).to(device)
        own = scores.gather(1, target.unsqueeze(1))
        rank = (scores > own).sum(1).float()
        known = torch.from_numpy(lengths[start:end] > 0).to(device)
        top = (rank < 10) & known
        hits += float(top.sum())
        # summed once, in one order, whatever the slices: the figures choose the best epoch
        gains[start:end] = (top.float() / torch.log2(rank + 2.0)).cpu().numpy()
    return hits / targets.size, float(gains.sum()) / targets.size


def _warm_start(net: SequenceNet, previous: Any, config: SequenceConfig) -> None:
    with torch.no_grad():
        own = torch.from_numpy(np.asarray(previous["item_embeddings"], dtype=np.float32))
        kept = min(own.shape[0], net.pad)
        net.items.weight[:kept] = own[:kept]
        content = np.asarray(previous["content_embeddings"], dtype=np.float32)
        if content.shape[0] == config.content_buckets:
            net.content.weight[:-1] = torch.from_numpy(content)
        gru = dict(net.gru.named_parameters())
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            gru[f"{name}_l0"].copy_(torch.from_numpy(previous[f"gru_{name}"]))
        net.output.weight.copy_(torch.from_numpy(previous["output_weight"]))
        net.output.bias.copy_(torch.from_numpy(previous["output_bias"]))


def _weights_of(net: SequenceNet) -> dict[str, np.ndarray]:
    def array(tensor: torch.Tensor) -> np.ndarray:
        return np.ascontiguousarray(tensor.detach().cpu().numpy().astype(np.float32))

    gru = dict(net.gru.named_parameters())
    return {"item_embeddings": array(net.items.weight[:-1]),
            "content_embeddings": array(net.content.weight[:-1]),
            **{f"gru_{name}": array(gru[f"{name}_l0"])
               for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")},
            "output_weight": array(net.output.weight), "output_bias": array(net.output.bias)}
