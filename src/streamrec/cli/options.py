"""Options shared by several commands, and settings built from env + flags."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from streamrec.settings import Settings

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Where streamrec keeps its data [env STREAMREC_DATA_DIR; "
                 "default ./streamrec-data]", show_default=False),
]


def build_settings(data_dir: Path | None, **serving: object) -> Settings:
    """Environment first, then flags that were given."""
    settings = Settings()
    if data_dir is not None:
        settings.data_dir = data_dir
    given = {key: value for key, value in serving.items() if value is not None}
    if given:
        settings.serving = settings.serving.model_copy(update=given)
    return settings
