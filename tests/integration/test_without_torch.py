"""The server starts and serves without torch: a fit that torch made, named in the log as a
safetensors artefact, is replayed and served by a process that cannot import torch."""

from __future__ import annotations

import importlib.util
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from streamrec.engine.engine import Engine
from streamrec.models.sequence import SequenceModel
from streamrec.settings import Settings
from streamrec.types import Event

if importlib.util.find_spec("torch") is None:  # to fit the artefact here; CI installs it
    if os.environ.get("CI") == "true":
        pytest.fail("torch is missing: CI installs streamrec[deep] (via the test extra)",
                    pytrace=False)
    pytest.skip("torch (pip install -e '.[deep]') fits the artefact this test serves",
                allow_module_level=True)

T0 = 1_700_000_000.0
SMALL = {"dimensions": 8, "context": 4, "content_buckets": 32, "negatives": 8,
         "batch_size": 32, "max_epochs": 3, "refit_min_events": 200, "device": "cpu"}
# every attempt to import torch is written down, then refused
BLOCKER = r'''
import sys
class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            with open(ATTEMPTS, "a") as attempts:
                attempts.write(name + "\n")
            raise ImportError("torch is not installed here (a test's blocker)")
        return None
sys.meta_path.insert(0, NoTorch())
with open(ATTEMPTS, "a") as attempts:
    attempts.write("blocker installed\n")
'''


def test_a_server_without_torch_replays_and_serves_the_sequence_fit(
        tmp_path: Path, settings_factory: Callable[..., Settings],
        start_server: Any) -> None:
    data_dir = tmp_path / "data"
    settings = settings_factory(data_dir, models={"sequence": SMALL})
    engine = Engine.open(settings, start_learner=False)
    try:
        engine.log.append([Event(f"u{n % 20}", f"i{(n * 3 + n // 20) % 30}", "view", T0 + n)
                           for n in range(400)])
        engine.learner.catch_up()
        engine.trainer.begin_due()
        engine.learner.catch_up()
        engine.trainer.fit_pending()
        engine.learner.catch_up()
        model = engine.state.models["sequence"]
        assert isinstance(model, SequenceModel) and model.is_fitted
        fits = list(settings.artefact_dir.glob("sequence-*.safetensors"))
        assert fits
        kept = tmp_path / "kept"
        kept.mkdir()
        for fit in fits:  # a closing snapshot makes them redundant, and they are deleted
            shutil.copy(fit, kept / fit.name)
    finally:
        engine.close()
    # the server replays the whole log and loads the fit it names: it cannot fit it again
    shutil.rmtree(settings.snapshot_dir)
    for fit in kept.iterdir():
        shutil.copy(fit, settings.artefact_dir / fit.name)

    site = tmp_path / "site"
    site.mkdir()
    attempts = tmp_path / "torch-imports.txt"
    (site / "sitecustomize.py").write_text(f"ATTEMPTS = {str(attempts)!r}\n{BLOCKER}")
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           **{f"STREAMREC_MODELS__SEQUENCE__{k.upper()}": str(v) for k, v in SMALL.items()}}
    server = start_server(env=env, data_dir=data_dir)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        events = [{"user_id": f"u{n % 20}", "item_id": f"i{n % 30}", "type": "view"}
                  for n in range(300)]
        assert client.post("/v1/events", json={"events": events}).status_code == 200
        found = client.get("/v1/users/u3/recommendations", params={"k": 5})
        assert found.status_code == 200, found.text
        assert found.json()["items"]
        # the trainer asks whether the sequence model can be refit (its refit is due): the
        # import of torch is refused, and it goes on without
        deadline = time.monotonic() + 60
        while "torch" not in attempts.read_text().split() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert attempts.read_text().split("\n")[:2] == ["blocker installed", "torch"]
        stats = client.get("/v1/stats").json()
        assert client.get("/v1/users/u4/recommendations").status_code == 200
    assert stats["refit_failures"] == 0
    quality = stats.get("online_quality") or {}
    assert not quality or "sequence" in quality
