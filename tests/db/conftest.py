"""Migration fixtures: pytest-alembic's, bound to a fresh database on the test server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from alembic.config import Config
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import NullPool

from rollcall.db.migrate import alembic_config as rollcall_alembic_config
from rollcall.db.url import sqlalchemy_url
from tests.pg import PgServer


@pytest.fixture
def empty_database_url(pg: PgServer) -> Iterator[str]:
    with pg.fresh_database() as url:
        yield url


@pytest.fixture
def alembic_config(empty_database_url: str) -> Config:
    return rollcall_alembic_config(empty_database_url)


@pytest.fixture
def alembic_engine(empty_database_url: str) -> Iterator[Engine]:
    engine = create_engine(sqlalchemy_url(empty_database_url), poolclass=NullPool)
    yield engine
    engine.dispose()


def schema_snapshot(engine: Engine) -> dict[str, Any]:
    """Every column, constraint, index and default of the public schema, from pg_catalog.

    Alembic's own version table is left out: it records the revision, it is not the schema.
    """
    queries = {
        "columns": """
            SELECT table_name, column_name, data_type, is_nullable, column_default
            FROM information_schema.columns
            WHERE table_schema = 'public' AND table_name <> 'alembic_version'
            ORDER BY table_name, column_name""",
        "constraints": """
            SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
            FROM pg_constraint
            WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text <> 'alembic_version'
            ORDER BY 1, 2""",
        "indexes": """
            SELECT tablename, indexname, indexdef FROM pg_indexes
            WHERE schemaname = 'public' AND tablename <> 'alembic_version' ORDER BY 1, 2""",
        "tables": """
            SELECT tablename FROM pg_tables
            WHERE schemaname = 'public' AND tablename <> 'alembic_version' ORDER BY 1""",
    }
    from sqlalchemy import text

    with engine.connect() as conn:
        return {
            name: [tuple(row) for row in conn.execute(text(query))]
            for name, query in queries.items()
        }
