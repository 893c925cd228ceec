"""Anonymous sessions: recommendations before a visitor logs in, and the merge when they do."""

from __future__ import annotations

from fastapi import APIRouter

from streamrec.serving.auth import require
from streamrec.serving.deps import EngineDep
from streamrec.serving.json_body import StrictJsonRoute
from streamrec.serving.list_options import LIST_RESPONSES, ListOptionsDep, recommendations_out
from streamrec.serving.schemas import (
    ErrorOut,
    MergedOut,
    MergeIn,
    PathId,
    RecommendationsOut,
)
from streamrec.trust.keys import Scope

router = APIRouter(prefix="/v1/sessions", tags=["sessions"], route_class=StrictJsonRoute)


@router.get("/{session_id:path}/recommendations", response_model=RecommendationsOut,
            dependencies=[require(Scope.READ)],
            responses=LIST_RESPONSES, response_model_exclude_unset=True)
def recommendations(session_id: PathId, engine: EngineDep,
                    options: ListOptionsDep) -> RecommendationsOut:
    """Top-`k` items for an anonymous session (events posted with its `session_id`), as
    for a user: its recent items drive them from its first event. A session merged into a
    user gets that user's recommendations; an unknown one gets popular items."""
    return recommendations_out(
        engine.recommend_session(session_id, options.k, **options.keywords()), engine,
        options.fields)


@router.post("/{session_id:path}/merge", response_model=MergedOut,
             dependencies=[require(Scope.INGEST)],
             responses={409: {"model": ErrorOut, "description": "The session was merged "
                              "into another user already."}, 422: {"model": ErrorOut}})
def merge(session_id: PathId, body: MergeIn, engine: EngineDep) -> MergedOut:
    """The session turned out to be this user (they logged in): its history becomes
    theirs. Answers once the merge is durable (an event in the log) and learned: the user's
    recommendations then draw on the session's events and leave out what it saw, and events
    sent later with the `session_id` count as the user's. Idempotent; a session belongs to
    one user (merging it into another answers 409). Erasing the user erases the session."""
    merged = engine.merge_session(session_id, body.user_id)
    return MergedOut(merged=merged, last_offset=engine.log.last_offset())
