"""Typed answers of the streamrec API: one frozen dataclass per JSON body
(src/streamrec/serving/schemas.py on the server)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class RecommendedItem:
    item_id: str
    score: float
    reasons: list[str]
    # present only when asked for with fields=...
    title: str | None = None
    attributes: dict[str, Any] | None = None
    text: str | None = None
    available: bool | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecommendedItem:
        return cls(item_id=str(data["item_id"]), score=float(data["score"]),
                   reasons=[str(r) for r in data.get("reasons", [])],
                   title=data.get("title"), attributes=data.get("attributes"),
                   text=data.get("text"), available=data.get("available"))


@dataclass(frozen=True, slots=True)
class Recommendations:
    """A list shown to a user or session (also popular items): name ``recommendation_id``
    in ``after=`` for the next page, or in an event's ``context`` as feedback."""

    items: list[RecommendedItem]
    recommendation_id: str
    warnings: list[str] = field(default_factory=list)
    experiment: str | None = None  # the A/B test running when the list was made, if any
    variant: str | None = None  # the user's variant of it, whose settings made the list

    @property
    def item_ids(self) -> list[str]:
        return [item.item_id for item in self.items]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Recommendations:
        return cls(items=[RecommendedItem.from_json(i) for i in data["items"]],
                   recommendation_id=str(data["recommendation_id"]),
                   warnings=[str(w) for w in data.get("warnings", [])],
                   experiment=data.get("experiment"), variant=data.get("variant"))


@dataclass(frozen=True, slots=True)
class Similar:
    items: list[RecommendedItem]

    @property
    def item_ids(self) -> list[str]:
        return [item.item_id for item in self.items]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Similar:
        return cls(items=[RecommendedItem.from_json(i) for i in data["items"]])


@dataclass(frozen=True, slots=True)
class Appended:
    """What ``send_events`` stored, summed over its batches: ``duplicates`` counts events
    whose ``event_id`` the server already had (a retry's included)."""

    accepted: int
    duplicates: int
    last_offset: int

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Appended:
        return cls(int(data["accepted"]), int(data["duplicates"]), int(data["last_offset"]))

    def __add__(self, other: Appended) -> Appended:
        return Appended(self.accepted + other.accepted, self.duplicates + other.duplicates,
                        max(self.last_offset, other.last_offset))


@dataclass(frozen=True, slots=True)
class Item:
    item_id: str
    attributes: dict[str, Any]
    text: str
    available: bool

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Item:
        return cls(str(data["item_id"]), dict(data["attributes"]), str(data["text"]),
                   bool(data["available"]))


@dataclass(frozen=True, slots=True)
class Merged:
    merged: bool
    last_offset: int

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Merged:
        return cls(bool(data["merged"]), int(data["last_offset"]))


@dataclass(frozen=True, slots=True)
class Stats:
    """``GET /v1/stats``; figures a newer server adds are kept in ``extra``."""

    events: int
    users: int
    items: int
    catalogue_items: int
    log_offset: int
    learned_offset: int
    learned_events: int
    learn_lag_events: int
    seconds_since_learned: float
    uptime_s: float
    last_snapshot_offset: int
    refits: int
    last_refit_s: float
    refit_failures: int
    refit_error: str | None
    seconds_since_snapshot: float | None = None  # servers before it have none
    extra: dict[str, Any] = field(default_factory=dict)

    _INTS = ("events", "users", "items", "catalogue_items", "log_offset", "learned_offset",
             "learned_events", "learn_lag_events", "last_snapshot_offset", "refits",
             "refit_failures")
    _FLOATS = ("seconds_since_learned", "uptime_s", "last_refit_s")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Stats:
        known: dict[str, Any] = {name: int(data[name]) for name in cls._INTS}
        known.update({name: float(data[name]) for name in cls._FLOATS})
        error = data.get("refit_error")
        known["refit_error"] = None if error is None else str(error)
        snapshot = data.get("seconds_since_snapshot")
        known["seconds_since_snapshot"] = None if snapshot is None else float(snapshot)
        extra = {k: v for k, v in data.items() if k not in known}
        return cls(**known, extra=extra)
