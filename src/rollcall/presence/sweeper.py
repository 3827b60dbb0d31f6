"""The background loop that announces presence changes and trims the event log."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import asyncpg

from rollcall.db.pool import UNAVAILABLE_ERRORS
from rollcall.presence.service import sweep
from rollcall.realtime import log as event_log

log = logging.getLogger(__name__)

TRIM_EVERY_S = 60.0


class PresenceSweeper:
    def __init__(
        self,
        pool: asyncpg.Pool[Any],
        *,
        interval_s: float,
        presence_timeout_s: float,
        log_retention: int,
    ) -> None:
        self._pool = pool
        self._interval = interval_s
        self._timeout = presence_timeout_s
        self._retention = log_retention
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> int:
        async with self._pool.acquire() as conn:
            return await sweep(conn, presence_timeout_s=self._timeout)

    async def _run(self) -> None:
        last_trim = time.monotonic()
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.run_once()
                if time.monotonic() - last_trim >= TRIM_EVERY_S:
                    last_trim = time.monotonic()
                    async with self._pool.acquire() as conn:
                        await event_log.trim(conn, keep=self._retention)
            except UNAVAILABLE_ERRORS as exc:
                log.warning("presence sweep skipped, database unavailable: %s", type(exc).__name__)
            except Exception:
                log.exception("presence sweep failed")

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="presence-sweep")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
