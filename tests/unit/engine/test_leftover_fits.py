"""A server starting on a data dir removes the job folders of sequence fits nobody waits for.

A fit's job goes under ``<data dir>/fits/`` (models/sequence_process.py); the server removes
it when the fit ends and an orphaned child removes its own, but a server killed while its
child was starting leaves one behind. The next server, holding the data dir's lock, sweeps
them; nothing else in the folder is touched.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from streamrec.cli.serve import open_engine_with_progress
from streamrec.models.sequence_process import FITS_FOLDER
from streamrec.settings import Settings


def test_a_starting_server_removes_leftover_fit_folders_and_says_so(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fits = tmp_path / FITS_FOLDER
    leftover = fits / "sequence-fit-k3j2x"
    leftover.mkdir(parents=True)
    (leftover / "job.pickle").write_bytes(b"\0" * 1024)
    unrelated = fits / "notes.txt"
    unrelated.write_text("not a fit's")
    with caplog.at_level(logging.INFO):
        engine = open_engine_with_progress(Settings(data_dir=tmp_path), start_learner=False)
    try:
        assert not leftover.exists()
        assert unrelated.read_text() == "not a fit's"
        assert "removed 1 leftover sequence fit folder(s)" in caplog.text
    finally:
        engine.close()
