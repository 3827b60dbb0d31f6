"""Alembic environment: raw-SQL revisions over psycopg 3, one transaction per revision."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from rollcall.db.migration_lock import migration_lock

config = context.config


def _configure(connection: Connection) -> None:
    context.configure(connection=connection, transaction_per_migration=True)
    with migration_lock(connection), context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        literal_binds=True,
        output_buffer=config.attributes.get("output_buffer"),
        transaction_per_migration=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    given = config.attributes.get("connection")
    if isinstance(given, Connection):
        _configure(given)
        return
    # pytest-alembic hands over an Engine; the CLI hands over nothing but the URL.
    engine = given if isinstance(given, Engine) else None
    own = engine is None
    if engine is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=NullPool)
    try:
        with engine.connect() as connection:
            _configure(connection)
    finally:
        if own:
            engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
