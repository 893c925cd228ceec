"""Invariants over many small worlds, whatever their sizes and seed."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrec.datagen import EventArrays, GeneratorConfig, build_catalogue, generate_event_arrays


@st.composite
def configs(draw: st.DrawFn) -> GeneratorConfig:
    n_categories = draw(st.integers(1, 6))
    return GeneratorConfig(
        n_users=draw(st.integers(1, 40)),
        n_items=draw(st.integers(n_categories, 80)),
        n_categories=n_categories,
        n_events=draw(st.integers(0, 600)),
        seed=draw(st.integers(0, 2**32)),
        chunk_size=draw(st.integers(1, 300)),
        duration_s=draw(st.floats(60.0, 90 * 86_400.0)),
        collection_size=draw(st.integers(1, 10)),
        new_item_fraction=draw(st.floats(0.0, 1.0)),
        taste_concentration=draw(st.floats(0.01, 100.0)),
        daily_cycle=draw(st.floats(0.0, 0.8)),
    )


@settings(max_examples=40, deadline=None)
@given(configs())
def test_exact_ordered_in_range_and_never_before_release(config: GeneratorConfig) -> None:
    chunks = list(generate_event_arrays(config))
    assert all(len(chunk) == config.chunk_size for chunk in chunks[:-1])
    events = EventArrays.concatenate(chunks)
    assert len(events) == config.n_events
    if config.n_events == 0:
        return
    assert np.all(np.diff(events.timestamps) >= 0)
    assert events.timestamps[0] >= config.start_time
    assert events.users.min() >= 0 and events.users.max() < config.n_users
    assert events.items.min() >= 0 and events.items.max() < config.n_items
    released_at = build_catalogue(config).released_at
    assert np.all(released_at[events.items] <= events.timestamps)
