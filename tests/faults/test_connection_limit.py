"""Another client takes every connection the database allows: rollcall answers 503, not 500,
and serves again as soon as connections free up."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from tests.faults.conftest import Phone, bounded
from tests.pg import PgServer
from tests.polling import eventually
from tests.servers import rollcall_server

pytestmark = pytest.mark.faults

LIMIT = 4  # connections the database allows its (non-superuser) role
REQUESTS = 40
AFTER_IN_FLIGHT = LIMIT - 2
"""Requests at once once the other client let go: the pool can hold LIMIT connections less the
listener's and the webhook deliverer's. One more at once makes the pool open a connection past
the database's limit, which is refused (503), not queued."""


@pytest.fixture
def limited_database(pg: PgServer) -> Iterator[tuple[str, str]]:
    """(the role's URL, the admin URL) of a database with CONNECTION LIMIT, for a plain role.

    Superusers are exempt from connection limits, so rollcall and the other client connect
    as a role of their own.
    """
    role = f"rollcall_limited_{secrets.token_hex(4)}"
    with pg.fresh_database(migrated=True) as admin_url:
        database = psycopg.conninfo.conninfo_to_dict(admin_url)["dbname"]
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
            for grant in (
                "GRANT CONNECT ON DATABASE {db} TO {role}",
                "GRANT USAGE ON SCHEMA public TO {role}",
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
                "GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {role}",
                "ALTER DATABASE {db} CONNECTION LIMIT " + str(LIMIT),
            ):
                conn.execute(
                    sql.SQL(grant).format(
                        db=sql.Identifier(str(database)), role=sql.Identifier(role)
                    )
                )
        try:
            yield pg.url_for(str(database), user=role), admin_url
        finally:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                    (role,),
                )
            with psycopg.connect(pg.admin_url, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
    with psycopg.connect(pg.admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def _fill(url: str) -> list[psycopg.Connection]:
    """Take every connection left, as a runaway worker or a leaky client would."""
    taken: list[psycopg.Connection] = []
    while True:
        try:
            taken.append(psycopg.connect(url, connect_timeout=3))
        except psycopg.OperationalError as exc:
            assert "too many connections" in str(exc), exc
            return taken
        assert len(taken) <= LIMIT


async def test_a_full_connection_limit_is_503_and_service_comes_back(
    limited_database: tuple[str, str], tmp_path: Path
) -> None:
    role_url, _ = limited_database
    with rollcall_server(role_url, tmp_path) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            created = await client.post("/api/events", json={"title": "Connection limit"})
            assert created.status_code == 201
            code = created.json()["event"]["code"]

            taken = await asyncio.to_thread(_fill, role_url)
            try:
                started = time.monotonic()
                answers = await bounded(
                    REQUESTS,
                    [
                        client.get(f"/api/events/{code}")
                        if i % 2
                        else client.post(
                            f"/api/events/{code}/join",
                            json={"device_id": Phone().device_id, "display_name": f"P{i}"},
                        )
                        for i in range(REQUESTS)
                    ],
                )
                elapsed = time.monotonic() - started
                health = await client.get("/healthz")
            finally:
                for conn in taken:
                    conn.close()
            statuses = [answer.status_code for answer in answers]
            assert set(statuses) <= {200, 201, 503}, statuses
            refused = [answer for answer in answers if answer.status_code == 503]
            assert refused, f"the limit was reached, so some requests were refused: {statuses}"
            for answer in refused:
                assert answer.headers["retry-after"]
                assert answer.json()["code"] == "service_unavailable"
            assert elapsed < 5 * 2, f"{REQUESTS} answers took {elapsed:.1f} s"
            assert health.status_code in (200, 503)

            # The other client let go: every request is served again, as many at a time as
            # the pool can hold connections (AFTER_IN_FLIGHT).
            async def all_served() -> list[int] | None:
                again = await bounded(
                    AFTER_IN_FLIGHT,
                    [client.get(f"/api/events/{code}") for _ in range(REQUESTS)],
                )
                codes = [answer.status_code for answer in again]
                return None if any(status != 200 for status in codes) else codes

            await eventually(all_served, timeout=15, interval=0.2, what="every request served")
            joined = await client.post(
                f"/api/events/{code}/join",
                json={"device_id": Phone().device_id, "display_name": "After"},
            )
            assert joined.status_code == 201
        log = server.log()
    assert "Traceback" not in log and "unexpected error" not in log, log[-3000:]
