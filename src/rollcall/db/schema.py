"""Alembic, run in-process through psycopg 3: upgrade, downgrade, current and offline SQL."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from types import ModuleType

from alembic import command
from alembic.config import Config

from rollcall.db.url import sqlalchemy_url
from rollcall.errors import DatabaseSetupError

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
    said = logging.getLogger("alembic.runtime.migration")
    level = said.level
    said.setLevel(logging.WARNING)  # not "Context impl PostgresqlImpl." on every look
    try:
        with engine.connect() as conn:
            heads = MigrationContext.configure(conn).get_current_heads()
    finally:
        said.setLevel(level)
        engine.dispose()
    return ", ".join(heads) if heads else "base"


def require_head(database_url: str, *, otherwise: str = "") -> None:
    """Refuse (DatabaseSetupError) a database whose schema is not the one this code needs."""
    if (at := current(database_url)) != (needed := head()):
        raise DatabaseSetupError(
            f"the database schema is at {at}, and this rollcall needs {needed}:"
            f" run `rollcall db upgrade` first{otherwise}"
        )


def head() -> str:
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(alembic_config(None)).get_heads()
    return ", ".join(heads)


def revision_module(revision: str) -> ModuleType:
    """A revision's module as written: a later one's downgrade puts back the SQL it made."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(None)).get_revision(revision)
    if script is None:
        raise LookupError(f"no revision {revision!r}")
    return script.module


SchemaSnapshot = dict[str, list[tuple[object, ...]]]

_SNAPSHOT_QUERIES = {
    "columns": """
        SELECT table_name::text, column_name::text, data_type::text, is_nullable::text,
               column_default::text
        FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name <> 'alembic_version'
        ORDER BY table_name, column_name""",
    "constraints": """
        SELECT conrelid::regclass::text, conname::text, pg_get_constraintdef(oid)
        FROM pg_constraint
        WHERE connamespace = 'public'::regnamespace
          AND conrelid::regclass::text <> 'alembic_version'
        ORDER BY 1, 2""",
    "indexes": """
        SELECT tablename::text, indexname::text, indexdef FROM pg_indexes
        WHERE schemaname = 'public' AND tablename <> 'alembic_version' ORDER BY 1, 2""",
    "tables": """
        SELECT tablename::text FROM pg_tables
        WHERE schemaname = 'public' AND tablename <> 'alembic_version' ORDER BY 1""",
    "functions": """
        SELECT p.proname::text, pg_get_function_identity_arguments(p.oid)
        FROM pg_proc AS p WHERE p.pronamespace = 'public'::regnamespace ORDER BY 1, 2""",
}


def schema_snapshot(database_url: str) -> SchemaSnapshot:
    """Every table, column, default, constraint, index and function of the public schema.

    Two snapshots are equal when the schemas are. Alembic's own version table is left out: it
    records the revision, it is not the schema.
    """
    import psycopg

    with psycopg.connect(database_url) as conn:
        return {
            name: [tuple(row) for row in conn.execute(query).fetchall()]
            for name, query in _SNAPSHOT_QUERIES.items()
        }


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
