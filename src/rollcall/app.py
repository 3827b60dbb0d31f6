"""Builds the ASGI app: routers, lifespan, error handlers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from rollcall import __version__, gctune, health, metrics_routes, problems
from rollcall.apidocs import routes as apidocs_routes
from rollcall.attendance import routes as attendance_routes
from rollcall.bodies import BodyGuard
from rollcall.cors import AppOrigins
from rollcall.db.embedded import stop_embedded
from rollcall.db.url import resolve_database_url
from rollcall.events import routes as events_routes
from rollcall.headers import SecurityHeaders
from rollcall.live import routes as live_routes
from rollcall.origins import HostGuard
from rollcall.participants import routes as participants_routes
from rollcall.participants.schemas import BalanceRequest, JoinRequest, KickRequest
from rollcall.realtime.ws import Sockets
from rollcall.runtime import Runtime, attach
from rollcall.settings import Settings, get_settings
from rollcall.web import routes as web_routes
from rollcall.webhooks import routes as webhooks_routes

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, database_url: str | None = None) -> FastAPI:
    """The app. database_url, when given, skips resolving one from the settings."""
    settings = settings or get_settings()
    sockets = Sockets()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = database_url
        if url is None:
            url = await asyncio.to_thread(resolve_database_url, settings)
        runtime = await Runtime.start(settings, url)
        attach(app, runtime)
        await sockets.start(runtime)
        if settings.gc_freeze:
            gctune.tune()
        try:
            yield
        finally:
            await sockets.stop()
            await runtime.stop()
            attach(app, None)
            stop_embedded()

    app = FastAPI(
        title="rollcall",
        version=__version__,
        summary="Participant identity and live presence for live events.",
        lifespan=lifespan,
        docs_url=None,  # served by apidocs, without a CDN
        redoc_url=None,  # ReDoc needs inline styles and blob: workers, which the CSP refuses
    )
    problems.install(app)
    app.add_middleware(BodyGuard, timeout_s=settings.body_timeout_s)
    app.add_middleware(AppOrigins, settings=settings)
    app.add_middleware(HostGuard, settings=settings)
    app.add_middleware(SecurityHeaders)
    app.include_router(health.router)
    app.include_router(events_routes.router)
    app.include_router(participants_routes.router)
    app.include_router(attendance_routes.router)
    app.include_router(live_routes.router)
    app.include_router(webhooks_routes.router)
    app.include_router(metrics_routes.router)
    app.router.routes.append(sockets.route())
    app.include_router(web_routes.router)
    app.include_router(apidocs_routes.router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            problems.add_schemas(
                schema,
                Problem=problems.ProblemDocument,
                JoinRequest=JoinRequest,
                KickRequest=KickRequest,
                BalanceRequest=BalanceRequest,
            )
            app.openapi_schema = problems.document_problems(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
