"""Migration fixtures: pytest-alembic's, bound to a fresh database on the test server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.config import Config
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import NullPool

from rollcall.db import schema
from rollcall.db.schema import SchemaSnapshot
from rollcall.db.schema import alembic_config as rollcall_alembic_config
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


def schema_snapshot(engine: Engine) -> SchemaSnapshot:
    """Every column, constraint, index, default and function of the public schema."""
    return schema.schema_snapshot(
        engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    )
