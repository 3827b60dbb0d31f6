"""The asyncpg pool the app runs on, and the errors that mean "the database is not there"."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from rollcall.metrics import POOL_WAIT

# A query that cannot finish within this many seconds fails instead of holding a request.
COMMAND_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 3.0

# What asyncpg raises when the server is down, restarting or unreachable.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)


async def _init_connection(conn: asyncpg.Connection[Any]) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection[Any]) -> None:
    """Nothing to reset when a connection goes back to the pool.

    asyncpg's default reset (unlock advisory locks, CLOSE ALL, UNLISTEN *, RESET ALL) costs a
    round trip per borrow; pooled connections here never LISTEN, SET or hold a session-level
    advisory lock (the hub listens on a connection of its own). asyncpg still rolls back a
    transaction left open before calling this.
    """


if TYPE_CHECKING:
    _Pool = asyncpg.Pool[asyncpg.Record]
else:
    _Pool = asyncpg.Pool  # generic in the stubs only


class MeteredPool(_Pool):
    """asyncpg's pool, timing every acquire: how long callers waited for a connection."""

    async def _acquire(
        self,
        timeout: float | None,  # noqa: ASYNC109 (asyncpg's own signature)
    ) -> PoolConnectionProxy[asyncpg.Record]:
        # Pool.acquire() (awaited or `async with`) goes through _acquire, whatever the caller.
        started = time.perf_counter()
        try:
            connection: PoolConnectionProxy[asyncpg.Record] = await super()._acquire(timeout)  # type: ignore[misc]
        finally:
            POOL_WAIT.observe(time.perf_counter() - started)
        return connection


async def create_pool(url: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool[Any]:
    # The arguments asyncpg.create_pool() would pass, with its defaults, to the metered class.
    pool = MeteredPool(
        url,
        min_size=min_size,
        max_size=max_size,
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        loop=None,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        timeout=CONNECT_TIMEOUT_S,
        command_timeout=COMMAND_TIMEOUT_S,
        init=_init_connection,
        reset=_keep_session,
        server_settings={"application_name": "rollcall"},
    )
    await pool
    return pool


DB: TypeAlias = asyncpg.Connection | PoolConnectionProxy
"""What services take as `conn`: a connection, or one borrowed from the pool."""
