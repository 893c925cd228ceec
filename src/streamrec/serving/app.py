"""create_app: the FastAPI application over one engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from prometheus_client import CollectorRegistry

from streamrec import __version__
from streamrec.dashboard import pages
from streamrec.dashboard.history import StatsHistory, is_counted
from streamrec.engine import collector
from streamrec.engine.engine import Engine
from streamrec.serving import allocator, errors, openapi
from streamrec.serving.auth import DocsNeedKey
from streamrec.serving.consistency import ConsistentReads
from streamrec.serving.limits import BodySizeLimit, ReadTimeout
from streamrec.serving.metrics import EngineCollector, HttpMetrics, RequestMetrics
from streamrec.serving.ratelimit import RateLimiter
from streamrec.serving.request_checks import RequestChecks
from streamrec.serving.routes import (
    admin,
    evaluations,
    events,
    experiments,
    items,
    operations,
    popular,
    sessions,
    users,
)
from streamrec.settings import Settings
from streamrec.trust.audit import AuditLog
from streamrec.trust.keys import KeyRing, is_loopback, revoked_keys

if TYPE_CHECKING:
    from streamrec.storage.redis_shared import RedisBuckets

DOCS_URL, REDOC_URL, DOCS_ASSETS_URL = "/docs", "/redoc", "/docs/assets"


def shared_buckets(settings: Settings) -> RedisBuckets | None:
    """Replicas with Redis: one token bucket per caller for all of them."""
    if settings.replicas.redis_url is None:
        return None
    from streamrec.storage.redis_shared import RedisBuckets

    return RedisBuckets(settings.replicas.redis_url, settings.replicas.redis_prefix)


def create_app(settings: Settings, engine: Engine | None = None,
               owns_engine: bool = False) -> FastAPI:
    """The API over ``engine``, or over an engine opened from ``settings`` at start-up. An
    engine the app opened, or was told it owns, is closed (final snapshot) at shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = engine is None or owns_engine
        allocator.limit_arenas(settings.serving.malloc_arena_max)
        trimmer = allocator.Trimmer(settings.serving.malloc_trim_s)
        trimmer.start()
        app.state.engine = engine or Engine.open(settings)
        unsettle = collector.settle(settings.serving.gc_young_objects)
        app.state.registry.register(EngineCollector(app.state.engine.stats))
        app.state.keys = KeyRing(settings.data_dir / "keys.db", revoked_keys(settings))
        app.state.audit = AuditLog(settings.data_dir / "audit.db",
                                   settings.trust.pseudonym_secret)
        app.state.history = StatsHistory(
            app.state.engine.stats, lambda: app.state.http_metrics.latency_counts(
                lambda route: not is_counted(route)),
            settings.dashboard.sample_s, settings.dashboard.samples_kept)
        app.state.history.start()
        try:
            yield
        finally:
            app.state.history.stop()
            trimmer.stop()
            app.state.keys.close()
            app.state.audit.close()
            if owned:
                # off the event loop: the final snapshot may take seconds
                await asyncio.to_thread(app.state.engine.close)
            unsettle()

    # /docs and /redoc from assets in an installed package, never a CDN: they work offline
    app = FastAPIOffline(title="streamrec", version=__version__, lifespan=lifespan,
                         description="Real-time recommendations that learn from every event.",
                         docs_url=DOCS_URL, redoc_url=REDOC_URL, static_url=DOCS_ASSETS_URL,
                         swagger_ui_parameters={"validatorUrl": None})
    app.state.registry = CollectorRegistry()
    app.state.http_metrics = HttpMetrics(app.state.registry)
    # beyond loopback, keys are always required: revoking the last key must not open it up
    app.state.always_require_keys = not is_loopback(settings.serving.host)
    app.state.rate_limiter = RateLimiter(settings.serving.rate_limit,
                                         settings.serving.rate_limit_by_scope,
                                         shared=shared_buckets(settings))
    errors.install(app)
    routers = (events.router, items.router, popular.router, users.router, sessions.router,
               admin.router, operations.router, evaluations.router, experiments.router)
    for router in routers:
        app.include_router(router)
    openapi.install(app, routers)
    pages.install(app)
    app.add_middleware(ConsistentReads, wait_s=settings.replicas.consistency_wait_s)
    app.add_middleware(ReadTimeout, timeout_s=settings.serving.read_timeout_s)
    if not settings.serving.open_docs:
        # FastAPIOffline serves the pages itself (app.docs_url and app.redoc_url are None);
        # their assets (/docs/assets) are Swagger UI's and ReDoc's own files, open to all
        described = (DOCS_URL, REDOC_URL, app.openapi_url)
        app.add_middleware(DocsNeedKey, paths=frozenset(p for p in described if p))
    app.add_middleware(RequestMetrics, metrics=app.state.http_metrics)
    app.add_middleware(BodySizeLimit, max_bytes=settings.serving.max_body_bytes)
    app.add_middleware(RequestChecks)
    return app
