"""Text arrays made a slice at a time equal numpy's one conversion, and a vocabulary's saved
ids follow it as it grows; texts joined as UTF-8 bytes split back into themselves."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrec import text_arrays
from streamrec.events.vocab import Vocabulary
from streamrec.text_arrays import text_array, utf8_joined, utf8_split

TEXTS = st.lists(st.text(max_size=12), max_size=60)


@settings(max_examples=200, deadline=None)
@given(texts=TEXTS, done=st.integers(0, 60), slice_size=st.integers(1, 7))
def test_a_text_array_equals_one_conversion(texts: list[str], done: int,
                                            slice_size: int) -> None:
    original, text_arrays.SLICE = text_arrays.SLICE, slice_size
    try:
        whole = np.array(texts, dtype=np.str_)
        made = text_array(texts)
        grown = text_array(texts, text_array(texts[:done]))
    finally:
        text_arrays.SLICE = original
    for array in (made, grown):
        assert array.dtype == whole.dtype
        assert array.tolist() == whole.tolist()


def test_a_vocabularys_state_converts_only_new_ids_and_stays_right() -> None:
    vocabulary = Vocabulary(f"item-{i}" for i in range(5))
    first = vocabulary.state()
    assert vocabulary.state() is first  # nothing added: the same array
    assert not first.flags.writeable  # a snapshot's copy cannot be changed under it
    vocabulary.index("a-much-longer-item-id-than-the-others")
    grown = vocabulary.state()
    assert grown.tolist() == [*(f"item-{i}" for i in range(5)),
                              "a-much-longer-item-id-than-the-others"]
    assert Vocabulary.restore(grown).state().tolist() == grown.tolist()
    restored = Vocabulary.restore(grown)  # the unicode array's own str, not numpy's
    assert all(type(i) is str for i in restored._ids) and restored.lookup("item-3") == 3
    held = Vocabulary.restore(np.array(["x", 7], dtype=object))  # not text: made str
    assert held._ids == ["x", "7"] and held.lookup("7") == 1


def test_a_restored_vocabularys_state_is_the_saved_one_without_converting_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    vocabulary = Vocabulary(f"item-{i}" for i in range(5))
    vocabulary.forget([2])
    saved = vocabulary.state()
    monkeypatch.setattr("streamrec.events.vocab.text_array", _no_conversion)
    restored = Vocabulary.restore(saved)
    state = restored.state()
    assert state.tolist() == saved.tolist() and not state.flags.writeable
    assert state is not saved  # its own copy
    monkeypatch.undo()
    restored.index("new")  # takes the forgotten index 2: written into a new saved array
    assert restored.state().tolist() == ["item-0", "item-1", "new", "item-3", "item-4"]


def _no_conversion(*_: object) -> np.ndarray:
    raise AssertionError("converted the ids again")


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(st.text(max_size=30), max_size=60), as_bytes=st.booleans())
def test_texts_joined_as_utf8_split_back_into_themselves(texts: list[str],
                                                          as_bytes: bool) -> None:
    joined, ends = utf8_joined([t.encode() if as_bytes else t for t in texts])
    assert joined.dtype == np.uint8 and ends.dtype == np.int64 and ends.size == len(texts)
    assert joined.size == sum(len(t.encode()) for t in texts)  # no padding to the longest
    assert utf8_split(joined, ends) == texts
