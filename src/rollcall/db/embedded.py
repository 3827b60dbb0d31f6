"""The embedded PostgreSQL server (pgserver) that rollcall runs when no DATABASE_URL is set."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from rollcall.errors import DatabaseSetupError

log = logging.getLogger(__name__)

DATABASE_NAME = "rollcall"

_started: list[Any] = []
"""The pgserver handles this process started, so that stop_embedded() can let go of them."""


def _pgdata(data_dir: Path) -> Path:
    return data_dir.expanduser().resolve() / "pgdata"


def start_embedded(data_dir: Path, *, database: str = DATABASE_NAME) -> str:
    """Start (or reuse) the server whose data lives in data_dir and return a URL to `database`.

    The server keeps running while any process that asked for it is alive, and stops with the
    last one; its data stays for the next start.
    """
    pgdata = _pgdata(data_dir)
    try:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        if not os.access(pgdata.parent, os.W_OK | os.X_OK):
            raise PermissionError(f"no write permission on {pgdata.parent}")
    except OSError as exc:
        raise DatabaseSetupError(
            f"cannot use the data directory {pgdata.parent}: {exc.strerror or exc}. "
            "Set ROLLCALL_DATA_DIR (or --data-dir) to a writable directory."
        ) from exc
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); pgserver copes.
        warnings.simplefilter("ignore")
        import pgserver

        try:
            server: Any = pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
        except Exception as exc:  # pgserver raises bare CalledProcessError/AssertionError
            raise DatabaseSetupError(
                f"the embedded PostgreSQL in {pgdata} did not start: {exc}. "
                f"Its log is {pgdata / 'log'}."
            ) from exc
    _started.append(server)
    ensure_database(server.get_uri(), database)
    url: str = server.get_uri(database)
    log.info("embedded PostgreSQL ready in %s", pgdata)
    return url


def ensure_database(server_url: str, database: str) -> None:
    """Create `database` on the server unless it is there already."""
    with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        if exists.fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def stop_embedded() -> None:
    """Let go of the embedded server; it stops when no other rollcall process still uses it.

    pgserver would do this at exit, but a process stopped by a signal never reaches exit
    handlers, so the app calls this at the end of its shutdown.
    """
    while _started:
        server = _started.pop()
        try:
            server.cleanup()
        except Exception as exc:  # stopping must not hide why the app is stopping
            log.warning("could not stop the embedded PostgreSQL: %s", exc)
