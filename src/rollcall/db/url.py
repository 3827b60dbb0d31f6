"""Finding the database: DATABASE_URL when set, else the embedded server."""

from __future__ import annotations

import psycopg

from rollcall.db.embedded import start_embedded
from rollcall.errors import DatabaseSetupError
from rollcall.settings import Settings


def resolve_database_url(settings: Settings) -> str:
    """The URL to use, starting the embedded server if DATABASE_URL is unset."""
    if settings.database_url is None:
        return start_embedded(settings.data_dir)
    check_reachable(settings.database_url)
    return settings.database_url


def check_reachable(url: str) -> None:
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        raise DatabaseSetupError(
            f"cannot reach the database at {redact(url)}: {str(exc).strip()}"
        ) from exc


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url


def sqlalchemy_url(url: str) -> str:
    """The same URL for SQLAlchemy's psycopg 3 dialect (used by Alembic)."""
    return "postgresql+psycopg://" + url.partition("://")[2]
