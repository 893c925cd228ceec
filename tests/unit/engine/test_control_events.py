"""Which log entries are the engine's own: one set, asked once per event, must agree with
each kind's own test, so a new kind of control event cannot be learned as behaviour."""

from __future__ import annotations

from streamrec.engine.erasures import is_erasure
from streamrec.engine.forgetting import is_forget
from streamrec.engine.identities import is_merge
from streamrec.engine.item_changes import is_item_change
from streamrec.engine.refits import BEGIN_TYPE, END_TYPE, is_refit_marker
from streamrec.engine.state import is_control
from streamrec.experiments.definitions import is_experiment_event
from streamrec.types import Event

KINDS = (is_merge, is_refit_marker, is_item_change, is_erasure, is_experiment_event, is_forget)


def event(type_: str) -> Event:
    return Event("u", "i", type_, 0.0)


def test_every_kind_of_control_event_is_control_and_behaviour_is_not() -> None:
    types = ["$merge", BEGIN_TYPE, END_TYPE, "$items", "$erase", "$experiment", "$forget", "view",
             "purchase", "$other", "merge"]
    for type_ in types:
        assert is_control(event(type_)) == any(kind(event(type_)) for kind in KINDS), type_
    assert sum(is_control(event(t)) for t in types) == 7
