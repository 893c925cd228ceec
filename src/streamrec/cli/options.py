"""Options shared by several commands, and settings built from env + flags."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from streamrec.errors import InvalidSetting
from streamrec.settings import ServingSettings, Settings

# the defaults shown are the settings' (environment first): the options' own are None
DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Where streamrec keeps its data.",
                 show_default="STREAMREC_DATA_DIR, else ./streamrec-data"),
]
Host = Annotated[
    str | None,
    typer.Option(help="Address to bind.", show_default="STREAMREC_SERVING__HOST, else 127.0.0.1"),
]
Port = Annotated[
    int | None,
    typer.Option(help="Port to listen on.", show_default="STREAMREC_SERVING__PORT, else 8000"),
]

LogUrl = Annotated[
    str | None,
    typer.Option("--log", help="Event log: sqlite:///PATH, or kafka://HOST:PORT/TOPIC shared "
                 "by replicas.", show_default="STREAMREC_STORAGE__LOG, else the data dir's"),
]
RedisUrl = Annotated[
    str | None,
    typer.Option("--redis", help="redis://HOST:PORT/DB: state replicas share (shown lists, "
                 "rate limits, revoked keys, the refit lease).",
                 show_default="STREAMREC_REPLICAS__REDIS_URL, else none"),
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
