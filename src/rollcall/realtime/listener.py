"""The one LISTEN connection of a process, kept alive by a watchdog that reconnects it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from rollcall.db.pool import UNAVAILABLE_ERRORS

log = logging.getLogger(__name__)

CHECK_S = 2.0

Handler = Callable[[str], None]


class Listener:
    """Calls each channel's handler with every payload; `on_reconnect` runs after each connect.

    Notifications sent while no one listened are lost; `on_reconnect` is where the caller
    catches up from durable state (the event log).
    """

    def __init__(
        self, database_url: str, handlers: dict[str, Handler], on_reconnect: Callable[[], None]
    ) -> None:
        self._url = database_url
        self._handlers = handlers
        self._on_reconnect = on_reconnect
        self._connection: asyncpg.Connection[Any] | None = None
        self._watchdog: asyncio.Task[None] | None = None

    async def start(self) -> None:
        try:
            await self._connect()
        except UNAVAILABLE_ERRORS as exc:
            log.warning("realtime listener not connected yet: %s", type(exc).__name__)
        self._watchdog = asyncio.create_task(self._watch(), name="listener-watchdog")

    async def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        if self._connection is not None and not self._connection.is_closed():
            with contextlib.suppress(*UNAVAILABLE_ERRORS):
                await self._connection.close(timeout=2)

    async def _connect(self) -> None:
        connection = await asyncpg.connect(
            self._url, timeout=5, server_settings={"application_name": "rollcall-listener"}
        )
        for channel, handler in self._handlers.items():
            await connection.add_listener(channel, _payload_to(handler))
        self._connection = connection
        self._on_reconnect()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(CHECK_S)
            try:
                if self._connection is None or self._connection.is_closed():
                    await self._connect()
                    log.info("realtime listener reconnected")
                else:
                    await self._connection.fetchval("SELECT 1", timeout=CHECK_S)
            except UNAVAILABLE_ERRORS as exc:
                log.warning("realtime listener down, retrying: %s", type(exc).__name__)
                if self._connection is not None:
                    self._connection.terminate()
                    self._connection = None


def _payload_to(handler: Handler) -> Callable[[object, int, str, object], None]:
    def callback(_conn: object, _pid: int, _channel: str, payload: object) -> None:
        handler(str(payload))

    return callback
