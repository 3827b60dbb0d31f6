"""Building blocks for revisions that must be safe on a large, busy table.

Each helper works online (against a database) and offline (`rollcall db sql`), where it emits
the SQL an operator would review.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from alembic import op
from sqlalchemy import text

log = logging.getLogger("rollcall.migrations")

LOCK_TIMEOUT = "5s"
"""How long DDL may wait for its lock. Failing fast beats queueing every query behind it."""

STATEMENT_TIMEOUT = "60s"
"""Ceiling for each ordinary statement (a backfill batch, a DDL step)."""

INDEX_BUILD_TIMEOUT = "2h"
"""Ceiling for a CONCURRENTLY index build: it blocks no writer, but must not run forever."""

BATCH_SIZE = 5_000


def execute_justified(statement: str, *, ignore: str, why: str) -> None:
    """Run a statement that squawk flags, with the reason beside the ignore in the SQL itself."""
    op.execute(f"-- {why}\n-- squawk-ignore {ignore}\n{statement}")


def offline() -> bool:
    return bool(op.get_context().as_sql)


def set_timeouts(statement_timeout: str = STATEMENT_TIMEOUT) -> None:
    op.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
    op.execute(f"SET statement_timeout = '{statement_timeout}'")


def backfill_in_batches(
    *, label: str, batch_sql: str, remaining_sql: str, progress: Callable[[str], None] | None = None
) -> None:
    """Run batch_sql, each batch committed on its own, until it changes no row.

    batch_sql must change at most BATCH_SIZE rows a run and nothing once all are done.
    Progress ("rows done of total") goes to the log so that an operator sees a big table move.
    """
    if offline():
        op.execute(f"-- {label}: repeat until it reports UPDATE 0\n{batch_sql}")
        return
    say = progress or log.info
    with op.get_context().autocommit_block():
        bind = op.get_bind()
        bind.execute(text(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'"))
        total = bind.execute(text(remaining_sql)).scalar_one()
        done = 0
        started = time.monotonic()
        say(f"{label}: {done} of {total} rows")
        while True:
            changed = bind.execute(text(batch_sql)).rowcount
            if changed <= 0:
                break
            done += changed
            say(f"{label}: {done} of {total} rows ({time.monotonic() - started:.1f}s)")


def commit() -> None:
    """End the revision's transaction here and begin a new one (COMMIT; BEGIN offline).

    Locks taken so far are released, so that a long step after this holds none of them.
    """
    with op.get_context().autocommit_block():
        pass


def add_unique_constraint_concurrently(*, table: str, name: str, columns: str) -> None:
    """Build the unique index without blocking writes, then attach it as a constraint.

    A failed earlier attempt leaves an INVALID index behind; it is dropped first.
    """
    if not offline() and _constraint_exists(name):
        log.info("%s is already in place; skipping its build", name)
        return
    create_index_concurrently(table=table, name=name, columns=columns, unique=True)
    execute_justified(
        f"ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE USING INDEX {name}",
        ignore="prefer-robust-stmts",
        why="Rerun-safe: online, this step is skipped when the constraint already exists.",
    )


def _constraint_exists(name: str) -> bool:
    found = op.get_bind().execute(
        text("SELECT 1 FROM pg_constraint WHERE conname = :name"), {"name": name}
    )
    return found.first() is not None


def create_index_concurrently(*, table: str, name: str, columns: str, unique: bool = False) -> None:
    kind = "UNIQUE INDEX" if unique else "INDEX"
    with op.get_context().autocommit_block():
        set_timeouts(INDEX_BUILD_TIMEOUT)
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        op.execute(f"CREATE {kind} CONCURRENTLY IF NOT EXISTS {name} ON {table} ({columns})")
    set_timeouts()


def drop_index_concurrently(name: str) -> None:
    with op.get_context().autocommit_block():
        set_timeouts(INDEX_BUILD_TIMEOUT)
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    set_timeouts()


def validate_constraint(*, table: str, name: str) -> None:
    """VALIDATE in a transaction of its own: its scan then holds no lock that blocks writers."""
    commit()
    execute_justified(
        f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}",
        ignore="prefer-robust-stmts",
        why="Idempotent: validating a valid constraint again changes nothing.",
    )
    commit()


def set_not_null_through_check(*, table: str, column: str) -> None:
    """SET NOT NULL without a long exclusive scan: a validated CHECK proves it first (PG 12+)."""
    check = f"{table}_{column}_not_null"
    add_check_not_valid(table=table, name=check, check=f"{column} IS NOT NULL")
    validate_constraint(table=table, name=check)
    execute_justified(
        f"ALTER TABLE {table} ALTER COLUMN {column} SET NOT NULL",
        ignore="prefer-robust-stmts",
        why="Idempotent, and instant: the validated CHECK above spares it the table scan.",
    )
    execute_justified(
        f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {check}",
        ignore="ban-drop-constraint",
        why="The CHECK only proved NOT NULL, which the column itself now enforces.",
    )


def add_check_not_valid(*, table: str, name: str, check: str) -> None:
    """Add a CHECK without scanning (NOT VALID); validate_constraint() checks old rows later."""
    execute_justified(
        f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}",
        ignore="ban-drop-constraint",
        why="Removes only a leftover of an interrupted run of this same step, so it can rerun.",
    )
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({check}) NOT VALID")
