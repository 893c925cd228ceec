"""Catalogue changes go through the log: a live engine and a replay of its log agree."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamrec.engine.engine import Engine
from streamrec.engine.item_changes import ITEMS_TYPE
from streamrec.engine.replay import assert_same_state, rebuild_state
from streamrec.engine.state import EngineState, _Unread
from streamrec.settings import Settings
from streamrec.storage.base import open_catalogue
from streamrec.storage.sqlite_catalogue import SQLiteCatalogue
from streamrec.text_arrays import text_array, utf8_joined, utf8_split
from streamrec.types import Event, Item

EventFactory = Callable[..., Event]


def test_items_upserted_mid_stream_are_learned_in_log_order_and_replay_the_same(
    engine_settings: Settings, make_event: EventFactory,
) -> None:
    engine = Engine.open(engine_settings)
    try:
        engine.ingest([make_event("u1", "a"), make_event("u2", "b")])
        engine.upsert_items([Item("c", {"category": "hats"}, "a red hat"),
                             Item("a", {"category": "shoes"}, "a blue shoe")])
        # read-your-writes: the upsert returns once the learner applied it
        assert engine.state.items.ids_of(np.arange(3)) == ["a", "b", "c"]
        engine.ingest([make_event("u1", "c"), make_event("u3", "a")])
        engine.update_item("b", {"category": "hats"}, None, available=False)
        engine.ingest([make_event("u2", "d")])
        live = engine.state.state()
        types = [entry.event.type for entry in engine.log.read(0, 100)]
        assert types.count(ITEMS_TYPE) == 2
        replayed = rebuild_state(engine_settings, engine.log)
        assert_same_state(live, replayed.state(), exact=True)
        assert replayed.available[: len(replayed.items)].tolist() == [True, False, True, True]
        assert engine.get_item("b") == Item("b", {"category": "hats"}, "", False,
                                            engine.state.updated_at[1])
    finally:
        engine.close()


def test_a_restart_restores_the_catalogue_from_the_snapshot_not_the_database(
    engine_settings: Settings, make_event: EventFactory,
) -> None:
    engine = Engine.open(engine_settings)
    engine.ingest([make_event("u1", "a")])
    engine.upsert_items([Item("a", {"category": "shoes"}), Item("z", {"category": "hats"})])
    before = engine.state.state()
    engine.close()
    reopened = Engine.open(engine_settings)
    try:
        assert_same_state(reopened.state.state(), before, exact=True)
        assert reopened.state.attributes_of(1) == {"category": "hats"}
    finally:
        reopened.close()


def test_after_a_restart_changed_attributes_count_as_a_replay_counts_them(
    engine_settings: Settings, make_event: EventFactory,
) -> None:
    """A restart leaves the items' attributes as the snapshot's JSON until they are read; a
    change of an item never read since (its old attributes leave the counts of attribute
    names) and the next snapshot's catalogue are the replay's, and every item reads back
    as the replay has it."""
    engine = Engine.open(engine_settings)
    engine.ingest([make_event("u1", "a")])
    engine.upsert_items([Item("a", {"category": "shoes", "price": 9.5}),
                         Item("z", {"category": "hats", "tags": ["x", "y"]}),
                         Item("q", {"colour": "red"})])
    engine.close()
    reopened = Engine.open(engine_settings)
    try:
        hats = reopened.state.items.lookup("z")
        assert hats is not None
        assert reopened.state.attributes_of(hats) == {"category": "hats", "tags": ["x", "y"]}
        assert_same_state(reopened.state.state(), rebuild_state(engine_settings,
                                                                  reopened.log).state(), exact=True)
        reopened.update_item("q", {"size": "L"}, None, None)  # "colour" is no item's any more
        reopened.update_item("z", {"category": "coats"}, None, None)
        reopened.ingest([make_event("u2", "q")])
        replayed = rebuild_state(engine_settings, reopened.log)
        assert_same_state(reopened.state.state(), replayed.state(), exact=True)
        for item in range(len(replayed.items)):
            assert reopened.state.attributes_of(item) == replayed.attributes_of(item)
    finally:
        reopened.close()


def test_catalogue_items_missing_from_the_log_are_logged_once_at_start(
    engine_settings: Settings, make_event: EventFactory,
) -> None:
    engine = Engine.open(engine_settings)
    engine.ingest([make_event("u1", "a")])
    engine.close()
    # a data dir from before items were logged: the catalogue has items the log lacks
    catalogue = open_catalogue(engine_settings.catalogue_url)
    catalogue.upsert([Item("a", {"category": "shoes"}, "", True, 1.0), Item("b")])
    catalogue.close()

    reopened = Engine.open(engine_settings)
    try:
        logged = [e.event for e in reopened.log.read(0, 100) if e.event.type == ITEMS_TYPE]
        assert [[i["item_id"] for i in e.context["items"]] for e in logged  # type: ignore[index]
                ] == [["a", "b"]]
        assert reopened.state.attributes_of(0) == {"category": "shoes"}
        assert "b" in reopened.state.items
        replayed = rebuild_state(engine_settings, reopened.log)
        assert_same_state(reopened.state.state(), replayed.state(), exact=True)
    finally:
        reopened.close()
    again = Engine.open(engine_settings)  # nothing left to log
    try:
        assert [e.event.type for e in again.log.read(0, 100)].count(ITEMS_TYPE) == 1
    finally:
        again.close()


def test_an_item_newer_in_the_catalogue_than_in_the_log_is_logged_at_start(
    engine_settings: Settings, make_event: EventFactory,
) -> None:
    """A crash between the catalogue's write and the log's: the catalogue's version of an
    item the log holds older is logged at the next start; the items whose versions agree
    are not logged again."""
    engine = Engine.open(engine_settings)
    engine.upsert_items([Item("a", {"category": "shoes"}, "", True, 5.0),
                         Item("b", {"category": "hats"}, "", True, 5.0)])
    engine.ingest([make_event("u1", "a")])
    engine.close()
    catalogue = open_catalogue(engine_settings.catalogue_url)
    catalogue.upsert([Item("b", {"category": "coats"}, "", True, 6.0)])
    catalogue.close()
    reopened = Engine.open(engine_settings)
    try:
        logged = [e.event for e in reopened.log.read(0, 100) if e.event.type == ITEMS_TYPE]
        assert [[i["item_id"] for i in e.context["items"]] for e in logged  # type: ignore[index]
                ] == [["a", "b"], ["b"]]
        b = reopened.state.items.lookup("b")
        assert b is not None and reopened.state.attributes_of(b) == {"category": "coats"}
    finally:
        reopened.close()


def test_a_snapshot_after_a_catalogue_change_holds_the_new_attributes(tmp_path: Path) -> None:
    """The snapshot's encoded attributes are kept between catalogue changes (encoding 100k
    items' took 0.2 s of every capture); a change, or a new item, encodes them again."""
    state = EngineState(Settings(data_dir=tmp_path / "data"), inline_training=True)
    state.apply_items([Item("a", {"colour": "red"}), Item("b", {"size": 3})])
    state.capture()
    first = state._encoded_attributes
    state.capture()
    assert state._encoded_attributes is first is not None  # nothing changed: kept
    state.apply_items([Item("a", {"colour": "blue"})])
    changed = state.capture()["catalogue"]
    assert [orjson.loads(text) for text in utf8_split(
        changed["attributes_utf8"], changed["attributes_ends"])] == [{"colour": "blue"},
                                                                     {"size": 3}]
    state.items.index("c")  # an item known from an event: no attributes, one more row
    state._grow_items()
    grown = state.capture()["catalogue"]
    assert [orjson.loads(text) for text in utf8_split(
        grown["attributes_utf8"], grown["attributes_ends"])] == [{"colour": "blue"},
                                                                 {"size": 3}, {}]


def test_a_snapshot_with_the_attributes_as_a_text_array_still_restores(tmp_path: Path) -> None:
    """Snapshots before the attributes were UTF-8 bytes (f9d8f29 and earlier) held them as a
    numpy text array."""
    state = EngineState(Settings(data_dir=tmp_path / "data"), inline_training=True)
    state.apply_items([Item("a", {"colour": "rød"}), Item("b", {"size": 3})])
    components = state.state()
    catalogue = dict(components["catalogue"])
    texts = utf8_split(catalogue.pop("attributes_utf8"), catalogue.pop("attributes_ends"))
    old = {**components, "catalogue": {**catalogue, "attributes": text_array(texts)}}
    for saved in (components, old):
        restored = EngineState(Settings(data_dir=tmp_path / "other"), inline_training=True)
        restored.restore(state.offset, saved)
        assert [restored.attributes_of(i) for i in range(2)] == [{"colour": "rød"},
                                                                 {"size": 3}]


def test_a_start_compares_only_the_items_marked_unlogged(
    engine_settings: Settings, make_event: EventFactory, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Reading every item's version took 1.4 s of each restart at 1M items: a catalogue
    that marks what it stored and the log has not yet got is compared on those alone."""
    engine = Engine.open(engine_settings)
    engine.upsert_items([Item(f"i{n}", {"n": n}) for n in range(20)])
    engine.ingest([make_event("u1", "i3")])
    engine.close()
    catalogue = open_catalogue(engine_settings.catalogue_url)
    assert catalogue.unlogged() == []
    catalogue.upsert([Item("i5", {"n": 55}, "", True, 9.0)])  # a crash before the log's write
    catalogue.close()

    def whole_scan(self: SQLiteCatalogue) -> None:
        raise AssertionError("a start read every item's version")

    monkeypatch.setattr(SQLiteCatalogue, "versions", whole_scan)
    reopened = Engine.open(engine_settings)
    try:
        logged = [e.event for e in reopened.log.read(0, 100) if e.event.type == ITEMS_TYPE]
        assert [[i["item_id"] for i in e.context["items"]] for e in logged  # type: ignore[index]
                ][-1] == ["i5"]
        i5 = reopened.state.items.lookup("i5")
        assert i5 is not None and reopened.state.attributes_of(i5) == {"n": 55}
        assert reopened.catalogue.unlogged() == []
    finally:
        reopened.close()


def test_restored_attributes_are_read_when_asked_for_and_saved_again_as_they_were(
        tmp_path: Path) -> None:
    """A restore decodes no item's attributes (1M items' took ~0.4 s): each is read from
    the snapshot's bytes when first asked for. An unchanged catalogue's next snapshot holds
    the very arrays restored; after a change, the unread items' saved JSON beside the new."""
    state = EngineState(Settings(data_dir=tmp_path / "data"), inline_training=True)
    state.apply_items([Item("a", {"colour": "rød"}), Item("b", {"size": 3}), Item("c", {})])
    saved = state.state()
    restored = EngineState(Settings(data_dir=tmp_path / "other"), inline_training=True)
    restored.restore(state.offset, saved)
    assert all(isinstance(a, _Unread) for a in restored.attributes)
    assert restored.attributes_of(1) == {"size": 3}
    assert isinstance(restored.attributes[0], _Unread) and restored.attributes[1] == {"size": 3}
    again = restored.capture()["catalogue"]
    for key in ("attributes_utf8", "attributes_ends"):
        assert again[key] is saved["catalogue"][key]
    restored.apply_items([Item("c", {"colour": "blå"})])
    changed = restored.capture()["catalogue"]
    assert [orjson.loads(text) for text in utf8_split(
        changed["attributes_utf8"], changed["attributes_ends"])] == [
            {"colour": "rød"}, {"size": 3}, {"colour": "blå"}]
    assert isinstance(restored.attributes[0], _Unread)  # written without being parsed
    assert [restored.attributes_of(i) for i in range(3)] == [
        {"colour": "rød"}, {"size": 3}, {"colour": "blå"}]


_STEPS = st.lists(st.one_of(
    st.tuples(st.just("upsert"), st.lists(st.tuples(
        st.integers(0, 12), st.dictionaries(st.sampled_from(["colour", "size", "tags"]),
                                            st.one_of(st.integers(-99, 99),
                                                      st.text(max_size=5)),
                                            max_size=2)), max_size=4)),
    st.tuples(st.just("event_item"), st.integers(0, 15)),
    st.tuples(st.just("capture"), st.none()),
    st.tuples(st.just("restart"), st.none())), max_size=25)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=_STEPS)
def test_a_captures_attributes_equal_encoding_every_item_whatever_came_before(
        tmp_path: Path, steps: list[tuple[str, object]]) -> None:
    """The attributes a snapshot holds are made again for the items added or changed since
    the last capture only (at 1M items, all of them took ~0.5 s holding the GIL): after any
    run of upserts, items known from events, captures and restores, they are each item's
    attributes encoded afresh, and only what changed was encoded."""
    state = EngineState(Settings(data_dir=tmp_path / "data"), inline_training=True)
    encoded: list[int] = []
    for kind, argument in steps:
        if kind == "upsert":
            state.apply_items([Item(f"i{n}", attributes)
                               for n, attributes in argument])  # type: ignore[attr-defined]
        elif kind == "event_item":
            state.items.index(f"i{argument}")
            state._grow_items()
        elif kind == "restart":
            saved = state.state()
            state = EngineState(Settings(data_dir=tmp_path / "data"), inline_training=True)
            state.restore(0, saved)
        before = state._encoded_attributes
        known_before = 0 if before is None else before[0]
        dirty = {i for i in state._attributes_changed if i < known_before}
        original = state._encoded

        def counted(item: int, original: Callable[[int], bytes] = original) -> bytes:
            encoded.append(item)
            return original(item)

        state._encoded = counted  # type: ignore[method-assign]
        catalogue = state.capture()["catalogue"]
        del state._encoded
        n = len(state.items)
        joined, ends = utf8_joined([orjson.dumps(state.attributes_of(i)) for i in range(n)])
        assert catalogue["attributes_utf8"].tobytes() == joined.tobytes()
        assert catalogue["attributes_ends"].tolist() == ends.tolist()
        if before is not None:  # only the items changed or added were encoded
            assert sorted(encoded) == sorted(dirty | set(range(known_before, n)))
        encoded.clear()


_AVAILABILITY_STEPS = st.lists(st.one_of(
    st.tuples(st.just("upsert"), st.lists(st.tuples(st.integers(0, 12), st.booleans()),
                                          max_size=4)),
    st.tuples(st.just("event_item"), st.integers(0, 15)),
    st.tuples(st.just("restart"), st.none())), max_size=25)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=_AVAILABILITY_STEPS)
def test_a_read_excludes_exactly_the_items_last_marked_unavailable(
        tmp_path: Path, steps: list[tuple[str, object]]) -> None:
    """The unavailable items a serving read excludes are found once per catalogue change,
    not per read: after any run of upserts, items known only from events and restarts,
    with reads between them, they are the items whose last upsert marked them
    unavailable (an item known only from events is available)."""
    state = EngineState(Settings(data_dir=tmp_path / "data"), inline_training=True)
    marked: dict[str, bool] = {}
    for kind, argument in steps:
        if kind == "upsert":
            upserts = [(f"i{n}", available)
                       for n, available in argument]  # type: ignore[attr-defined]
            state.apply_items([Item(item, is_available=available)
                               for item, available in upserts])
            marked.update(upserts)
        elif kind == "event_item":  # as the learner makes such an item known
            state.items.index(f"i{argument}")
            state._grow_items()
        else:
            saved = state.state()
            state = EngineState(Settings(data_dir=tmp_path / "data"), inline_training=True)
            state.restore(0, saved)
        expected = sorted(state.items.index(item) for item, available in marked.items()
                          if not available)
        for _ in range(2):  # found, then kept
            assert state.query_for(None, 0.0).exclude.tolist() == expected
            assert state.query_for(None, 0.0, serving=False).exclude.tolist() == []
