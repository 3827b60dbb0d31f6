"""Who may open a socket: a cap per client address and in total, and a bounded hello lookup.

A socket costs memory before it says who it is, and its hello costs a database lookup, so a
flood of sockets (or of hellos with made-up tokens) from one address must not crowd out the
others or the HTTP routes that share the pool.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from rollcall.db.pool import DB, borrow

HELLO_WAIT_S = 2.0
"""How long a hello waits for a database connection before it is told to try again later."""


class TooBusy(Exception):
    """No database connection for a hello within HELLO_WAIT_S."""


class SocketGate:
    def __init__(self, pool: asyncpg.Pool[Any], *, max_sockets: int, max_per_address: int) -> None:
        self._pool = pool
        self._max = max_sockets
        self._max_per_address = max_per_address
        self._open: Counter[str] = Counter()
        self._total = 0
        # Hellos may use at most half the pool, so HTTP routes always find a connection.
        self._lookups = asyncio.Semaphore(max(1, pool.get_max_size() // 2))

    def enter(self, address: str) -> bool:
        """Count a new socket from this address; False when a cap is reached (refuse it)."""
        if self._total >= self._max or self._open[address] >= self._max_per_address:
            return False
        self._open[address] += 1
        self._total += 1
        return True

    def leave(self, address: str) -> None:
        self._total -= 1
        self._open[address] -= 1
        if self._open[address] <= 0:
            del self._open[address]

    @asynccontextmanager
    async def lookup(self) -> AsyncIterator[DB]:
        """A pooled connection for a hello, or TooBusy after HELLO_WAIT_S."""
        try:
            await asyncio.wait_for(self._lookups.acquire(), HELLO_WAIT_S)
        except TimeoutError as exc:
            raise TooBusy from exc
        borrowed = False
        try:
            async with borrow(self._pool, wait_s=HELLO_WAIT_S) as connection:
                borrowed = True
                yield connection
        except TimeoutError as exc:
            if borrowed:  # the lookup's own query timed out, not the wait for a connection
                raise
            raise TooBusy from exc
        finally:
            self._lookups.release()
