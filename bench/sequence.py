"""The sequence model served fast: quantized item codes, a quantized encoder, and what each
costs in quality. Never collected by pytest; results go to RESULTS.md.

1. Index: item embeddings in faiss with 8-bit scalar-quantized codes (flat SQ8, and IVF-SQ8
   as the engine builds for the sequence source at or above ``ann.min_items``) against exact
   float32 search (IndexFlatIP), at ``--items`` (100k and 1M): memory of the index, recall@10
   of the exact top 10, and single-thread search latency. The vectors are synthetic (clusters
   in 64 dimensions plus the model's shift column), as no log here has 1M items.
2. Encoder: the model trained on ``--data`` (its first 90%), one user vector per request
   from the latest 20 items: numpy float32 (what the engine serves), torch float32, torch
   dynamic int8 (``quantize_dynamic`` of the GRU and the output layer), ONNX Runtime when
   installed; latency per request (batch 1) and HR@10 on the log's last 10% with each.
3. HR@10 with candidates from the SQ8 index of the trained item vectors against exact.
4. Training throughput: the fit's events per second per epoch (CPU, one thread; CUDA when
   a GPU is at hand: ``--device cuda``).
5. ``--train N``: training at N items (a synthetic world of ``--train-events`` events): per
   epoch, events per second and held-out NDCG@10, with lazy Adam on the embedding tables
   (the default, ``sparse_embeddings``) and with dense Adam over every row, in one run.
6. ``--serve N``: recommendation latency in process at N items (a synthetic world of
   ``--serve-events`` events, the model fitted in 2 epochs: latency does not depend on
   quality) with the sequence source serving and silent, rounds alternating in one run.

    python bench/sequence.py [--items 100000 1000000] [--data PATH] [--device cpu]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import common  # noqa: E402,F401  (pins BLAS to one thread before numpy loads)
import faiss  # noqa: E402
import numpy as np  # noqa: E402

from streamrec.evaluation.datasets import load_log  # noqa: E402
from streamrec.models.sequence import SequenceModel, encode  # noqa: E402
from streamrec.models.sequence_config import SequenceConfig  # noqa: E402
from streamrec.types import EventBatch  # noqa: E402

faiss.omp_set_num_threads(1)


def clustered(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    centres = rng.normal(size=(max(n // 100, 10), dim)).astype(np.float32)
    vectors = centres[rng.integers(0, centres.shape[0], n)]
    vectors += 0.5 * rng.normal(size=vectors.shape).astype(np.float32)
    return np.hstack([vectors, np.ones((n, 1), np.float32)])


def index_memory(index: Any) -> int:
    return int(faiss.serialize_index(index).nbytes)


def timed(search: Any, queries: np.ndarray) -> tuple[np.ndarray, list[float]]:
    found, seconds = [], []
    for query in queries:
        started = time.perf_counter()
        found.append(search(query))
        seconds.append(time.perf_counter() - started)
    return np.array(found), seconds


def top10(index: Any, queries: np.ndarray, nprobe: int | None = None) -> tuple[np.ndarray, float]:
    if nprobe is not None:
        faiss.extract_index_ivf(index).nprobe = nprobe
    found, seconds = timed(lambda q: index.search(q.reshape(1, -1), 10)[1][0], queries)
    return found, float(np.percentile(seconds, 50) * 1e3)


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact, strict=True)]))


def index_part(n: int, n_queries: int, probes: list[int], flat_ivf: bool) -> None:
    """The engine's index (ranking/ann.py's VectorIndex, its default settings) against exact
    float32 search, then the same cells at other probes, and references."""
    from streamrec.ranking.ann import ANNConfig, VectorIndex

    rng = np.random.default_rng(0)
    vectors = clustered(n, 64, rng)
    users = vectors[rng.integers(0, n, n_queries), :-1] + 0.3 * rng.normal(
        size=(n_queries, 64)).astype(np.float32)
    shift = np.linalg.norm(users, axis=1) * np.linalg.norm(vectors[:, :-1], axis=1).max()
    queries = np.ascontiguousarray(np.hstack([users, shift[:, None]]).astype(np.float32))
    exact = faiss.IndexFlatIP(65)
    exact.add(vectors)
    truth, exact_ms = top10(exact, queries)
    base = index_memory(exact)
    print(f"\n{n:,} items x 65 dims: exact float32 {base / 2**20:.1f} MiB, "
          f"{exact_ms:.2f} ms/query (p50)")
    nothing = np.zeros(0, np.int64)
    config = ANNConfig()
    for factory in ("IVF{lists},SQ8", *(["IVF{lists},Flat"] if flat_ivf else [])):
        started = time.perf_counter()
        # as the engine builds the sequence model's (for the Flat row: its cells, float32)
        engine = VectorIndex(vectors, config, factory, config.probe_shares["sequence"])
        build_s = time.perf_counter() - started
        default = engine.probes
        for nprobe in (default, *[p for p in probes if p != default]):
            engine._probes = nprobe  # the same cells, visited more or less
            found, seconds = timed(lambda q, index=engine: np.pad(
                index.search(q, 10, nothing), (0, 10), constant_values=-1)[:10], queries)
            label = "(engine default)" if nprobe == default else ""
            print(f"  {factory.format(lists=config.lists_for(n)):<16} {nprobe:>4} probes "
                  f"{label:<16}: {engine.memory / 2**20:7.1f} MiB "
                  f"({base / engine.memory:4.2f}x less), recall@10 {recall(found, truth):.3f}, "
                  f"p50 {np.percentile(seconds, 50) * 1e3:.2f} ms, "
                  f"p99 {np.percentile(seconds, 99) * 1e3:.2f} ms/query, built in {build_s:.1f} s")
            if factory.endswith("Flat"):
                break
    if n <= 200_000:  # a pass over every code: slow at 1M
        index = faiss.index_factory(65, "SQ8", faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
        index.add(vectors)
        found, ms = top10(index, queries)
        memory = index_memory(index)
        print(f"  SQ8 (flat codes)                        : {memory / 2**20:7.1f} MiB "
              f"({base / memory:4.2f}x less), recall@10 {recall(found, truth):.3f}, "
              f"p50 {ms:.2f} ms/query")


def held_out(data: str, context: int) -> tuple[Any, int, list[tuple[np.ndarray, int]]]:
    log = load_log(data)
    events = log.events
    cut = int(len(events) * 0.9)
    liked = events.weights > 0
    by_user: dict[int, list[int]] = {}
    queries = []
    for position in range(len(events)):
        if not liked[position]:
            continue
        user, item = int(events.users[position]), int(events.items[position])
        history = by_user.setdefault(user, [])
        if position >= cut and history:
            queries.append((np.array(history[-context:], dtype=np.int64), item))
        history.append(item)
    step = max(1, len(queries) // 2000)
    return log, cut, queries[::step]


def hr_at_10(user_vectors: np.ndarray, vectors: np.ndarray, targets: np.ndarray) -> float:
    scores = user_vectors @ vectors.T
    own = scores[np.arange(targets.size), targets]
    return float(np.mean((scores > own[:, None]).sum(axis=1) < 10))


def encoder_part(data: str, device: str) -> None:
    import torch

    torch.set_num_threads(1)
    config = SequenceConfig(device=device)  # type: ignore[arg-type]
    log, cut, queries = held_out(data, config.context)
    events = log.events
    model = SequenceModel(config)
    index = {item_id: i for i, item_id in enumerate(events.item_ids)}
    model.learn_items([(index[item.item_id], item) for item in log.items
                       if item.item_id in index])
    model.learn(EventBatch(events.users[:cut], events.items[:cut], events.weights[:cut],
                           events.timestamps[:cut]))
    speeds: list[float] = []
    model.epoch_report = lambda epoch, figures: speeds.append(figures["events_per_s"])
    started = time.perf_counter()
    model.refit()
    print(f"\ntrained on {cut:,} events of {data} ({device}) in "
          f"{time.perf_counter() - started:.0f} s, {len(speeds)} epochs: "
          f"{np.median(speeds):,.0f} events/s per epoch (median)")
    weights = safetensors_weights(model)
    vectors = model.item_vectors()[:, :-1]
    n = vectors.shape[0]
    queries = [(h[h < n], t) for h, t in queries if t < n and (h < n).any()]
    targets = np.array([t for _, t in queries])
    net = torch_encoder(weights)
    inputs = [torch.from_numpy(vectors[h]).unsqueeze(0) for h, _ in queries]
    int8 = torch.ao.quantization.quantize_dynamic(net, {torch.nn.GRU, torch.nn.Linear},
                                                  dtype=torch.qint8)
    runners = {"numpy float32 (served)": lambda h, x: encode(weights, vectors[h]),
               "torch float32": lambda h, x: run_torch(net, x),
               "torch dynamic int8": lambda h, x: run_torch(int8, x)}
    onnx = onnx_runner(net)
    if onnx is not None:
        runners["ONNX Runtime float32"] = lambda h, x: onnx(x.numpy())
    for name, run in runners.items():
        seconds, users = [], []
        for (history, _), x in zip(queries, inputs, strict=True):
            started = time.perf_counter()
            users.append(run(history, x))
            seconds.append(time.perf_counter() - started)
        hr = hr_at_10(np.array(users, dtype=np.float32), vectors, targets)
        print(f"  encoder {name:<24} p50 {np.percentile(seconds, 50) * 1e6:6.0f} us, "
              f"p99 {np.percentile(seconds, 99) * 1e6:6.0f} us, HR@10 {hr:.4f} "
              f"({len(queries):,} held-out queries)")
    users = np.array([encode(weights, vectors[h]) for h, _ in queries], dtype=np.float32)
    shift = np.linalg.norm(users, axis=1) * np.linalg.norm(vectors, axis=1).max()
    served = model.item_vectors()
    sq8 = faiss.index_factory(served.shape[1], "SQ8", faiss.METRIC_INNER_PRODUCT)
    sq8.train(served)
    sq8.add(served)
    found, _ = top10(sq8, np.hstack([users, shift[:, None]]).astype(np.float32))
    hits = float(np.mean([t in set(f) for f, t in zip(found, targets, strict=True)]))
    print(f"  candidates from SQ8 codes of the trained vectors: HR@10 {hits:.4f} vs exact "
          f"{hr_at_10(users, vectors, targets):.4f}")


def safetensors_weights(model: SequenceModel) -> dict[str, np.ndarray]:
    from streamrec.storage.artefacts import safetensors_arrays

    return safetensors_arrays(model.state()["weights"].tobytes())


def torch_encoder(weights: dict[str, np.ndarray]) -> Any:
    import torch

    dim = weights["output_bias"].shape[0]

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gru = torch.nn.GRU(dim, dim, batch_first=True)
            self.output = torch.nn.Linear(dim, dim)

        def forward(self, x: Any) -> Any:
            states, _ = self.gru(x)
            return self.output(states[:, -1])

    net = Net()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(net.gru, f"{name}_l0").copy_(torch.from_numpy(weights[f"gru_{name}"]))
        net.output.weight.copy_(torch.from_numpy(weights["output_weight"]))
        net.output.bias.copy_(torch.from_numpy(weights["output_bias"]))
    return net.eval()


def run_torch(net: Any, x: Any) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return np.asarray(net(x)[0].numpy())


def onnx_runner(net: Any) -> Any:
    try:
        import onnxruntime
        import torch
    except ImportError:
        print("  (onnxruntime not installed: no ONNX row)")
        return None
    path = Path(tempfile.mkdtemp()) / "encoder.onnx"
    example = torch.zeros(1, 20, net.output.in_features)
    try:
        torch.onnx.export(net, (example,), str(path), input_names=["x"], output_names=["u"],
                          dynamic_axes={"x": {1: "steps"}}, dynamo=False)
    except Exception as error:  # an exporter missing its own dependencies
        print(f"  (ONNX export failed: {error})")
        return None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options,
                                           providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {"x": x})[0][0]


def serve_part(n_items: int, n_events: int, queries: int, profile: bool = False) -> None:
    from common import events_of, items_of, percentiles, world

    from streamrec.engine.engine import Engine
    from streamrec.engine.recommender import Recommender
    from streamrec.settings import Settings

    config = world(n_items, n_events)
    data_dir = Path(tempfile.mkdtemp(prefix="streamrec-bench-")) / "data"
    settings = Settings(data_dir=data_dir, models={  # type: ignore[arg-type]
        "sequence": {"max_epochs": 2, "patience": 0, "device": "cpu"}})
    engine = Engine.open(settings, start_learner=False)
    engine.upsert_items(items_of(config))
    events = events_of(config)
    for start in range(0, len(events), 10_000):
        engine.log.append(events[start:start + 10_000])
    engine.learner.catch_up()
    started = time.perf_counter()
    for model in engine.state.refittables():
        model.refit()
    print(f"\nworld: {n_items:,} items, {n_events:,} events; ALS and sequence fitted in "
          f"{time.perf_counter() - started:.0f} s")
    sequence = engine.state.models["sequence"]
    assert isinstance(sequence, SequenceModel) and sequence.is_fitted
    weights = sequence._weights
    users = [f"u{u}" for u in np.random.default_rng(1).integers(0, config.n_users, 500)]
    recommender = Recommender(engine.state)
    for _ in range(200):  # warm-up; asks for the ANN indexes (ALS, and the sequence's SQ8)
        recommender.for_user(users[_ % len(users)], 10, now=time.time())
    engine.state.ranker.indexes.wait()
    rounds: dict[str, list[float]] = {"with the sequence source": [],
                                      "sequence silent (no fit)": []}
    for round_ in range(4):
        for label, on in (("with the sequence source", True),
                          ("sequence silent (no fit)", False)):
            sequence._weights = weights if on else None
            for n in range(queries // 4):
                begun = time.perf_counter()
                recommender.for_user(users[(round_ * 97 + n) % len(users)], 10, now=time.time())
                rounds[label].append(time.perf_counter() - begun)
    for label, seconds in rounds.items():
        print(f"  in process, {label:<26} {percentiles(seconds)}")
    if profile:  # where a request's time goes with the model on
        import cProfile
        import pstats

        sequence._weights = weights
        profiler = cProfile.Profile()
        profiler.enable()
        for n in range(queries // 4):
            recommender.for_user(users[n % len(users)], 10, now=time.time())
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    engine.close()


def train_part(n_items: int, n_events: int, epochs: int) -> None:
    from common import items_of, world

    from streamrec.datagen import generate_events

    config = world(n_items, n_events, None)
    items = items_of(config)
    index = {item.item_id: i for i, item in enumerate(items)}
    users: dict[str, int] = {}
    user_ids, item_ids = [], []
    for chunk in generate_events(config):
        for event in chunk:
            user_ids.append(users.setdefault(event.user_id, len(users)))
            item_ids.append(index[event.item_id])
    batch = EventBatch(np.array(user_ids, np.int32), np.array(item_ids, np.int32),
                       np.ones(len(user_ids)), np.arange(len(user_ids), dtype=np.float64))
    print(f"\ntraining at {n_items:,} items, {len(user_ids):,} events, {epochs} epochs "
          "(no early stop), CPU, one thread:")
    for sparse in (True, False):
        model = SequenceModel(SequenceConfig(max_epochs=epochs, patience=epochs, device="cpu",
                                             sparse_embeddings=sparse))
        model.learn_items(list(enumerate(items)))
        model.learn(batch)
        speeds: list[float] = []

        def note(epoch: int, figures: Any, into: list[float] = speeds) -> None:
            into.append(figures["events_per_s"])

        model.epoch_report = note
        started = time.perf_counter()
        model.refit()
        ndcg = " ".join(f"{value:.4f}" for value in model.curves[:, 2])
        print(f"  {'lazy Adam on embeddings' if sparse else 'dense Adam, every row':<24} "
              f"{time.perf_counter() - started:6.1f} s, {np.median(speeds):,.0f} events/s per "
              f"epoch (median); held-out NDCG@10 by epoch: {ndcg}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared"
                                              / "datasets" / "movielens-latest-small"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--probes", type=int, nargs="*", default=[64],
                        help="IVF cells visited besides the engine's default (ann.probes, "
                        "at least ann.probe_share of the cells).")
    parser.add_argument("--no-flat-ivf", action="store_true")
    parser.add_argument("--no-encoder", action="store_true")
    parser.add_argument("--train", type=int, default=0, help="Items of the training world.")
    parser.add_argument("--train-events", type=int, default=300_000)
    parser.add_argument("--train-epochs", type=int, default=6)
    parser.add_argument("--serve", type=int, default=0, help="Items of the latency world.")
    parser.add_argument("--serve-events", type=int, default=300_000)
    parser.add_argument("--serve-queries", type=int, default=2_000)
    parser.add_argument("--profile", action="store_true",
                        help="With --serve: profile a quarter of the queries, model on.")
    args = parser.parse_args()
    if args.train:
        train_part(args.train, args.train_events, args.train_epochs)
    if args.serve:
        serve_part(args.serve, args.serve_events, args.serve_queries, args.profile)
    for n in args.items:
        index_part(n, args.queries, args.probes, not args.no_flat_ivf)
    if not args.no_encoder:
        encoder_part(args.data, args.device)


if __name__ == "__main__":
    main()
