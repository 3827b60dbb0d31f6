"""The background loop that announces presence changes and trims the event log."""

from __future__ import annotations

import time
from typing import Any

import asyncpg

from rollcall import event_log
from rollcall.background import Periodic
from rollcall.db.pool import borrow
from rollcall.presence.service import sweep

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
        self._timeout = presence_timeout_s
        self._retention = log_retention
        self._last_trim = time.monotonic()
        self._loop = Periodic("presence sweep", self.run_once, interval_s)

    async def run_once(self) -> int:
        async with borrow(self._pool) as conn:
            changed = await sweep(conn, presence_timeout_s=self._timeout)
            if time.monotonic() - self._last_trim >= TRIM_EVERY_S:
                self._last_trim = time.monotonic()
                await event_log.trim(conn, keep=self._retention)
        return changed

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
