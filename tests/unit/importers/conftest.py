"""Fixtures for the importer tests: small files written to tmp_path, and the shared datasets.

The shared datasets sit beside the repository (``../shared/datasets``) and are never copied
into it. Missing, their tests skip on a laptop but fail in CI, where they must be present.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from pathlib import Path

import pytest

DATASETS = Path(__file__).parents[3].parent / "shared" / "datasets"

FileWriter = Callable[..., Path]


@pytest.fixture
def write_file(tmp_path: Path) -> FileWriter:
    """``write_file("events.csv", text)``: the path; gzipped when the name ends in ``.gz``."""

    def write(name: str, text: str, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode(encoding)
        path.write_bytes(gzip.compress(data, mtime=0) if name.endswith(".gz") else data)
        return path

    return write


@pytest.fixture(scope="session")
def shared_dataset() -> Callable[[str], Path]:
    """``shared_dataset("movielens-100k")``: that folder, or skip (fail when CI=true)."""

    def locate(name: str) -> Path:
        folder = DATASETS / name
        if folder.is_dir():
            return folder
        reason = f"shared dataset {folder} is missing"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (required in CI)")
        pytest.skip(reason)

    return locate
