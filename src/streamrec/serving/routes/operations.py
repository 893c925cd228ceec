"""Health, statistics and Prometheus metrics."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streamrec.dashboard.history import StatsHistory
from streamrec.serving.auth import require
from streamrec.serving.deps import EngineDep
from streamrec.serving.schemas import HistoryOut, SampleOut, StatsOut
from streamrec.trust.keys import Scope

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz(engine: EngineDep) -> dict[str, str]:
    """Alive, and the learner is running."""
    return {"status": "ok" if engine.learner.error is None else "degraded"}


@router.get("/v1/stats", response_model=StatsOut, dependencies=[require(Scope.READ)])
def stats(engine: EngineDep) -> StatsOut:
    return StatsOut(**engine.stats())


@router.get("/v1/stats/history", response_model=HistoryOut, dependencies=[require(Scope.READ)])
def stats_history(request: Request, since: Annotated[float, Query(
        ge=0, allow_inf_nan=False, description="Only samples taken after this time (unix "
        "seconds), for polling.")] = 0.0) -> HistoryOut:
    """The server's figures sampled every dashboard.sample_s seconds since it started (the
    newest dashboard.samples_kept): what the dashboard's charts draw."""
    history: StatsHistory = request.app.state.history
    return HistoryOut(sample_s=history.every_s, samples=[
        SampleOut(**dataclasses.asdict(s)) for s in history.samples(since)])


@router.get("/metrics", response_class=Response, dependencies=[require(Scope.READ)])
def metrics(request: Request) -> Response:
    """Prometheus text format."""
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)
