"""The fault drill's tools: a PostgreSQL of its own that can be stopped and started, and phones.

Every test here runs real `rollcall serve` processes against a real PostgreSQL, on loopback,
with bounded numbers of requests and sockets.
"""

from __future__ import annotations

import asyncio
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from rollcall.db import migrate
from rollcall.db.embedded import ensure_database
from tests.pg import embedded_server


class RestartablePostgres:
    """A throwaway embedded PostgreSQL that a test may stop and start again."""

    def __init__(self, server: Any) -> None:
        self._server = server
        ensure_database(server.get_uri(), "rollcall")
        self.url: str = server.get_uri("rollcall")
        self.admin_url: str = server.get_uri()
        migrate.upgrade(self.url)

    def _pg_ctl(self, *args: str) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pgserver._commands import pg_ctl

        pg_ctl(list(args), pgdata=self._server.pgdata, user=self._server.system_user)

    def stop(self) -> None:
        """A fast shutdown, as a restart by an operator or a package upgrade does."""
        self._pg_ctl("-w", "-m", "fast", "stop")

    def start(self) -> None:
        pgdata = self._server.pgdata
        self._pg_ctl(
            "-w", "-o", "-h ''", "-o", f"-k {pgdata}", "-l", str(self._server.log), "start"
        )


@pytest.fixture(autouse=True)
def clean_pool_at_stop(tmp_path: Path) -> Iterator[None]:
    """After each drill, every rollcall process it stopped gracefully found its pool clean.

    At a graceful stop a process borrows each of its pooled connections (db.pool.unclean):
    each must come back, answer, and be outside a transaction; it logs what it found. A drill
    writes its processes' logs to its tmp_path; a process killed outright logs nothing.
    """
    yield
    logs = {path.name: path.read_text(errors="replace") for path in tmp_path.glob("rollcall-*.log")}
    unclean = [line for text in logs.values() for line in text.splitlines() if POOL_UNCLEAN in line]
    assert not unclean, unclean
    if logs:
        assert any(POOL_CLEAN in text for text in logs.values()), "no process checked its pool"


POOL_CLEAN = "pool clean at stop"
POOL_UNCLEAN = "pool not clean at stop"


@pytest.fixture
def restartable_pg() -> Iterator[RestartablePostgres]:
    with embedded_server("rollcall-faults-") as server:
        yield RestartablePostgres(server)


@dataclass
class Outcome:
    """What one phone's request got, and how long it took."""

    status: int | None
    seconds: float
    started: float = 0.0  # time.monotonic() when the request went out
    retry_after: str | None = None
    body: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Phone:
    device_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    name: str = field(default_factory=lambda: f"Phone {uuid.uuid4().hex[:10]}")

    async def join(self, client: httpx.AsyncClient, base_url: str, code: str) -> Outcome:
        started = time.monotonic()
        try:
            response = await client.post(
                f"{base_url}/api/events/{code}/join",
                json={"device_id": self.device_id, "display_name": self.name},
            )
        except httpx.HTTPError as exc:
            return Outcome(
                None, time.monotonic() - started, started, error=f"{type(exc).__name__}: {exc}"
            )
        try:
            body = response.json()
        except ValueError:
            body = {"text": response.text[:200]}
        return Outcome(
            response.status_code,
            time.monotonic() - started,
            started,
            response.headers.get("retry-after"),
            body,
        )


async def bounded(limit: int, jobs: list[Any]) -> list[Any]:
    """Run coroutines with at most `limit` at a time; results in order."""
    gate = asyncio.Semaphore(limit)

    async def one(job: Any) -> Any:
        async with gate:
            return await job

    return await asyncio.gather(*(one(job) for job in jobs))
