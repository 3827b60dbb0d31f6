"""Alembic, run in-process through psycopg 3: upgrade, downgrade, current and offline SQL."""

from __future__ import annotations

import io
import logging
from pathlib import Path

from alembic import command
from alembic.config import Config

from rollcall.db.url import sqlalchemy_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str | None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    if database_url is not None:
        # ConfigParser interpolates %, so a percent-encoded password must be doubled.
        cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url).replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def current(database_url: str) -> str:
    """The revision the database is at ('base' when it has none)."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(sqlalchemy_url(database_url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            heads = MigrationContext.configure(conn).get_current_heads()
    finally:
        engine.dispose()
    return ", ".join(heads) if heads else "base"


def head() -> str:
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(alembic_config(None)).get_heads()
    return ", ".join(heads)


def offline_sql(*, downgrade: bool = False) -> str:
    """The SQL the migrations would run (base to head, or head to base), for review and squawk.

    Needs no database.
    """
    buffer = io.StringIO()
    cfg = alembic_config("postgresql://offline/rollcall")
    cfg.attributes["output_buffer"] = buffer
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if downgrade:
        command.downgrade(cfg, "head:base", sql=True)
    else:
        command.upgrade(cfg, "base:head", sql=True)
    return (
        buffer.getvalue()
        .replace(_ALEMBIC_VERSION_TABLE, _ALEMBIC_VERSION_NOTE + _ALEMBIC_VERSION_TABLE)
        .replace(_ALEMBIC_VERSION_COLUMN, _ALEMBIC_VERSION_COLUMN_NOTE + _ALEMBIC_VERSION_COLUMN)
    )


_ALEMBIC_VERSION_TABLE = "CREATE TABLE alembic_version"
_ALEMBIC_VERSION_NOTE = (
    "-- Alembic's own bookkeeping table, written by Alembic rather than by a revision: it is\n"
    "-- created once, empty, in the first revision's transaction (so a failure rolls it back),\n"
    "-- and its varchar(32) column is never resized.\n"
    "-- squawk-ignore prefer-robust-stmts\n"
)
_ALEMBIC_VERSION_COLUMN = "    version_num VARCHAR(32)"
_ALEMBIC_VERSION_COLUMN_NOTE = "    -- squawk-ignore prefer-text-field\n"
