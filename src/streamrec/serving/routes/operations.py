"""Health, statistics and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streamrec.serving.auth import require
from streamrec.serving.deps import EngineDep
from streamrec.serving.schemas import StatsOut
from streamrec.trust.keys import Scope

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz(engine: EngineDep) -> dict[str, str]:
    """Alive, and the learner is running."""
    return {"status": "ok" if engine.learner.error is None else "degraded"}


@router.get("/v1/stats", response_model=StatsOut, dependencies=[require(Scope.READ)])
def stats(engine: EngineDep) -> StatsOut:
    return StatsOut(**engine.stats())


@router.get("/metrics", response_class=Response, dependencies=[require(Scope.READ)])
def metrics(request: Request) -> Response:
    """Prometheus text format."""
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)
