"""Generated data moved in time (datagen/shifted.py): the newest event at the chosen moment,
everything else moved by the same seconds, no event ids."""

from __future__ import annotations

from streamrec.datagen import (
    GeneratorConfig,
    generate_events,
    generate_items,
    shift_to_end_at,
    shifted_events,
    shifted_items,
)

CONFIG = GeneratorConfig(n_users=40, n_items=80, n_categories=4, n_events=2_000, seed=3)
END = 1_796_000_000.0  # 2026-12-01


def test_the_newest_event_is_at_the_end_and_all_moved_alike() -> None:
    shift = shift_to_end_at(CONFIG, END)
    before = [e for chunk in generate_events(CONFIG) for e in chunk]
    after = [e for chunk in shifted_events(CONFIG, shift) for e in chunk]
    assert max(e.timestamp for e in after) == END
    assert [(e.user_id, e.item_id, e.type) for e in after] == \
        [(e.user_id, e.item_id, e.type) for e in before]
    assert all(abs(a.timestamp - b.timestamp - shift) < 1e-3
               for a, b in zip(after, before, strict=True))
    assert {e.event_id for e in after} == {None}


def test_items_are_released_before_their_first_event_still() -> None:
    shift = shift_to_end_at(CONFIG, END)
    released = {i.item_id: i.attributes["released_at"]
                for chunk in shifted_items(CONFIG, shift) for i in chunk}
    original = {i.item_id: i.attributes["released_at"]
                for chunk in generate_items(CONFIG) for i in chunk}
    assert all(abs(released[i] - original[i] - shift) < 1e-3 for i in original)
    assert all(e.timestamp >= released[e.item_id]
               for chunk in shifted_events(CONFIG, shift) for e in chunk)
