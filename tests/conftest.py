"""Fixtures shared by the whole suite: a real PostgreSQL, the app, an HTTP client."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from rollcall.app import create_app
from rollcall.settings import Settings
from tests.pg import PgServer, test_server
from tests.servers import UNLIMITED


def pytest_report_header() -> str:
    import os

    from tests.pg import EXTERNAL_URL_VARIABLE

    where = os.environ.get(EXTERNAL_URL_VARIABLE)
    return f"database: {'external server via ' + EXTERNAL_URL_VARIABLE if where else 'embedded'}"


@pytest.fixture(scope="session")
def pg() -> Iterator[PgServer]:
    with test_server() as server:
        yield server


@pytest.fixture(scope="session")
def database_url(pg: PgServer) -> Iterator[str]:
    """One database at head, shared by the tests that each make their own events."""
    with pg.fresh_database(migrated=True) as url:
        yield url


@pytest.fixture(scope="module")
def module_db(pg: PgServer) -> Iterator[str]:
    """A database at head of the module's own, for the `rollcall serve` processes it starts."""
    with pg.fresh_database(migrated=True) as url:
        yield url


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for the logs of the servers a module starts."""
    return tmp_path_factory.mktemp("logs")


@pytest.fixture
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        database_url=None,
        data_dir=tmp_path_factory.mktemp("data"),
        public_url="http://rollcall.test",
        heartbeat_interval_s=10,
        presence_timeout_s=30,
        gc_freeze=False,  # the test process is not a server: its heap stays collected as usual
        **UNLIMITED,
    )


@pytest.fixture
async def client(settings: Settings, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, database_url=database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rollcall.test") as c:
            yield c


@pytest.fixture(autouse=True)
def _quiet_pgserver() -> None:
    logging.getLogger("pgserver").setLevel(logging.WARNING)


REDIS_URL_VARIABLE = "ROLLCALL_TEST_REDIS_URL"
REDIS_URL_DEFAULT = "redis://127.0.0.1:6379"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis for the limits a fleet shares: ROLLCALL_TEST_REDIS_URL, else the local one.

    Skipped when none answers, except under CI=true, where a missing Redis fails the test (as
    a missing external PostgreSQL does)."""
    import os
    import socket
    from urllib.parse import urlsplit

    url = os.environ.get(REDIS_URL_VARIABLE, REDIS_URL_DEFAULT)
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or 6379), timeout=2) as probe:
            probe.sendall(b"PING\r\n")
            answer = probe.recv(64)
    except OSError as exc:
        answer = f"{exc}".encode()
    if answer.startswith((b"+PONG", b"-NOAUTH")):
        return url
    message = f"no Redis answers at {parts.hostname}:{parts.port or 6379} ({answer!r}); set {REDIS_URL_VARIABLE}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)
