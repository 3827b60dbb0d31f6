"""Real `rollcall serve` processes sharing one database, with short presence timings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import FAST, RollcallServer, rollcall_server


@pytest.fixture(scope="module")
def server_a(module_db: str, logs: Path) -> Iterator[RollcallServer]:
    with rollcall_server(module_db, logs, **FAST) as server:
        yield server


@pytest.fixture(scope="module")
def server_b(module_db: str, logs: Path) -> Iterator[RollcallServer]:
    with rollcall_server(module_db, logs, **FAST) as server:
        yield server


@pytest.fixture
async def http_a(server_a: RollcallServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server_a.base_url, timeout=10) as client:
        yield client


@pytest.fixture
async def http_b(server_b: RollcallServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server_b.base_url, timeout=10) as client:
        yield client
