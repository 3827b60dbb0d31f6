"""The PostgreSQL server the tests run against: embedded by default, external when told.

ROLLCALL_TEST_DATABASE_URL names an external server (any database on it); every database the
tests use is created fresh on it and dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from rollcall.db import schema

EXTERNAL_URL_VARIABLE = "ROLLCALL_TEST_DATABASE_URL"


class PgServer:
    def __init__(self, admin_url: str, *, external: bool) -> None:
        self.admin_url = admin_url
        self.external = external

    def url_for(self, database: str, *, user: str | None = None) -> str:
        """A URL to `database` on this server, as the admin or as `user` (no password)."""
        conninfo = psycopg.conninfo.conninfo_to_dict(self.admin_url)
        conninfo["dbname"] = database
        if user is not None:
            conninfo["user"] = user
            conninfo.pop("password", None)
        return _to_url(conninfo)

    def create_database(self, prefix: str = "rollcall_test") -> str:
        name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    @contextmanager
    def fresh_database(self, *, migrated: bool = False) -> Iterator[str]:
        """A new, empty database (optionally at head) for one test or one module."""
        name = self.create_database()
        url = self.url_for(name)
        try:
            if migrated:
                schema.upgrade(url)
            yield url
        finally:
            self.drop_database(name)


def _to_url(conninfo: dict[str, object]) -> str:
    user = conninfo.get("user") or "postgres"
    password = conninfo.get("password")
    host = str(conninfo.get("host") or "")
    port = conninfo.get("port")
    dbname = conninfo["dbname"]
    auth = f"{user}:{password}" if password else f"{user}"
    if host.startswith("/"):
        return f"postgresql://{auth}@/{dbname}?host={host}" + (f"&port={port}" if port else "")
    netloc = f"{host}:{port}" if port else host
    return f"postgresql://{auth}@{netloc}/{dbname}"


@contextmanager
def embedded_server(prefix: str = "rollcall-test-pg-") -> Iterator[Any]:
    """A throwaway embedded PostgreSQL (a pgserver handle), deleted afterwards."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        root = Path(tempfile.mkdtemp(prefix=prefix))
        root.chmod(0o755)  # the server runs as its own system user when the tests run as root
        server = pgserver.get_server(root / "pgdata", cleanup_mode="delete")
    try:
        yield server
    finally:
        server.cleanup()


@contextmanager
def test_server() -> Iterator[PgServer]:
    external = os.environ.get(EXTERNAL_URL_VARIABLE)
    if external:
        with psycopg.connect(external, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
        yield PgServer(external, external=True)
        return
    with embedded_server() as server:
        yield PgServer(server.get_uri(), external=False)
