"""Reports and plots in the data directory: `streamrec evaluate` runs written to its
``evaluation-results/`` folder (``--json DATA_DIR/evaluation-results/NAME.json``) and the
training curves under ``tensorboard/``. Only JSON, markdown and PNG files in those two
folders: never the engine's own files (its state, keys, pseudonym check, snapshots)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from streamrec.errors import NotFound
from streamrec.serving.auth import require
from streamrec.serving.deps import EngineDep
from streamrec.serving.schemas import ErrorOut, EvaluationFileOut, EvaluationsOut
from streamrec.trust.keys import Scope

router = APIRouter(prefix="/v1/evaluations", tags=["evaluations"])

_KINDS = {".json": "application/json", ".md": "text/markdown; charset=utf-8",
          ".png": "image/png"}
# an allow-list: the data dir's other files are the engine's, some of them secret
FOLDERS = ("evaluation-results", "tensorboard")
_DEPTH = 4
_MOST = 1_000


def _files(root: Path) -> list[Path]:
    found: list[Path] = []
    folders = [root / name for name in FOLDERS
               if (root / name).is_dir() and not (root / name).is_symlink()]
    for _ in range(_DEPTH):
        deeper = []
        for folder in folders:
            for path in sorted(folder.iterdir()):
                if path.is_symlink() or path.name.startswith("."):
                    continue
                if path.is_dir():
                    deeper.append(path)
                elif path.is_file() and path.suffix in _KINDS:
                    found.append(path)
        folders = deeper
    return found[:_MOST]


@router.get("", response_model=EvaluationsOut, dependencies=[require(Scope.READ)])
def evaluations(engine: EngineDep) -> EvaluationsOut:
    """JSON, markdown and PNG files in the data directory's evaluation-results/ and
    tensorboard/ folders (four levels deep), newest first."""
    root = engine.settings.data_dir
    listed = []
    for path in _files(root):
        status = path.stat()
        listed.append(EvaluationFileOut(path=path.relative_to(root).as_posix(),
                                        kind=path.suffix[1:], bytes=status.st_size,
                                        modified=round(status.st_mtime, 3)))
    return EvaluationsOut(files=sorted(listed, key=lambda f: (-f.modified, f.path)))


@router.get("/{path:path}", response_class=FileResponse, dependencies=[require(Scope.READ)],
            responses={200: {"content": {t: {} for t in _KINDS.values()}},
                       404: {"model": ErrorOut}})
def evaluation_file(path: str, engine: EngineDep) -> FileResponse:
    """One of the files listed, by its path in the data directory."""
    root = engine.settings.data_dir
    listed = {p.relative_to(root).as_posix(): p for p in _files(root)}
    if path not in listed:
        raise NotFound(f"no report or plot {path!r} in the data directory", field="path")
    found = listed[path]
    return FileResponse(found, media_type=_KINDS[found.suffix],
                        headers={"X-Content-Type-Options": "nosniff"})
