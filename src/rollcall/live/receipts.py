"""Receipts: what each phone says it has shown, and how many have shown the current state.

A phone reports `seen` on /ws after its app showed a new event state (or its own state). The
reports are buffered like heartbeats: each process keeps the newest per participant and writes
them all in one statement a flush, which NOTIFYs the events it touched, so that the processes
holding their hosts count again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from rollcall import metrics
from rollcall.background import WriteBuffer
from rollcall.db.pool import DB
from rollcall.events.service import EventRow
from rollcall.live.schemas import Behind, Receipts, ReceiptsView
from rollcall.presence.service import presence_sql
from rollcall.protocol import RECEIPTS_CHANNEL

NOTIFY_EVENTS = 100
"""Event ids per NOTIFY: well inside PostgreSQL's 8000-byte payload."""

# Never backwards: a late or repeated report of an older version changes nothing. The events
# touched are announced, a hundred to a notification.
FLUSH_SQL = """
WITH seen AS (
    UPDATE event_participants AS p
    SET seen_event_version = greatest(p.seen_event_version, r.event_version),
        seen_version = greatest(p.seen_version, r.version)
    FROM unnest($1::uuid[], $2::bigint[], $3::bigint[]) AS r(id, event_version, version)
    WHERE p.id = r.id
      AND (p.seen_event_version < r.event_version OR p.seen_version < r.version)
    RETURNING p.event_id
), touched AS (
    SELECT event_id, (row_number() OVER ()) / $5 AS chunk FROM (SELECT DISTINCT event_id FROM seen) AS d
)
SELECT count(pg_notify($4, ids::text)) FROM (
    SELECT json_agg(event_id) AS ids FROM touched GROUP BY chunk
) AS notifications
"""


@dataclass(frozen=True)
class Seen:
    """The newest versions a participant reported: the event's state and its own."""

    event_version: int
    version: int


class ReceiptBuffer(WriteBuffer[Seen]):
    """Receipts come in bursts, right after each change: each burst is written together, once
    every phone sent the change has reported it or one interval after it starts, and the
    processes' bursts are written at about the same time."""

    def __init__(self, pool: asyncpg.Pool[Any], *, flush_interval_s: float) -> None:
        super().__init__(pool, name="receipt flush", flush_interval_s=flush_interval_s, soon=True)

    def seen(self, participant_id: UUID, *, event_version: int, version: int) -> None:
        self.put(participant_id, Seen(event_version, version))

    def merge(self, old: Seen, new: Seen) -> Seen:
        return Seen(max(old.event_version, new.event_version), max(old.version, new.version))

    async def write(self, conn: DB, batch: dict[UUID, Seen]) -> None:
        """One statement, committed without waiting for its WAL flush: the hosts hear of it
        at once, where the flush (which another commit may hold up for a good part of a second
        on a busy disk) would make them wait. Receipts are reports, not records: a crash of
        PostgreSQL may lose the last fraction of a second of them, never anything else."""
        async with conn.transaction():
            await conn.execute("SET LOCAL synchronous_commit = off")
            await conn.execute(
                FLUSH_SQL,
                list(batch),
                [seen.event_version for seen in batch.values()],
                [seen.version for seen in batch.values()],
                RECEIPTS_CHANNEL,
                NOTIFY_EVENTS,
            )
        metrics.RECEIPTS_FLUSHED.inc(len(batch))


SUMMARY_SQL = """
SELECT e.id, e.state_version AS event_version,
    count(p.id) FILTER (WHERE p.seen_event_version >= e.state_version) AS seen,
    count(p.id) AS of
FROM events AS e
LEFT JOIN event_participants AS p ON p.event_id = e.id AND p.status = 'active'
WHERE e.id = ANY($1::uuid[])
GROUP BY e.id
"""


async def summaries(conn: DB, *, event_ids: list[UUID]) -> dict[UUID, Receipts]:
    """For each event (one query for all): its state version, and how many have shown it."""
    records = await conn.fetch(SUMMARY_SQL, event_ids)
    return {
        record["id"]: Receipts(
            event_version=record["event_version"], seen=record["seen"], of=record["of"]
        )
        for record in records
    }


async def summary(conn: DB, *, event_id: UUID) -> Receipts:
    found = await summaries(conn, event_ids=[event_id])
    return found.get(event_id, Receipts(event_version=0, seen=0, of=0))


async def receipts(conn: DB, *, event: EventRow, presence_timeout_s: float) -> ReceiptsView:
    """The event's receipts and who is behind (online first, then away, then offline).

    Counts and list come from one snapshot, so that `of - seen` is the length of `behind`.
    """
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        counted = await summary(conn, event_id=event.id)
        records = await conn.fetch(
            f"""
            SELECT p.id, p.display_name, p.seen_event_version, c.presence
            FROM event_participants AS p,
                LATERAL (SELECT {presence_sql("p", "$3")} AS presence) AS c
            WHERE p.event_id = $1 AND p.status = 'active' AND p.seen_event_version < $2
            ORDER BY CASE c.presence WHEN 'online' THEN 0 WHEN 'away' THEN 1 ELSE 2 END,
                p.join_timestamp, p.id
            """,
            event.id,
            counted.event_version,
            presence_timeout_s,
        )
    behind = [
        Behind(
            id=record["id"],
            display_name=record["display_name"],
            presence=record["presence"],
            seen_event_version=record["seen_event_version"],
        )
        for record in records
    ]
    return ReceiptsView(**counted.model_dump(), behind=behind)
