"""Retention: idle events are closed, and closed events are deleted some days later.

An event is *idle* when nothing has happened in it for ROLLCALL_EVENT_IDLE_HOURS: its
`updated_at` (created, or its title, capacity or status changed), the newest message of its log
(every join, rejoin, leave, kick, presence change and state change writes one) and the newest
heartbeat of its participants are all older than that. An idle event is closed exactly as a
host closes it (events.service.update_event): hosts get `event.updated`, and every socket of
the event closes with Close.EVENT_CLOSED.

A closed event is deleted, with its participants and its log, ROLLCALL_EVENT_RETENTION_DAYS
after it closed (its `updated_at`: a closed event never changes again).

Both run in batches of BATCH_SIZE events, each batch one transaction holding a
transaction-level advisory lock, so one process at a time does it and the others skip
their turn.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from rollcall import event_log
from rollcall.background import Periodic
from rollcall.db.pool import DB, borrow
from rollcall.errors import EventClosed
from rollcall.events import service
from rollcall.events.schemas import EventUpdate

log = logging.getLogger(__name__)

RETENTION_LOCK_KEY = 0x72657461  # "reta"; the presence sweep's is "roll"
BATCH_SIZE = 20
ROW_CHUNK = 5_000  # participants or log rows per DELETE statement
MAX_BATCHES = 50  # per run: at most 1,000 events closed and 1,000 deleted, the rest next run


@dataclass(frozen=True)
class Expiring:
    """An event retention closes or deletes, as `rollcall db purge` reports it."""

    code: str
    title: str
    status: str
    since: datetime  # idle: its last activity; closed: when it closed
    participants: int


@dataclass
class Purge:
    closed: list[Expiring] = field(default_factory=list)
    deleted: list[Expiring] = field(default_factory=list)
    busy: bool = False  # another process held the lock: it does this work instead


def _idle_sql(where: str) -> str:
    """Idle events that are not closed; $1 is the idle time in seconds."""
    return f"""
        SELECT {service.event_columns("e", "event_")},
            greatest(e.updated_at, l.last_message, p.last_heartbeat) AS since,
            coalesce(p.participants, 0) AS participants
        FROM events AS e
        LEFT JOIN LATERAL (
            -- The newest message is the one with the highest seq: one index probe, not a scan.
            SELECT created_at AS last_message FROM event_log WHERE event_id = e.id
            ORDER BY seq DESC LIMIT 1
        ) AS l ON true
        LEFT JOIN LATERAL (
            SELECT max(last_heartbeat) AS last_heartbeat, count(*) AS participants
            FROM event_participants WHERE event_id = e.id
        ) AS p ON true
        WHERE e.status <> 'closed'
          AND e.updated_at < now() - make_interval(secs => $1)
          AND coalesce(l.last_message, '-infinity') < now() - make_interval(secs => $1)
          AND coalesce(p.last_heartbeat, '-infinity') < now() - make_interval(secs => $1)
          {where}
        """


_EXPIRED_SQL = """
    SELECT e.id, e.code, e.title, e.status, e.updated_at AS since,
        (SELECT count(*) FROM event_participants WHERE event_id = e.id) AS participants
    FROM events AS e
    WHERE e.status = 'closed' AND e.updated_at < now() - make_interval(secs => $1)
    ORDER BY e.updated_at, e.id
"""


def _expiring(record: asyncpg.Record, *, prefix: str = "") -> Expiring:
    return Expiring(
        code=record[prefix + "code"],
        title=record[prefix + "title"],
        status=record[prefix + "status"],
        since=record["since"],
        participants=record["participants"],
    )


async def idle_events(conn: DB, *, idle_s: float) -> list[Expiring]:
    """Every event that a purge would close now (for a dry run)."""
    records = await conn.fetch(_idle_sql("ORDER BY e.id"), idle_s)
    return [_expiring(record, prefix="event_") for record in records]


async def expired_events(conn: DB, *, retention_s: float) -> list[Expiring]:
    """Every closed event that a purge would delete now (for a dry run)."""
    return [_expiring(record) for record in await conn.fetch(_EXPIRED_SQL, retention_s)]


async def _locked(conn: DB) -> bool:
    locked: bool = await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", RETENTION_LOCK_KEY)
    return locked


async def close_idle_batch(
    conn: DB, *, idle_s: float, max_capacity: int, presence_timeout_s: float
) -> list[Expiring] | None:
    """Close up to BATCH_SIZE idle events in one transaction; None when another process is at it."""
    closed: list[Expiring] = []
    async with conn.transaction():
        if not await _locked(conn):
            return None
        candidates = await conn.fetch(_idle_sql("ORDER BY e.id LIMIT $2"), idle_s, BATCH_SIZE)
        for candidate in candidates:  # in id order, the order every roster change locks events
            event = service.event_from(candidate, "event_")
            await event_log.lock_event(conn, event_id=event.id)
            # Under the lock: still idle? (now() is the transaction's start, as above.)
            still = await conn.fetchrow(_idle_sql("AND e.id = $2"), idle_s, event.id)
            if still is None:
                continue
            try:
                await service.update_event(
                    conn,
                    event=event,
                    changes=EventUpdate(status="closed"),
                    max_capacity=max_capacity,
                    presence_timeout_s=presence_timeout_s,
                )
            except EventClosed:
                continue
            closed.append(_expiring(still, prefix="event_"))
    return closed


async def delete_expired_batch(conn: DB, *, retention_s: float) -> list[Expiring] | None:
    """Delete up to BATCH_SIZE long-closed events with their participants, actions and log.

    The rows go ROW_CHUNK at a time, so that no statement runs into the pool's command
    timeout however large the events were. None when another process is at it.
    """
    async with conn.transaction():
        if not await _locked(conn):
            return None
        records = await conn.fetch(
            f"{_EXPIRED_SQL} LIMIT $2 FOR UPDATE OF e SKIP LOCKED", retention_s, BATCH_SIZE
        )
        if not records:
            return []
        ids = [record["id"] for record in records]
        for table in ("actions", "event_log", "event_participants"):
            while True:
                status = await conn.execute(
                    f"""
                    DELETE FROM {table} WHERE ctid = ANY(ARRAY(
                        SELECT ctid FROM {table} WHERE event_id = ANY($1::uuid[]) LIMIT $2))
                    """,
                    ids,
                    ROW_CHUNK,
                )
                if int(status.split()[-1]) < ROW_CHUNK:
                    break
        await conn.execute("DELETE FROM events WHERE id = ANY($1::uuid[])", ids)
    return [_expiring(record) for record in records]


async def purge(
    conn: DB,
    *,
    idle_s: float,
    retention_s: float,
    max_capacity: int,
    presence_timeout_s: float,
) -> Purge:
    """Close every idle event and delete every expired one, batch by batch."""
    done = Purge()
    for _ in range(MAX_BATCHES):
        closed = await close_idle_batch(
            conn, idle_s=idle_s, max_capacity=max_capacity, presence_timeout_s=presence_timeout_s
        )
        if closed is None:
            done.busy = True
            return done
        done.closed.extend(closed)
        if len(closed) < BATCH_SIZE:
            break
    for _ in range(MAX_BATCHES):
        deleted = await delete_expired_batch(conn, retention_s=retention_s)
        if deleted is None:
            done.busy = True
            return done
        done.deleted.extend(deleted)
        if len(deleted) < BATCH_SIZE:
            break
    return done


class RetentionSweeper:
    """The background task: a purge every ROLLCALL_RETENTION_SWEEP_S."""

    def __init__(
        self,
        pool: asyncpg.Pool[Any],
        *,
        interval_s: float,
        idle_hours: float,
        retention_days: float,
        max_capacity: int,
        presence_timeout_s: float,
    ) -> None:
        self._pool = pool
        self._idle_s = idle_hours * 3600
        self._retention_s = retention_days * 86400
        self._max_capacity = max_capacity
        self._presence_timeout_s = presence_timeout_s
        self._loop = Periodic("retention", self.run_once, interval_s)

    async def run_once(self) -> Purge:
        async with borrow(self._pool) as conn:
            done = await purge(
                conn,
                idle_s=self._idle_s,
                retention_s=self._retention_s,
                max_capacity=self._max_capacity,
                presence_timeout_s=self._presence_timeout_s,
            )
        if done.closed or done.deleted:
            log.info(
                "retention: closed %d idle events, deleted %d closed ones",
                len(done.closed),
                len(done.deleted),
            )
        return done

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
