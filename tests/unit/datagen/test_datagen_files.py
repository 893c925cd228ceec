"""Written files: JSON lines with the promised fields, gzip by suffix, the same bytes every time."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from streamrec.datagen import (
    GeneratorConfig,
    generate_events,
    generate_items,
    write_events,
    write_items,
)

CONFIG = GeneratorConfig(
    n_users=30, n_items=60, n_categories=4, n_events=2_500, chunk_size=1_000, rating_fraction=0.1
)


def test_events_file_holds_the_generated_events(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    assert write_events(path, CONFIG, show_progress=False) == 2_500
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    events = [event for chunk in generate_events(CONFIG) for event in chunk]
    assert len(rows) == len(events)
    for row, event in zip(rows, events, strict=True):
        expected = {
            "event_id": event.event_id,
            "user_id": event.user_id,
            "item_id": event.item_id,
            "type": event.type,
            "timestamp": event.timestamp,
        }
        if event.value is not None:
            expected["value"] = event.value
        assert row == expected
    assert any("value" in row for row in rows)


def test_gzipped_events_are_byte_identical_across_runs(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"
    write_events(first, CONFIG, show_progress=False)
    write_events(second, CONFIG, show_progress=False)
    assert first.read_bytes() == second.read_bytes()
    plain = tmp_path / "events.jsonl"
    write_events(plain, CONFIG, show_progress=False)
    assert gzip.decompress(first.read_bytes()) == plain.read_bytes()


def test_items_file_holds_id_attributes_and_text(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl.gz"
    assert write_items(path, CONFIG, show_progress=True) == 60
    rows = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    items = [item for chunk in generate_items(CONFIG) for item in chunk]
    assert rows == [
        {"item_id": item.item_id, "attributes": dict(item.attributes), "text": item.text}
        for item in items
    ]
