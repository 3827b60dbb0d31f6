"""The asyncpg pool the app runs on, and the errors that mean "the database is not there"."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from rollcall.metrics import POOL_DISCARDED, POOL_WAIT

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
    # The server's connection limit (max_connections, or a database's or role's CONNECTION
    # LIMIT) is reached: no connection for now, like an outage.
    asyncpg.TooManyConnectionsError,
    # What asyncpg sometimes raises instead of "connection closed" when the server ends a
    # session in the middle of an operation (MagicStack/asyncpg#1069).
    asyncpg.InternalClientError,
)


class _PooledConnection(asyncpg.Connection):
    """A connection that ends itself when its protocol breaks.

    After the server ends a session mid-operation, asyncpg may leave the connection in a
    half-finished protocol state without closing it; back in the pool, it would fail every
    request that borrows it. Terminated, the pool replaces it with a fresh one.
    """

    async def _execute(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super()._execute(*args, **kwargs)  # type: ignore[misc]
        except asyncpg.InternalClientError:
            self.terminate()
            raise

    async def execute(self, *args: Any, **kwargs: Any) -> str:
        try:
            return await super().execute(*args, **kwargs)
        except asyncpg.InternalClientError:
            self.terminate()
            raise


class _OutageWithoutTraceback(logging.Filter):
    """asyncpg's pool logs each failed attempt to reconnect with a traceback; an outage is
    expected, so its warning keeps one line naming the error instead of a traceback a minute."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], UNAVAILABLE_ERRORS):
            record.msg = f"{record.msg}: {type(record.exc_info[1]).__name__}"
            record.exc_info = None
            record.exc_text = None
        return True


logging.getLogger("asyncpg.pool").addFilter(_OutageWithoutTraceback())


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


POOL_MAX_SIZE = 10
"""Database connections a server process keeps at most."""


async def create_pool(
    url: str, *, min_size: int = 1, max_size: int = POOL_MAX_SIZE
) -> asyncpg.Pool[Any]:
    # The arguments asyncpg.create_pool() would pass, with its defaults, to the metered class.
    pool = MeteredPool(
        url,
        min_size=min_size,
        max_size=max_size,
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        loop=None,
        connection_class=_PooledConnection,
        record_class=asyncpg.Record,
        timeout=CONNECT_TIMEOUT_S,
        command_timeout=COMMAND_TIMEOUT_S,
        init=_init_connection,
        reset=_keep_session,
        server_settings={"application_name": "rollcall"},
    )
    await pool
    return pool


async def connect(url: str) -> asyncpg.Connection[Any]:
    """One connection outside the pool (for commands), with the pool's JSON codecs."""
    conn: asyncpg.Connection[Any] = await asyncpg.connect(
        url, timeout=CONNECT_TIMEOUT_S, command_timeout=COMMAND_TIMEOUT_S
    )
    await _init_connection(conn)
    return conn


DB: TypeAlias = asyncpg.Connection | PoolConnectionProxy
"""What services take as `conn`: a connection, or one borrowed from the pool."""


INTERRUPTIONS: tuple[type[BaseException], ...] = (asyncio.CancelledError, TimeoutError)
"""How a block that holds a connection ends while a statement may still be in flight: the task
was cancelled (a socket closed, a shutdown, an `asyncio.timeout` around the block), or a
timeout inside it gave up on a statement (the command timeout)."""


@asynccontextmanager
async def borrow(pool: asyncpg.Pool[Any], *, wait_s: float | None = None) -> AsyncIterator[DB]:
    """A pooled connection for the length of the block (waiting at most `wait_s` for one): the
    one way code takes one.

    A block that ends normally, or with an ordinary error, gives the connection back. One
    interrupted (INTERRUPTIONS, or anything that is not an Exception) discards it instead:
    whether its statement ran, was cancelled or still runs on the server is unknown, and a
    connection handed back in that state can fail the next borrower (inside a transaction on
    the server's side, or a late cancel request). The pool opens a fresh one in its place; the
    server rolls back whatever the closed session had open (docs/decisions.md).
    """
    async with pool.acquire(timeout=wait_s) as conn:
        try:
            yield conn
        except BaseException as exc:
            if isinstance(exc, INTERRUPTIONS) or not isinstance(exc, Exception):
                conn.terminate()
                POOL_DISCARDED.inc()
            raise


CHECK_ERRORS: tuple[type[Exception], ...] = (*UNAVAILABLE_ERRORS, asyncpg.PostgresError)
CHECK_WAIT_S = 2.0
"""How long `unclean` waits for each connection: one not given back by then is held (a leak)."""


async def unclean(pool: asyncpg.Pool[Any]) -> list[str]:
    """What is wrong with the pool's connections, if anything (an empty list: all clean).

    Borrows every connection the pool holds, all at once; each must answer a trivial query,
    and the server must say, with its answer, that the session is not inside a transaction.
    For a pool at rest: at a graceful stop, or after a test.
    """
    found: list[str] = []
    async with AsyncExitStack() as stack:
        borrowed: list[DB] = []
        for _ in range(pool.get_size()):
            try:
                borrowed.append(await stack.enter_async_context(borrow(pool, wait_s=CHECK_WAIT_S)))
            except TimeoutError:
                found.append(f"a connection was not given back within {CHECK_WAIT_S:g} s")
        for conn in borrowed:
            try:
                # Its answer ends with the server's own word on the session: in a transaction
                # block or not (ReadyForQuery), whatever asyncpg believed before.
                await conn.execute("SELECT 1", timeout=CHECK_WAIT_S)
            except CHECK_ERRORS as exc:
                found.append(f"connection {conn.get_server_pid()}: {type(exc).__name__}: {exc}")
                continue
            if conn.is_in_transaction():
                found.append(f"connection {conn.get_server_pid()} is inside a transaction")
    return found
