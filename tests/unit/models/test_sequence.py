"""The sequence model: online by construction, content for new items, weights in safetensors,
refits swapped in at their logged place so a replay gives the very same scores."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from streamrec.cli.main import app
from streamrec.engine.engine import Engine
from streamrec.engine.refits import END_TYPE
from streamrec.engine.replay import rebuild_state, state_differences
from streamrec.models.base import FitStopped
from streamrec.models.sequence import (
    WEIGHT_NAMES,
    WEIGHT_PREFIX,
    SequenceModel,
    content_matrix,
    is_trainable,
)
from streamrec.models.sequence_config import SequenceConfig, TrainingData
from streamrec.models.sequence_process import running_fits
from streamrec.settings import Settings
from streamrec.storage.artefacts import ArtefactStore, safetensors_bytes
from streamrec.types import Event, EventBatch, Item, Query

if importlib.util.find_spec("torch") is None:  # the 'deep' extra; CI installs it
    if os.environ.get("CI") == "true":
        pytest.fail("torch is missing: CI installs streamrec[deep] (via the test extra)",
                    pytrace=False)
    pytest.skip("torch (pip install -e '.[deep]') trains the sequence model",
                allow_module_level=True)

T0 = 1_700_000_000.0
SMALL = {"dimensions": 16, "context": 5, "content_buckets": 64, "negatives": 16,
         "batch_size": 32, "max_epochs": 30, "patience": 30, "refit_min_events": 200,
         "learning_rate": 0.05, "device": "cpu"}
NOTHING = np.zeros(0, np.int64)


def two_worlds(users: int = 60, length: int = 12, seed: int = 0) -> EventBatch:
    """Users who stay in one of two categories: items 0-19 ('a') or 20-39 ('b'), walking
    through them in order (so the next item follows from the last)."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(users):
        base, start = 20 * (user % 2), int(rng.integers(20))
        rows.extend((user, base + (start + step) % 20) for step in range(length))
    order = rng.permutation(len(rows))  # interleaved, each user's own order kept below
    rows = [rows[i] for i in np.sort(order)]
    array = np.array(rows, dtype=np.int64)
    n = array.shape[0]
    return EventBatch(array[:, 0], array[:, 1], np.ones(n), T0 + np.arange(n, dtype=float))


def catalogue(n: int = 40) -> list[tuple[int, Item]]:
    return [(i, Item(f"i{i}", {"category": "a" if i < 20 else "b"})) for i in range(n)]


@pytest.fixture(scope="module")
def fitted() -> SequenceModel:
    model = SequenceModel(SequenceConfig(**SMALL))
    model.learn_items(catalogue())
    model.learn(two_worlds())
    model.refit()
    return model


def weights_of(state: dict[str, np.ndarray]) -> np.ndarray:
    """A snapshot's sequence weights as one run of bytes, to compare fits."""
    return np.concatenate([np.ascontiguousarray(state[WEIGHT_PREFIX + name]).view(np.uint8)
                           .reshape(-1) for name in WEIGHT_NAMES])


def query(history: list[int]) -> Query:
    return Query(0, np.array(history, dtype=np.int64), NOTHING, T0)


def test_one_new_event_changes_the_answer_without_a_refit(fitted: SequenceModel) -> None:
    weights = weights_of(fitted.state())
    before = fitted.query_vector(query([1, 2, 3]))
    fitted.learn(EventBatch(np.array([0]), np.array([4]), np.ones(1), np.array([T0])))
    after = fitted.query_vector(query([1, 2, 3, 4]))  # the history the engine would pass
    assert before is not None and after is not None
    assert not np.allclose(before, after)
    assert fitted.recommend(query([1, 2, 3]), 5).items.tolist() != \
        fitted.recommend(query([1, 2, 3, 4]), 5).items.tolist()
    assert np.array_equal(weights_of(fitted.state()), weights)  # no weight was touched


def test_it_learns_what_comes_next(fitted: SequenceModel) -> None:
    found = fitted.recommend(query([21, 22, 23]), 5).items.tolist()
    assert all(item >= 20 for item in found)  # stays in the user's world
    assert 24 in found


def test_an_item_known_only_by_its_content_is_retrieved(fitted: SequenceModel) -> None:
    model = SequenceModel(SequenceConfig(**SMALL))
    model.restore(fitted.state())
    new = 40
    model.learn_items([(new, Item("new", {"category": "b"}))])
    scores = model.dense_scores(query([25, 26, 27]), 41)
    assert scores[new] > 0
    # among the 41 items, above every item of the other world
    assert scores[new] > scores[:20].max()
    assert new in model.recommend(query([25, 26, 27]), 20).items.tolist()
    other = model.dense_scores(query([5, 6, 7]), 41)
    assert other[new] < other[:20].max()


def test_state_round_trips_and_so_does_an_earlier_snapshots_safetensors_blob(
        fitted: SequenceModel) -> None:
    """A snapshot holds the weights as arrays of their own; one written before them held
    one safetensors blob of them, and restores the same fit."""
    state = fitted.state()
    assert state[WEIGHT_PREFIX + "gru_weight_hh"].shape == (48, 16)
    assert "weights" not in state
    weights = {name: state[WEIGHT_PREFIX + name] for name in WEIGHT_NAMES}
    earlier = {key: value for key, value in state.items() if not key.startswith(WEIGHT_PREFIX)
               and key != "curves"}
    earlier["weights"] = np.frombuffer(safetensors_bytes({**weights, "curves": state["curves"]}),
                                       dtype=np.uint8)
    for snapshot in (state, earlier):
        restored = SequenceModel(SequenceConfig(**SMALL))
        restored.restore(snapshot)
        assert np.array_equal(restored.curves, fitted.curves)
        assert np.array_equal(weights_of(restored.state()), weights_of(state))
        for history in ([1, 2], [30, 31, 32, 33]):
            assert np.array_equal(restored.dense_scores(query(history), 40),
                                  fitted.dense_scores(query(history), 40))


def test_an_artefact_is_a_safetensors_file_named_by_its_checksum(
        fitted: SequenceModel, tmp_path: Path) -> None:
    store = ArtefactStore(tmp_path)
    data, _ = fitted.begin_refit()
    state = fitted.state()
    own = {name: state[WEIGHT_PREFIX + name] for name in WEIGHT_NAMES}
    arrays = fitted.fit_arrays(fitted.fitted_from(own))
    saved = store.save("sequence", 9, arrays, "safetensors")
    assert saved.name == "sequence-00000000000000000009.safetensors"
    assert (tmp_path / saved.name).read_bytes()[8:9] == b"{"  # a JSON header, no pickle
    loaded = store.load(saved)
    assert loaded is not None and loaded.keys() == arrays.keys()
    assert all(np.array_equal(loaded[name], arrays[name]) for name in arrays)
    assert data.previous is not None  # a refit warm-starts from the fit serving now


def test_training_is_deterministic() -> None:
    fits = []
    for _ in range(2):
        model = SequenceModel(SequenceConfig(**{**SMALL, "max_epochs": 2}))
        model.learn_items(catalogue())
        model.learn(two_worlds())
        model.refit()
        fits.append(weights_of(model.state()))
    assert np.array_equal(fits[0], fits[1])


def test_held_out_figures_made_a_few_items_at_a_time_are_the_same_fit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The held-out figures that choose a fit's best epoch make every item's vector, and
    score the held-out contexts, in slices (sequence_training.py: one pass at 1M items held
    8 GiB): the figures, and so the weights, equal those of one pass over everything."""
    fits = []
    for rows, contexts in ((10**9, 10**9), (7, 3)):
        monkeypatch.setattr("streamrec.models.sequence_training._TOWER_ROWS", rows)
        monkeypatch.setattr("streamrec.models.sequence_training._QUALITY_ROWS", contexts)
        model = SequenceModel(SequenceConfig(**{**SMALL, "max_epochs": 3}))
        model.fit_in_child = False
        model.learn_items(catalogue())
        model.learn(two_worlds())
        model.refit()
        fits.append((model.curves.copy(), weights_of(model.state())))
    assert fits[0][0].shape[0] == 3 and fits[0][0][:, 1:].any()  # figures were made
    assert np.array_equal(fits[0][0], fits[1][0])
    assert np.array_equal(fits[0][1], fits[1][1])


def events(start: int, count: int) -> list[Event]:
    batch = two_worlds(users=40, length=15, seed=start)
    return [Event(f"u{int(u)}", f"i{int(i)}", "view", T0 + start + n)
            for n, (u, i) in enumerate(zip(batch.users[:count], batch.items[:count],
                                           strict=True))]


def test_replay_after_a_refit_gives_identical_scores(
        tmp_path: Path, settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(tmp_path / "data", models={"sequence": SMALL})
    engine = Engine.open(settings, start_learner=False)
    try:
        for start in (0, 1000):
            engine.log.append(events(start, 300))
            engine.learner.catch_up(batch=7)
            engine.trainer.begin_due()
            engine.learner.catch_up(batch=7)
            engine.trainer.fit_pending()
            engine.learner.catch_up(batch=7)
        ends = [e.event.context or {} for e in engine.log.read(0, 10**6)
                if e.event.type == END_TYPE and e.event.item_id == "sequence"]
        assert len(ends) == 2 and all(end["ok"] for end in ends)
        assert all(str(end["artefact"]).endswith(".safetensors") for end in ends)
        model = engine.state.models["sequence"]
        assert isinstance(model, SequenceModel) and model.is_fitted
        replayed = rebuild_state(settings, engine.log, batch=1)
        again = replayed.models["sequence"]
        assert isinstance(again, SequenceModel)
        for user in ("u1", "u2", "u7"):
            index = engine.state.users.lookup(user)
            assert index is not None
            live = engine.state.query_for(index, T0)
            assert np.array_equal(model.dense_scores(live, 40),
                                  again.dense_scores(replayed.query_for(index, T0), 40))
        assert np.array_equal(weights_of(engine.state.state()["model-sequence"]),
                              weights_of(replayed.state()["model-sequence"]))
    finally:
        engine.close()


def test_train_refits_from_the_log_and_writes_curves(
        tmp_path: Path, settings_factory: Callable[..., Settings]) -> None:
    data_dir = tmp_path / "data"
    settings = settings_factory(data_dir, models={"sequence": SMALL})
    engine = Engine.open(settings, start_learner=False)
    try:
        engine.log.append(events(0, 300))
    finally:
        engine.close()
    env = {f"STREAMREC_MODELS__SEQUENCE__{k.upper()}": str(v) for k, v in SMALL.items()}
    result = CliRunner().invoke(app, ["train", "--data-dir", str(data_dir)], env=env)
    assert result.exit_code == 0, result.output
    assert "held-out HR@10" in result.output
    runs = [path for path in (data_dir / "tensorboard").iterdir() if path.is_dir()]
    assert len(runs) == 1
    assert list(runs[0].glob("events.out.tfevents.*"))  # what tensorboard --logdir reads
    assert (runs[0] / "curves.png").read_bytes()[:4] == b"\x89PNG"
    reopened = Engine.open(settings, start_learner=False)
    try:
        ends = [e.event.context or {} for e in reopened.log.read(0, 10**6)
                if e.event.type == END_TYPE]
        assert len(ends) == 1 and ends[0]["ok"]
        model = reopened.state.models["sequence"]
        assert isinstance(model, SequenceModel) and model.is_fitted
        assert model.curves.shape[1] == 3 and model.curves.shape[0] >= 1
    finally:
        reopened.close()


def test_a_stopped_model_gives_up_a_fit_at_its_next_batch() -> None:
    model = SequenceModel(SequenceConfig.model_validate(SMALL))
    model.learn_items(catalogue())
    model.learn(two_worlds())
    data, _ = model.begin_refit()
    batches: list[int] = []

    def stop_at_the_third(what: str, done: int, total: int) -> None:
        batches.append(done)
        if len(batches) == 3:
            model.stop_fitting()

    model.progress = stop_at_the_third
    with pytest.raises(FitStopped):
        model.fit(data)
    assert len(batches) == 3  # not one batch more
    assert not model.is_fitted


# A server's process whose GRU refit is under way when it shuts down: the fit is stopped (its
# thread has ended when close returns) and the process exits 0. A thread left inside torch
# made the exit abort (std::terminate, status 134) on most runs.
GRU_SHUTDOWN_PROCESS = """
import json, sys, threading
from pathlib import Path
from streamrec.engine.engine import Engine
from streamrec.models.sequence import SequenceModel
from streamrec.settings import Settings, SnapshotSettings
from streamrec.types import Event

batches = threading.Semaphore(0)
real_fit = SequenceModel.fit

def fit(self, data):
    self.progress = lambda what, done, total: batches.release()
    return real_fit(self, data)

SequenceModel.fit = fit
settings = Settings(data_dir=Path(sys.argv[1]), models=json.loads(sys.argv[2]),
                    snapshots=SnapshotSettings(every_events=10**9, every_s=10.0**6))
engine = Engine.open(settings)
engine.ingest([Event(f"u{n % 40}", f"i{(n * 7) % 97}", "view", 1_700_000_000.0 + n)
               for n in range(600)])
for _ in range(5):  # well inside the fit: five batches done
    assert batches.acquire(timeout=120), "no refit began"
engine.close()
print("closed; threads alive:", [thread.name for thread in threading.enumerate()])
"""


def test_a_shutdown_stops_a_gru_fit_under_way_and_the_process_exits_0(
        tmp_path: Path, settings_factory: Callable[..., Settings]) -> None:
    models = {"sequence": {**SMALL, "max_epochs": 10_000, "patience": 10_000},
              "als": {"refit_min_events": 10**9}, "ease": {"refit_min_events": 10**9},
              "trainer_poll_s": 0.01}
    settings = settings_factory(tmp_path / "data", models=models)
    ran = subprocess.run([sys.executable, "-c", GRU_SHUTDOWN_PROCESS, str(settings.data_dir),
                          json.dumps(models)], capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0 and "closed" in ran.stdout, ran.stderr[-3000:]
    assert "refit-sequence" not in ran.stdout, ran.stdout
    reopened = Engine.open(settings, start_learner=False)
    try:  # the begin is pending in the final snapshot, as a replay holds it
        assert [f.model.name for f in reopened.state.pending_fits.all()] == ["sequence"]
        assert not [e for e in reopened.log.read(0, 10**6) if e.event.type == END_TYPE]
        assert state_differences(reopened.state.state(),
                                 rebuild_state(settings, reopened.log).state()) == []
    finally:
        reopened.close()


def test_item_vectors_stop_at_the_last_known_item_not_at_the_token_tables_capacity() -> None:
    """The ANN index is built over every row of ``item_vectors``: spare capacity of the token
    table would be rows of zeros searched on every query."""
    model = SequenceModel(SequenceConfig(**SMALL))
    model.learn_items(catalogue(33))  # the token table grows past 33 rows (doubling)
    model.learn(two_worlds())  # items 0-39
    model.refit()
    assert model.item_vectors().shape[0] == 40
    model.learn_items([(45, Item("i45", {"category": "b"}))])  # content: a row of its own
    assert model.item_vectors().shape[0] == 46
    assert model.item_vectors()[45].any() and not model.item_vectors()[40:45].any()
    # an item with no row yet reads as zeros: the encoder still answers
    assert model.query_vector(query([1, 2, 50])) is not None


def test_a_restart_takes_the_served_vectors_and_an_older_snapshot_computes_them(
        fitted: SequenceModel) -> None:
    """A snapshot keeps the item vectors as served; one from before they were kept has them
    computed from the weights again, to the same bits. Vectors of another width are a
    garbled snapshot (the engine then tries an older one, or the log)."""
    state = fitted.state()
    assert state["vectors"] is fitted.item_vectors()  # no copy: replaced, never changed
    for kept in (state, {k: v for k, v in state.items() if k != "vectors"}):
        restored = SequenceModel(SequenceConfig(**SMALL))
        restored.restore(kept)
        assert np.array_equal(restored.item_vectors(), fitted.item_vectors())
        mine = restored.recommend(query([1, 2, 3]), 5)
        theirs = fitted.recommend(query([1, 2, 3]), 5)
        assert np.array_equal(mine.items, theirs.items)
        assert np.array_equal(mine.scores, theirs.scores)
    narrower = {**state, "vectors": state["vectors"][:, 1:]}
    with pytest.raises(ValueError, match="sequence vectors"):
        SequenceModel(SequenceConfig(**SMALL)).restore(narrower)


# The server fits in a child process (models/sequence_process.py), so a fit's Python work
# never holds the server's interpreter lock: the same bytes, stopped at once, failing as a
# failed fit with the child's reason.
def test_a_fit_in_a_child_process_gives_the_very_same_weights_as_in_a_thread() -> None:
    weights = []
    for in_child in (False, True):
        model = SequenceModel(SequenceConfig(**{**SMALL, "max_epochs": 2}))
        model.fit_in_child = in_child
        model.learn_items(catalogue())
        model.learn(two_worlds())
        model.refit()
        weights.append(weights_of(model.state()))
    assert np.array_equal(weights[0], weights[1])


def test_a_stop_ends_a_fit_in_a_child_process_and_the_child_with_it(
    tmp_path: Path, fit_in_thread: Callable[..., tuple[threading.Thread, list[BaseException]]],
) -> None:
    model = SequenceModel(SequenceConfig(**{**SMALL, "max_epochs": 10_000,
                                            "patience": 10_000}))
    model.fit_in_child, model.fit_dir = True, tmp_path / "fits"
    model.learn_items(catalogue())
    model.learn(two_worlds())
    data, _ = model.begin_refit()
    thread, outcome = fit_in_thread(lambda: model.fit(data))
    deadline = time.monotonic() + 60
    while not running_fits() and time.monotonic() < deadline:
        time.sleep(0.05)
    (child,) = running_fits()
    (job,) = (tmp_path / "fits").iterdir()  # the job's files: in the folder given
    assert (job / "job.pickle").is_file()
    model.stop_fitting()
    thread.join(60)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], FitStopped)
    assert running_fits() == []
    with pytest.raises(ProcessLookupError):  # killed and reaped, not left behind
        os.kill(child, 0)
    assert list((tmp_path / "fits").iterdir()) == []
    assert not model.is_fitted


class StopsAfter(threading.Event):
    """A stop that comes while the job is written: set from its ``checks``-th question on."""

    def __init__(self, checks: int) -> None:
        super().__init__()
        self.checks, self.asked = checks, 0

    def is_set(self) -> bool:
        self.asked += 1
        return self.asked >= self.checks or super().is_set()


def test_a_stop_while_the_job_is_written_ends_the_fit_before_any_process_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At 1M items the job is ~430 MB, written at the refit threads' niceness: a shutdown
    waited 15 s for it beside a restart's index builds. A stop is heard between pieces."""
    from streamrec.models import sequence_process

    started: list[object] = []
    monkeypatch.setattr(sequence_process.subprocess, "Popen",
                        lambda *args, **kwargs: started.append(args))
    tokens = np.zeros((1_000_000, 10), np.int32)  # 40 MB: several pieces
    data = TrainingData(np.zeros(5, np.int32), np.zeros(5, np.int32), tokens, None)
    stopping = StopsAfter(checks=3)
    with pytest.raises(FitStopped, match="before its process began"):
        sequence_process.fit_in_child(data, SequenceConfig(**SMALL), None, stopping,
                                      tmp_path / "fits")
    assert stopping.asked == 3 and started == []  # two pieces written, then stopped
    assert list((tmp_path / "fits").iterdir()) == []  # the job's folder removed


def test_a_fit_that_fails_in_its_child_process_fails_with_the_childs_reason() -> None:
    model = SequenceModel(SequenceConfig(**SMALL))
    model.fit_in_child = True
    model.learn_items(catalogue())
    model.learn(EventBatch(np.arange(10), np.arange(10), np.ones(10),
                           T0 + np.arange(10, dtype=float)))  # nobody has two events
    data, _ = model.begin_refit()
    with pytest.raises(RuntimeError, match="no user has two positive events"):
        model.fit(data)
    assert running_fits() == []


ORPHANED_FIT_PROCESS = """
import sys, threading, time
from streamrec.models.sequence import SequenceModel
from streamrec.models.sequence_config import SequenceConfig
from streamrec.models.sequence_process import running_fits
sys.path.insert(0, sys.argv[1])
from test_sequence import SMALL, catalogue, two_worlds

model = SequenceModel(SequenceConfig(**{**SMALL, "max_epochs": 10_000, "patience": 10_000}))
model.fit_in_child = True
model.learn_items(catalogue())
model.learn(two_worlds())
data, _ = model.begin_refit()
threading.Thread(target=model.fit, args=(data,), daemon=True).start()
while not running_fits():
    time.sleep(0.05)
print(running_fits()[0], flush=True)
time.sleep(600)  # killed (-9) by the test meanwhile
"""


def test_a_fit_whose_server_was_killed_stops_and_its_process_ends() -> None:
    server = subprocess.Popen([sys.executable, "-c", ORPHANED_FIT_PROCESS,
                               str(Path(__file__).parent)], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    try:
        child = int(server.stdout.readline())
    finally:
        server.kill()
        server.wait()
        server.stdout.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return  # gone: it noticed at its next batch
        time.sleep(0.1)
    os.kill(child, 9)
    raise AssertionError("the fit's process outlived its killed server by a minute")


def test_vectors_prepared_for_a_fit_are_served_as_they_are_unless_the_items_changed() -> None:
    """``serving_vectors`` (off the lock, for the index built before a swap) gives the array
    ``swap`` then serves, equal to a swap without it; an item's content changed meanwhile
    makes ``swap`` compute them again, from the new content."""
    model, plain = (SequenceModel(SequenceConfig.model_validate(SMALL)) for _ in range(2))
    for each in (model, plain):
        each.learn_items(catalogue())
        each.learn(two_worlds())
    data, events = model.begin_refit()
    fitted = model.fit(data)
    prepared = model.serving_vectors(fitted)
    model.swap(fitted, events)
    plain.swap(fitted, events)
    assert model.item_vectors() is prepared
    np.testing.assert_array_equal(prepared, plain.item_vectors())

    again = model.serving_vectors(fitted)
    changed = [(0, Item("i0", {"category": "other"}, "quite different words"))]
    model.learn_items(changed)
    plain.learn_items(changed)
    model.swap(fitted, events)
    plain.swap(fitted, events)
    assert model.item_vectors() is not again
    assert not np.array_equal(model.item_vectors()[0], again[0])
    np.testing.assert_array_equal(model.item_vectors(), plain.item_vectors())


def test_whether_torch_is_there_is_found_without_importing_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The trainer asks under the state's lock: an import there held every read ~0.8 s. A
    finder that refuses torch (as a machine without it) means no refits, not an error."""
    class Refusing:
        def find_spec(self, name: str, *args: object) -> None:
            if name == "torch":
                raise ImportError("not here")

    monkeypatch.delitem(sys.modules, "torch", raising=False)
    is_trainable.cache_clear()
    try:
        assert is_trainable() and "torch" not in sys.modules
        is_trainable.cache_clear()
        monkeypatch.setattr(sys, "meta_path", [Refusing(), *sys.meta_path])
        assert not is_trainable()
    finally:
        is_trainable.cache_clear()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 11), max_size=6, unique=True), min_size=1,
                max_size=20))
def test_the_content_matrix_holds_each_items_mean_over_its_tokens(
        rows: list[list[int]]) -> None:
    """Each item's row is the mean of its tokens' one-hot vectors (-1 pads a row), columns
    sorted within rows: the product with the content embeddings sums in that order."""
    width = max(1, *(len(row) for row in rows))
    tokens = np.full((len(rows), width), -1, dtype=np.int32)
    for n, row in enumerate(rows):
        tokens[n, :len(row)] = row
    matrix = content_matrix(tokens, 12)
    expected = np.zeros((len(rows), 12), dtype=np.float32)
    for n, row in enumerate(rows):
        for token in row:
            expected[n, token] = np.float32(1.0 / len(row))
    assert matrix.dtype == np.float32 and matrix.has_sorted_indices
    assert np.array_equal(matrix.toarray(), expected)
    assert np.array_equal(np.diff(matrix.indptr), [len(row) for row in rows])
