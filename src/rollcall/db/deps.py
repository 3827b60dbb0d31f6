"""FastAPI dependencies that hand a route a pooled connection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from rollcall.db.pool import CONNECT_TIMEOUT_S


async def _connection(request: Request) -> AsyncIterator[asyncpg.Connection]:
    async with request.app.state.pool.acquire(timeout=CONNECT_TIMEOUT_S) as conn:
        yield conn


Conn = Annotated[asyncpg.Connection, Depends(_connection)]
