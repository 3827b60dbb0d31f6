"""Builds the ASGI app: routers, lifespan, error handlers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from rollcall import __version__, problems
from rollcall.apidocs import routes as apidocs_routes
from rollcall.db import health
from rollcall.db.embedded import stop_embedded
from rollcall.db.pool import create_pool
from rollcall.db.url import resolve_database_url
from rollcall.events import routes as events_routes
from rollcall.events.retention import RetentionSweeper
from rollcall.events.service import DescriptionCache
from rollcall.headers import SecurityHeaders
from rollcall.limits import BodyGuard
from rollcall.participants import routes as participants_routes
from rollcall.participants.batch import JoinBatcher
from rollcall.participants.schemas import JoinRequest
from rollcall.presence.heartbeats import HeartbeatBuffer
from rollcall.presence.sweeper import PresenceSweeper
from rollcall.realtime import ws
from rollcall.realtime.hub import Hub
from rollcall.settings import Settings, get_settings
from rollcall.web import routes as web_routes

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, database_url: str | None = None) -> FastAPI:
    """The app. database_url, when given, skips resolving one from the settings."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = database_url
        if url is None:
            url = await asyncio.to_thread(resolve_database_url, settings)
        app.state.pool = await create_pool(url)
        app.state.joins = JoinBatcher(app.state.pool)
        app.state.descriptions = DescriptionCache()
        app.state.heartbeats = HeartbeatBuffer(
            app.state.pool, flush_interval_s=settings.heartbeat_flush_s
        )
        app.state.heartbeats.start()
        app.state.sweeper = PresenceSweeper(
            app.state.pool,
            interval_s=settings.presence_sweep_s,
            presence_timeout_s=settings.presence_timeout_s,
            log_retention=settings.event_log_retention,
        )
        app.state.sweeper.start()
        retention = RetentionSweeper(
            app.state.pool,
            interval_s=settings.retention_sweep_s,
            idle_hours=settings.event_idle_hours,
            retention_days=settings.event_retention_days,
            max_capacity=settings.max_capacity,
            presence_timeout_s=settings.presence_timeout_s,
        )
        retention.start()
        app.state.hub = Hub(
            app.state.pool,
            url,
            heartbeats=app.state.heartbeats,
            heartbeat_interval_s=settings.heartbeat_interval_s,
        )
        await app.state.hub.start()
        try:
            yield
        finally:
            await retention.stop()
            await app.state.hub.stop()
            await app.state.sweeper.stop()
            await app.state.heartbeats.stop()
            await app.state.pool.close()
            stop_embedded()

    app = FastAPI(
        title="rollcall",
        version=__version__,
        summary="Participant identity and live presence for live events.",
        lifespan=lifespan,
        docs_url=None,  # served by apidocs, without a CDN
        redoc_url=None,  # ReDoc needs inline styles and blob: workers, which the CSP refuses
    )
    app.state.settings = settings
    problems.install(app)
    app.add_middleware(BodyGuard)
    app.add_middleware(SecurityHeaders)
    app.include_router(health.router)
    app.include_router(events_routes.router)
    app.include_router(participants_routes.router)
    app.include_router(ws.router)
    app.include_router(web_routes.router)
    app.include_router(apidocs_routes.router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            problems.add_schemas(schema, Problem=problems.ProblemDocument, JoinRequest=JoinRequest)
            app.openapi_schema = problems.document_problems(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
