"""Options shared by several commands, and settings built from env + flags."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from streamrec.errors import InvalidSetting
from streamrec.settings import ServingSettings, Settings

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Where streamrec keeps its data [env STREAMREC_DATA_DIR; "
                 "default ./streamrec-data]", show_default=False),
]


def build_settings(data_dir: Path | None, **serving: object) -> Settings:
    """Environment first, then flags that were given (checked as the settings they set)."""
    settings = Settings()
    if data_dir is not None:
        settings.data_dir = data_dir
    given = {key: value for key, value in serving.items() if value is not None}
    if given:
        try:
            settings.serving = ServingSettings.model_validate(
                {**settings.serving.model_dump(), **given})
        except ValidationError as error:
            raise InvalidSetting("\n".join(
                f"--{'-'.join(map(str, problem['loc'])).replace('_', '-')} "
                f"{problem['input']!r}: {problem['msg']}" for problem in error.errors())
            ) from None
    return settings
