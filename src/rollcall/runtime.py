"""The long-lived objects of one process, built once by the app's lifespan and handed out typed.

Routes take them as `Annotated` dependencies (`AppRuntime`, `AppSettings`, `Conn`); the socket
handler is given the runtime when it starts. Nothing else reads the app's state.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, FastAPI
from starlette.requests import HTTPConnection

from rollcall import metrics
from rollcall.db.pool import CONNECT_TIMEOUT_S, DB, UNAVAILABLE_ERRORS, borrow, create_pool, unclean
from rollcall.events.retention import RetentionSweeper
from rollcall.events.service import DescriptionCache
from rollcall.live.receipts import ReceiptBuffer
from rollcall.participants.batch import JoinBatcher
from rollcall.presence.heartbeats import HeartbeatBuffer
from rollcall.presence.sweeper import PresenceSweeper
from rollcall.ratelimits import RateLimits
from rollcall.settings import Settings
from rollcall.webhooks.delivery import WebhookDeliverer

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    database_url: str
    pool: asyncpg.Pool[Any]
    joins: JoinBatcher
    descriptions: DescriptionCache
    heartbeats: HeartbeatBuffer
    receipts: ReceiptBuffer
    sweeper: PresenceSweeper
    retention: RetentionSweeper
    limits: RateLimits
    webhooks: WebhookDeliverer

    @classmethod
    async def start(cls, settings: Settings, database_url: str) -> Runtime:
        """Open the pool and start the background loops (heartbeats, sweeps, webhooks)."""
        pool = await create_pool(database_url)
        runtime = cls(
            settings=settings,
            database_url=database_url,
            pool=pool,
            joins=JoinBatcher(pool, room_check_s=settings.room_check_s),
            descriptions=DescriptionCache(),
            heartbeats=HeartbeatBuffer(pool, flush_interval_s=settings.heartbeat_flush_s),
            receipts=ReceiptBuffer(pool, flush_interval_s=settings.receipt_flush_s),
            sweeper=PresenceSweeper(
                pool,
                interval_s=settings.presence_sweep_s,
                presence_timeout_s=settings.presence_timeout_s,
                log_retention=settings.event_log_retention,
            ),
            retention=RetentionSweeper(
                pool,
                interval_s=settings.retention_sweep_s,
                idle_hours=settings.event_idle_hours,
                retention_days=settings.event_retention_days,
                max_capacity=settings.max_capacity,
                presence_timeout_s=settings.presence_timeout_s,
            ),
            limits=RateLimits(settings),
            webhooks=WebhookDeliverer(pool, database_url=database_url, settings=settings),
        )
        runtime.heartbeats.start()
        runtime.receipts.start()
        runtime.sweeper.start()
        runtime.retention.start()
        runtime.webhooks.start()
        return runtime

    async def stop(self) -> None:
        """Stop the loops, write the buffered heartbeats, receipts and webhook cursors, close
        the pool."""
        await self.webhooks.stop()
        await self.retention.stop()
        await self.sweeper.stop()
        await self.heartbeats.stop()
        await self.receipts.stop()
        await _report_pool(self.pool)
        await self.pool.close()
        metrics.process_stopped()


async def _report_pool(pool: asyncpg.Pool[Any]) -> None:
    """Whether every pooled connection came back clean: at a graceful stop nothing holds one."""
    try:
        problems = await unclean(pool)
    except UNAVAILABLE_ERRORS as exc:
        log.warning("pool not checked at stop, database unavailable: %s", type(exc).__name__)
        return
    if problems:
        log.error("pool not clean at stop: %s", "; ".join(problems))
    else:
        log.info("pool clean at stop: %d connections answered", pool.get_size())


def attach(app: FastAPI, runtime: Runtime | None) -> None:
    """Make the runtime the app's (None when the lifespan ends)."""
    app.state.runtime = runtime


def runtime_of(app: Any) -> Runtime:
    runtime = getattr(app.state, "runtime", None)
    if not isinstance(runtime, Runtime):
        raise RuntimeError("the app's lifespan has not started")
    return runtime


async def _runtime(connection: HTTPConnection) -> Runtime:
    # async on purpose: FastAPI runs a plain `def` dependency in a worker thread, per request.
    return runtime_of(connection.app)


AppRuntime = Annotated[Runtime, Depends(_runtime)]


async def _settings(runtime: AppRuntime) -> Settings:
    return runtime.settings


AppSettings = Annotated[Settings, Depends(_settings)]


async def _connection(runtime: AppRuntime) -> AsyncIterator[DB]:
    async with borrow(runtime.pool, wait_s=CONNECT_TIMEOUT_S) as conn:
        yield conn


Conn = Annotated[DB, Depends(_connection, scope="function")]
"""A pooled connection for the length of the route's function: it goes back to the pool before
the answer is sent, so a client that reads slowly (a long export, say) holds none."""
