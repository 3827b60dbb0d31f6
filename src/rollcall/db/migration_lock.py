"""One schema change at a time: a session advisory lock held while revisions run.

Two `rollcall serve` (or `rollcall db upgrade`) started together against one database would
otherwise both read the same revision and both run it. The second waits here until the first
is done, then finds the schema at head and has nothing to do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Connection

log = logging.getLogger("rollcall.migrations")

MIGRATION_LOCK_KEY = 0x6D696772  # "migr"; the presence sweep's is "roll", retention's "reta"
POLL_S = 0.25
"""How often a waiting upgrade asks for the lock again."""


def _try_lock(connection: Connection) -> bool:
    """One attempt, its transaction ended at once.

    Waiting is done between attempts, outside any transaction: a session waiting inside a
    statement (pg_advisory_lock) holds a snapshot, and the other upgrade's CREATE INDEX
    CONCURRENTLY would wait for that snapshot to go, while this one waits for its lock.
    """
    locked = bool(
        connection.exec_driver_sql(f"SELECT pg_try_advisory_lock({MIGRATION_LOCK_KEY})").scalar()
    )
    connection.commit()
    return locked


@contextmanager
def migration_lock(connection: Connection) -> Iterator[None]:
    """Hold the migration lock on this connection (its session) for the block.

    The lock is the session's, so the revisions' own commits keep it; a process that dies
    loses its connection and with it the lock.
    """
    said = False
    while not _try_lock(connection):
        if not said:
            log.info("another rollcall is changing the schema: waiting for it to finish")
            said = True
        time.sleep(POLL_S)
    try:
        yield
    finally:
        if not connection.closed and not connection.invalidated:
            connection.rollback()
            connection.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")
            connection.commit()
