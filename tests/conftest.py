"""Set-up shared by every test: deterministic hypothesis, event builders, engine settings.

Helpers are fixtures (not imports from this file) so that each test asks for what it uses.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from streamrec.settings import Settings, SnapshotSettings
from streamrec.types import Event

# fixed seeds: the same examples on every run, and no example database written into the repo
hypothesis_settings.register_profile("streamrec", derandomize=True, database=None, deadline=None)
hypothesis_settings.load_profile("streamrec")



def pytest_configure(config: pytest.Config) -> None:
    # When a hypothesis test fails, its pytest plugin imports libcst to suggest a patch; the
    # installed libcst (1.0.1) subclasses mypy_extensions.TypedDict, which warns, and with
    # warnings as errors that turns every hypothesis failure into an INTERNALERROR that stops
    # the run. Ignore exactly that warning (better: pin libcst >= 1.1 in the environment).
    config.addinivalue_line(
        "filterwarnings", "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"
    )


T0 = 1_700_000_000.0  # a fixed "now" in unix seconds, so no test depends on the clock

EventFactory = Callable[..., Event]


@pytest.fixture
def make_event() -> EventFactory:
    """``make_event("u1", "i1")``: a view at T0 + n (n counts up per test), overridable."""
    ticks = itertools.count()

    def make(user_id: str, item_id: str, type: str = "view", **fields: Any) -> Event:
        fields.setdefault("timestamp", T0 + next(ticks))
        return Event(user_id=user_id, item_id=item_id, type=type, **fields)

    return make


@pytest.fixture
def engine_settings(tmp_path: Path) -> Settings:
    """Settings on a fresh data dir; snapshots only when asked for (close, snapshot())."""
    return settings_in(tmp_path / "data")


def settings_in(data_dir: Path, **sections: Any) -> Settings:
    rarely = SnapshotSettings(every_events=10**9, every_s=10.0**6)
    return Settings(data_dir=data_dir, snapshots=rarely, **sections)


@pytest.fixture
def settings_factory() -> Callable[..., Settings]:
    """``settings_factory(data_dir, models={...})``: settings like ``engine_settings``'s."""
    return settings_in
