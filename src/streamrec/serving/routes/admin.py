"""Administration: erasing and exporting one user's data, reading the audit log, and how
much memory each part of the engine state holds."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from streamrec.engine.sizes import process_rss_bytes, state_sizes
from streamrec.errors import InvalidInput
from streamrec.events.validation import check_id
from streamrec.serving.auth import AdminKey, require
from streamrec.serving.deps import EngineDep
from streamrec.serving.schemas import (
    ErrorOut,
    PathId,
    RecentEventOut,
    RecentEventsOut,
    SizesOut,
)
from streamrec.trust.audit import AuditLog
from streamrec.trust.keys import Scope

router = APIRouter(tags=["admin"], responses={401: {"model": ErrorOut},
                                              403: {"model": ErrorOut}})


def _audit(request: Request) -> AuditLog:
    audit: AuditLog = request.app.state.audit
    return audit


@router.delete("/v1/users/{user_id:path}")
def erase_user(user_id: PathId, engine: EngineDep, caller: AdminKey,
               request: Request) -> dict[str, int]:
    """Erase everything held about the user: their events, and those of the sessions merged
    into them, leave the log (and its file), state is rebuilt without them. Slow: replays the
    whole log. Idempotent."""
    erased = engine.erase_user(user_id)
    audit = _audit(request)
    audit.record(caller.id if caller else None, "user.erase",
                 audit.user_target(engine.user_key(user_id)), {"erased_events": erased})
    return {"erased_events": erased}


@router.get("/v1/users/{user_id:path}/export")
def export_user(user_id: PathId, engine: EngineDep, caller: AdminKey,
                request: Request) -> dict[str, Any]:
    """Everything held about the user: their events (with their merged sessions'), and their
    history as the models see it."""
    export = engine.export_user(user_id)
    audit = _audit(request)
    audit.record(caller.id if caller else None, "user.export",
                 audit.user_target(engine.user_key(user_id)), {"events": len(export.events)})
    return {"user_id": user_id, **dataclasses.asdict(export)}


@router.delete("/v1/sessions/{session_id:path}")
def erase_session(session_id: PathId, engine: EngineDep, caller: AdminKey,
                  request: Request) -> dict[str, int]:
    """Erase an anonymous session's events, merged into a user or not, as for a user."""
    erased = engine.erase_session(session_id)
    audit = _audit(request)
    audit.record(caller.id if caller else None, "session.erase",
                 audit.session_target(engine.session_key(session_id)), {"erased_events": erased})
    return {"erased_events": erased}


@router.get("/v1/sessions/{session_id:path}/export")
def export_session(session_id: PathId, engine: EngineDep, caller: AdminKey,
                   request: Request) -> dict[str, Any]:
    """Everything held about an anonymous session: its events (a merge is an event of type
    `$merge`), and its history as the models see it (none once merged: it is the user's)."""
    export = engine.export_session(session_id)
    audit = _audit(request)
    audit.record(caller.id if caller else None, "session.export",
                 audit.session_target(engine.session_key(session_id)),
                 {"events": len(export.events)})
    return {"session_id": session_id, **dataclasses.asdict(export)}


@router.get("/v1/admin/audit")
def read_audit(caller: AdminKey, request: Request,
               limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> dict[str, Any]:
    """The newest `limit` audit entries, newest first."""
    return {"entries": [dataclasses.asdict(e) for e in _audit(request).recent(limit)]}


@router.get("/v1/admin/events", response_model=RecentEventsOut,
            response_model_exclude_none=True)
def recent_events(engine: EngineDep, caller: AdminKey, request: Request,
                  limit: Annotated[int, Query(ge=1, le=1_000)] = 50,
                  user_id: Annotated[str | None, Query(
                      max_length=256, description="Only this user's, among the log's newest "
                      "100,000 entries.")] = None,
                  session_id: Annotated[str | None, Query(
                      max_length=256, description="Only this anonymous session's, among the "
                      "log's newest 100,000 entries.")] = None) -> RecentEventsOut:
    """The log's newest entries, newest first, the engine's own ($-types) among them. Users
    and sessions appear as the log stores them (pseudonyms with a pseudonym secret). Naming a
    user or session is recorded in the audit log, as an export is."""
    if user_id is not None:
        check_id(user_id, "user_id")
    if session_id is not None:
        check_id(session_id, "session_id")
    if user_id is not None and session_id is not None:
        raise InvalidInput("session_id", "name at most one of user_id and session_id")
    events, read = engine.recent_events(limit, user_id, session_id)
    if user_id is not None or session_id is not None:
        audit = _audit(request)
        target = audit.user_target(engine.user_key(user_id)) if user_id is not None else \
            audit.session_target(engine.session_key(str(session_id)))
        audit.record(caller.id if caller else None, "events.read", target,
                     {"events": len(events)})
    return RecentEventsOut(events=[RecentEventOut(**dataclasses.asdict(e)) for e in events],
                           read_entries=read)


@router.get("/v1/admin/sizes", response_model=SizesOut, dependencies=[require(Scope.ADMIN)])
def sizes(engine: EngineDep) -> SizesOut:
    """Bytes held by each component of the engine state, and the process's resident memory:
    to tell state that grows with new users and items from a leak. Walks the whole state
    under its lock (learning and reads wait ~0.1 s per million objects): not for polling
    every second."""
    report = state_sizes(engine.state, also={"impressions": engine.impressions})
    window = getattr(engine.log, "dedup_ids", None)  # the log's, beside the state
    if window is not None:
        report.budgets["dedup_window"] = window.budget()
    return SizesOut(**report.as_dict(), rss_bytes=process_rss_bytes())
