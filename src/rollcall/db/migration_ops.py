"""Building blocks for revisions that must be safe on a large, busy table.

Each helper works online (against a database) and offline (`rollcall db sql`), where it emits
the SQL an operator would review.
"""

from __future__ import annotations

import logging
import random
import re
import textwrap
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from uuid import UUID

import psycopg
from alembic import op
from psycopg.rows import TupleRow
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

log = logging.getLogger("rollcall.migrations")

LOCK_TIMEOUT = "5s"
"""How long DDL may wait for its lock. Failing fast beats queueing every query behind it."""

STATEMENT_TIMEOUT = "60s"
"""Ceiling for each ordinary statement (a backfill batch, a DDL step)."""

INDEX_BUILD_TIMEOUT = "2h"
"""Ceiling for a CONCURRENTLY index build: it blocks no writer, but must not run forever."""

INDEX_BUILD_MEMORY = "256MB"
"""Sort memory for an index build: a big table's index sorted in memory, not in many passes."""

BATCH_SIZE = 5_000
"""Rows a backfill batch aims at; fewer when statements run slow (see TARGET_STATEMENT_S)."""
MIN_BATCH_SIZE = 100
MAX_EVENTS_PER_BATCH = 1_000
TARGET_STATEMENT_S = 0.25
"""Batches are sized for statements of about this long: the next batch scales by the target
over the slowest statement of the last one (never above BATCH_SIZE), so a busy server gets
smaller batches and no statement runs long whatever the table's size."""
PROGRESS_EVERY_S = 2.0


def execute_justified(statement: str, *, ignore: str, why: str) -> None:
    """Run a statement that squawk flags, with the reason beside the ignore in the SQL itself."""
    op.execute(f"-- {why}\n-- squawk-ignore {ignore}\n{statement}")


def offline() -> bool:
    return bool(op.get_context().as_sql)


def set_timeouts(statement_timeout: str = STATEMENT_TIMEOUT) -> None:
    op.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
    op.execute(f"SET statement_timeout = '{statement_timeout}'")


EventBatch = Callable[["Walk", "psycopg.Connection[TupleRow]", list[UUID]], int]
"""Does a backfill's work for these events, committed; returns the rows it went through."""


def backfill_by_event(*, label: str, table: str, batch: EventBatch, describe: str) -> None:
    """Walk the events once, in id order, and hand them to `batch` a few at a time.

    Keyset batches (`WHERE id > last ORDER BY id LIMIT n`), each committed on its own: the
    cost of a batch does not depend on the table's size, and the whole pass is linear. A
    group holds about BATCH_SIZE rows of `table` (the number of events adapts to the rows
    seen), or one event when an event alone is larger. An event's rows were written within the
    same minutes, so a batch works on one region of the table at a time (random primary keys
    would send it all over), and whatever needs the whole event at once (names that clash,
    seats to count) has it. A rerun walks again; rows already done cost a read.
    """
    if offline():
        _review(
            f"{label}: run online by `rollcall db upgrade`, one pass over events in id order,"
            f" about {BATCH_SIZE} rows of {table} a batch, each batch committed on its own:",
            describe,
        )
        return
    with _autocommit_connection() as conn:
        walk = Walk(label, total=estimate_rows(conn, table))
        events = 1
        after: UUID | None = None
        while True:
            if after is None:
                found = walk.run(conn, "SELECT id FROM events ORDER BY id LIMIT %s", (events,))
            else:
                found = walk.run(
                    conn,
                    "SELECT id FROM events WHERE id > %s ORDER BY id LIMIT %s",
                    (after, events),
                )
            ids: list[UUID] = [row[0] for row in found.fetchall()]
            if not ids:
                break
            rows = batch(walk, conn, ids)
            walk.advance(rows)
            per_event = max(rows / len(ids), 1.0)
            events = max(1, min(MAX_EVENTS_PER_BATCH, int(walk.rows / per_event)))
            after = ids[-1]
        walk.finish()


def one_statement(statement: str) -> EventBatch:
    """A batch that is one statement: it takes the events as %(events)s and returns the rows."""

    def batch(walk: Walk, conn: psycopg.Connection[TupleRow], events: list[UUID]) -> int:
        found = walk.run(conn, statement, {"events": events}).fetchone()
        assert found is not None
        return int(found[0])

    return batch


def _review(what: str, statements: str) -> None:
    """Offline, a step that only runs online: what it does and its statements, as comments."""
    shown = []
    for statement in statements.strip().rstrip(";").split(";\n"):
        named = re.sub(r"%\((\w+)\)s", r"$\1", statement)
        pieces = named.split("%s")
        shown.append(pieces[0] + "".join(f"${n}{p}" for n, p in enumerate(pieces[1:], 1)))
    lines = textwrap.wrap(what, 96) + [f"  {line}" for line in ";\n".join(shown).splitlines()]
    op.execute("\n".join(f"-- {line}" for line in lines))


class Walk:
    """One backfill's pass: the batch size, the statements' times, and the operator's progress.

    A line at least every PROGRESS_EVERY_S or every tenth of the table: rows done of the total
    (estimated from the planner's statistics until the pass ends), rows per second, time left.
    """

    def __init__(self, label: str, *, total: int, say: Callable[[str], None] | None = None) -> None:
        self.label = label
        self.total = total
        self.say = say or log.info
        self.rows = BATCH_SIZE
        self.done = 0
        self.longest = 0.0
        self._slowest = 0.0
        self.started = self._shown_at = time.monotonic()
        self._shown_done = 0
        self.say(f"{label}: 0 of {total} rows")

    def run(
        self,
        conn: psycopg.Connection[TupleRow],
        query: str,
        params: Sequence[object] | Mapping[str, object] | None = None,
    ) -> psycopg.Cursor[TupleRow]:
        """Execute one statement of the backfill, timed."""
        began = time.monotonic()
        cursor = conn.execute(query, params)
        self._slowest = max(self._slowest, time.monotonic() - began)
        return cursor

    def advance(self, rows: int) -> None:
        """A batch is committed: count its rows, size the next one, and maybe say so."""
        self.done += rows
        self.longest = max(self.longest, self._slowest)
        scale = min(TARGET_STATEMENT_S / max(self._slowest, 1e-3), 2.0)
        self.rows = max(MIN_BATCH_SIZE, min(BATCH_SIZE, int(self.rows * scale)))
        self._slowest = 0.0
        now = time.monotonic()
        tenth = max(self.total, 1) / 10
        if now - self._shown_at >= PROGRESS_EVERY_S or self.done - self._shown_done >= tenth:
            self._shown_at, self._shown_done = now, self.done
            self.say(self._line(now))

    def _line(self, now: float) -> str:
        total = max(self.total, self.done)
        elapsed = max(now - self.started, 1e-6)
        rate = self.done / elapsed
        left = (total - self.done) / rate if rate > 0 else 0.0
        percent = 100 * self.done / total if total else 100.0
        return (
            f"{self.label}: {self.done} of {total} rows"
            f" ({percent:.0f}%, {rate:,.0f} rows/s, {left:.0f} s left)"
        )

    def finish(self) -> None:
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        self.say(
            f"{self.label}: {self.done} of {self.done} rows in {elapsed:.1f} s"
            f" ({rate:,.0f} rows/s, longest statement {self.longest:.2f} s)"
        )


def estimate_rows(conn: psycopg.Connection[TupleRow], table: str) -> int:
    """The table's rows, from a fresh ANALYZE: no count(*) scan of a big table.

    ANALYZE reads a sample whose size does not grow with the table, and it also gives the
    planner the statistics of the column about to be filled.
    """
    conn.execute(f"ANALYZE {table}")
    found = conn.execute(
        "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = %s::regclass", (table,)
    ).fetchone()
    assert found is not None
    return int(found[0])


@contextmanager
def _autocommit_connection() -> Iterator[psycopg.Connection[TupleRow]]:
    """The migration's own psycopg connection, outside any transaction: each statement commits."""
    with op.get_context().autocommit_block():
        conn = op.get_bind().connection.driver_connection
        assert isinstance(conn, psycopg.Connection)
        conn.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
        conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        # Each batch planned for its own keys: a generic plan may scan the whole table.
        conn.execute("SET plan_cache_mode = force_custom_plan")
        # A batch's commit need not wait for the disk: a crash can lose only the last batches,
        # which the rerun that follows any interruption does again. Other sessions' commits
        # are as durable as ever.
        conn.execute("SET synchronous_commit = off")
        yield conn
        conn.execute("RESET plan_cache_mode")
        conn.execute("RESET synchronous_commit")


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
        op.execute(f"SET maintenance_work_mem = '{INDEX_BUILD_MEMORY}'")
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        op.execute(f"CREATE {kind} CONCURRENTLY IF NOT EXISTS {name} ON {table} ({columns})")
        op.execute("RESET maintenance_work_mem")
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
    commit()  # the two statements above lock the table: release it at once


def add_check_not_valid(*, table: str, name: str, check: str) -> None:
    """Add a CHECK without scanning (NOT VALID); validate_constraint() checks old rows later."""
    execute_justified(
        f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}",
        ignore="ban-drop-constraint",
        why="Removes only a leftover of an interrupted run of this same step, so it can rerun.",
    )
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({check}) NOT VALID")


TABLE_LOCK_WAIT = "500ms"
"""How long a revision waits for the first table it locks: writers queue behind it meanwhile."""
TABLE_LOCK_ATTEMPTS = 120
TABLE_LOCK_PAUSE_S = (0.1, 0.5)
"""Between two attempts, a pause drawn from this range: the writers go on meanwhile."""


def lock_tables(*tables: str) -> None:
    """Lock these tables (ACCESS EXCLUSIVE, in this order) for the rest of the transaction.

    Writers take `events` before `event_participants` (a join locks its event row first), and
    some take `event_participants` alone; a revision that altered one table and then waited
    for the other could deadlock with a writer of the previous release, which then loses its
    write. So a revision takes every lock it needs up front: it waits (briefly) only for the
    first, while it holds nothing, and takes the others without waiting (NOWAIT). When one is
    busy it lets go of all of them, pauses and tries again, so it never waits while holding a
    lock a writer wants, and a writer waits at most TABLE_LOCK_WAIT behind it.
    """
    statements = [
        f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE{'' if n == 0 else ' NOWAIT'}"
        for n, table in enumerate(tables)
    ]
    if offline():
        op.execute(f"SET LOCAL lock_timeout = '{TABLE_LOCK_WAIT}'")
        for statement in statements:
            op.execute(statement)
        op.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        return
    bind = op.get_bind()
    for attempt in range(1, TABLE_LOCK_ATTEMPTS + 1):
        bind.exec_driver_sql("SAVEPOINT rollcall_lock_tables")
        try:
            bind.exec_driver_sql(f"SET LOCAL lock_timeout = '{TABLE_LOCK_WAIT}'")
            for statement in statements:
                bind.exec_driver_sql(statement)
        except OperationalError as error:
            if not isinstance(error.orig, psycopg.errors.LockNotAvailable):
                raise
            bind.exec_driver_sql("ROLLBACK TO SAVEPOINT rollcall_lock_tables")
            if attempt % 10 == 0:
                log.info("%s busy: %d attempts to lock them so far", ", ".join(tables), attempt)
            time.sleep(random.uniform(*TABLE_LOCK_PAUSE_S))  # noqa: S311 (a pause, not a secret)
            continue
        bind.exec_driver_sql("RELEASE SAVEPOINT rollcall_lock_tables")
        bind.exec_driver_sql(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        return
    raise RuntimeError(
        f"{', '.join(tables)} stayed busy through {TABLE_LOCK_ATTEMPTS} attempts to lock them;"
        " run the upgrade again"
    )
