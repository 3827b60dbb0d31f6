"""The roll call, read from the record the database keeps as presence changes happen.

Each participant's seconds online, away and offline are kept by the statements that change
presence (revision attendance: a trigger on the columns they write); reading them is one call
of rollcall_attendance per row, with the stretch under way counted up to now, or to the
event's close. Rows come in keyset pages of PAGE_ROWS in join order, each page on a connection
borrowed for that page alone: an export of any size holds one page in memory, and no
connection while the client reads.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from rollcall.attendance.schemas import AttendanceEntry
from rollcall.db.pool import DB, borrow
from rollcall.errors import EventNotFound
from rollcall.events.schemas import Event
from rollcall.events.service import EventRow, describe

PAGE_ROWS = 1_000

_PAGE_SQL = """
SELECT (s.p).id, (s.p).display_name, (s.p).status, (s.p).team, (s.p).join_timestamp,
    (s.p).last_heartbeat, (s.p).connections, (s.p).reclaim_count, a.o_online_s, a.o_away_s,
    a.o_offline_s, a.o_left_at
FROM (
    SELECT p FROM event_participants AS p
    WHERE p.event_id = $1 AND ($4 OR (p.status <> 'pending' AND NOT p.denied))
      AND (p.join_timestamp, p.id) > ($5, $6)
    ORDER BY p.join_timestamp, p.id
    LIMIT $7
) AS s, LATERAL rollcall_attendance(s.p, $2, $3) AS a
ORDER BY (s.p).join_timestamp, (s.p).id
"""

_START = (datetime(1, 1, 1, tzinfo=UTC), UUID(int=0))
"""A position before every participant: (join time, id)."""


@dataclass(frozen=True)
class Roll:
    """What the roll call is of, and up to when it counts."""

    event: Event
    generated_at: datetime
    until: datetime  # the event's close, or generated_at
    include_pending: bool
    presence_timeout_s: float


def entry(record: asyncpg.Record) -> AttendanceEntry:
    return AttendanceEntry(
        id=record["id"],
        display_name=record["display_name"],
        status=record["status"],
        team=record["team"],
        first_joined_at=record["join_timestamp"],
        last_seen_at=record["last_heartbeat"],
        left_at=record["o_left_at"],
        online_s=round(record["o_online_s"], 1),
        away_s=round(record["o_away_s"], 1),
        offline_s=round(record["o_offline_s"], 1),
        connections=record["connections"],
        reclaims=record["reclaim_count"],
    )


async def _page(
    conn: DB, *, event_id: UUID, roll: Roll, after: tuple[datetime, UUID]
) -> list[AttendanceEntry]:
    records = await conn.fetch(
        _PAGE_SQL,
        event_id,
        roll.until,
        roll.presence_timeout_s,
        roll.include_pending,
        *after,
        PAGE_ROWS,
    )
    return [entry(record) for record in records]


def _after(page: list[AttendanceEntry]) -> tuple[datetime, UUID] | None:
    """Where the next page starts; None when this one was the last."""
    if len(page) < PAGE_ROWS:
        return None
    return page[-1].first_joined_at, page[-1].id


async def roll_call(
    conn: DB,
    pool: asyncpg.Pool[Any],
    *,
    event: EventRow,
    presence_timeout_s: float,
    include_pending: bool = False,
) -> tuple[Roll, AsyncIterator[list[AttendanceEntry]]]:
    """The roll call of `event`: what it is of, and its entries page by page, in join order.

    The first page is read here on `conn`, so that a failure is an answer rather than a
    download cut short; each later page on a connection of `pool` borrowed for that page.
    Waiting participants, and those the host turned away, only with `include_pending`.
    """
    moments = await conn.fetchrow(
        """
        SELECT now() AS generated_at,
            CASE WHEN status = 'closed' THEN coalesce(closed_at, updated_at) END AS closed_at
        FROM events WHERE id = $1
        """,
        event.id,
    )
    if moments is None:  # deleted since the caller found it
        raise EventNotFound()
    generated_at: datetime = moments["generated_at"]
    roll = Roll(
        event=await describe(conn, event=event, presence_timeout_s=presence_timeout_s),
        generated_at=generated_at,
        until=min(moments["closed_at"] or generated_at, generated_at),
        include_pending=include_pending,
        presence_timeout_s=presence_timeout_s,
    )
    first = await _page(conn, event_id=event.id, roll=roll, after=_START)

    async def pages() -> AsyncIterator[list[AttendanceEntry]]:
        page, after = first, _after(first)
        yield page
        while after is not None:
            async with borrow(pool) as borrowed:
                page = await _page(borrowed, event_id=event.id, roll=roll, after=after)
            yield page
            after = _after(page)

    return roll, pages()
