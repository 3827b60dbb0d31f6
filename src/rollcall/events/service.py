"""Events: codes, host tokens, reading, updating and closing."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from rollcall import event_log
from rollcall.auth import digest, new_token
from rollcall.db.pool import DB
from rollcall.errors import EventClosed, EventNotFound, InvalidToken, ValidationFailed
from rollcall.events.schemas import Event, EventCounts, EventUpdate
from rollcall.presence.service import presence_sql
from rollcall.protocol import HostMessage

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 6
CODE_ATTEMPTS = 10


@dataclass(frozen=True)
class EventRow:
    id: UUID
    code: str
    title: str
    capacity: int
    status: str
    admission: str
    room_check: bool
    reclaim: str
    created_at: datetime
    updated_at: datetime


_EVENT_COLUMNS = ", ".join(EventRow.__dataclass_fields__)


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(code: str) -> str | None:
    """The code in its stored form, or None when it cannot be one (so: not found)."""
    code = code.strip().upper()
    if len(code) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in code):
        return None
    return code


def _row(record: asyncpg.Record, prefix: str = "") -> EventRow:
    return EventRow(**{key: record[prefix + key] for key in EventRow.__dataclass_fields__})


def event_columns(alias: str, prefix: str) -> str:
    """The event's columns for a query that joins events AS alias, each named prefix + column."""
    return ", ".join(f"{alias}.{key} AS {prefix}{key}" for key in EventRow.__dataclass_fields__)


def event_from(record: asyncpg.Record, prefix: str) -> EventRow:
    """The event out of a row selected with event_columns(…, prefix)."""
    return _row(record, prefix)


def check_capacity(capacity: int | None, *, max_capacity: int) -> int:
    """The capacity to use (the maximum when none is asked for), or 422 above the maximum."""
    if capacity is None:
        return max_capacity
    if capacity > max_capacity:
        raise ValidationFailed(
            f"capacity: at most {max_capacity}",
            errors=[
                {
                    "field": "capacity",
                    "message": f"at most {max_capacity}",
                    "type": "less_than_equal",
                }
            ],
        )
    return capacity


async def create_event(
    conn: DB,
    *,
    title: str,
    capacity: int | None,
    max_capacity: int,
    admission: str = "open",
    room_check: bool = False,
    reclaim: str = "auto",
) -> tuple[EventRow, str]:
    """A new open event and its host token (returned once, stored only as a digest).

    Its secret for room checks and recovery codes comes from the column's default.
    """
    capacity = check_capacity(capacity, max_capacity=max_capacity)
    host_token = new_token()
    for _ in range(CODE_ATTEMPTS):
        record = await conn.fetchrow(
            f"""
            INSERT INTO events (code, title, capacity, host_token_hash, admission, room_check,
                reclaim)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (code) DO NOTHING
            RETURNING {_EVENT_COLUMNS}
            """,
            new_code(),
            title,
            capacity,
            digest(host_token),
            admission,
            room_check,
            reclaim,
        )
        if record is not None:
            return _row(record), host_token
    raise RuntimeError("could not find a free event code")  # 30^6 codes: practically never


async def _by_code(conn: DB, code: str, *, extra: str = "") -> asyncpg.Record:
    normalized = normalize_code(code)
    record = None
    if normalized is not None:
        record = await conn.fetchrow(
            f"SELECT {_EVENT_COLUMNS}{extra} FROM events WHERE code = $1", normalized
        )
    if record is None:
        raise EventNotFound(f"no event has the code {code!r}")
    return record


async def get_event(conn: DB, *, code: str) -> EventRow:
    return _row(await _by_code(conn, code))


async def event_for_host(conn: DB, *, code: str, token: str | None) -> EventRow:
    """The event, if `token` is its host token; 404 for an unknown code, else 401."""
    record = await _by_code(conn, code, extra=", host_token_hash")
    if token is None or not secrets.compare_digest(digest(token), record["host_token_hash"]):
        raise InvalidToken("this event's host token is required")
    return _row(record)


async def update_event(
    conn: DB,
    *,
    event: EventRow,
    changes: EventUpdate,
    max_capacity: int,
    presence_timeout_s: float,
) -> Event:
    """Apply the changes and tell the hosts.

    Closing ends every session: no route accepts a token of a closed event, and its sockets
    close with Close.EVENT_CLOSED.
    """
    if changes.capacity is not None:
        check_capacity(changes.capacity, max_capacity=max_capacity)
    async with conn.transaction():
        await event_log.lock_event(conn, event_id=event.id)
        record = await conn.fetchrow(
            f"""
            UPDATE events SET
                title = coalesce($2, title),
                capacity = coalesce($3, capacity),
                status = coalesce($4, status),
                admission = coalesce($5, admission),
                room_check = coalesce($6, room_check),
                reclaim = coalesce($7, reclaim),
                updated_at = now()
            WHERE id = $1 AND status <> 'closed'
            RETURNING {_EVENT_COLUMNS}
            """,
            event.id,
            changes.title,
            changes.capacity,
            changes.status,
            changes.admission,
            changes.room_check,
            changes.reclaim,
        )
        if record is None:
            raise EventClosed("a closed event cannot be changed")
        described = await describe(conn, event=_row(record), presence_timeout_s=presence_timeout_s)
        await event_log.append(
            conn,
            event_id=event.id,
            message={"type": HostMessage.EVENT_UPDATED, "event": described.model_dump(mode="json")},
        )
    return described


_COUNTS_SQL = f"""
    SELECT
        e.seats_taken, e.state, e.state_version,
        count(p.id) FILTER (WHERE p.status = 'pending') AS pending,
        count(p.id) FILTER (WHERE p.status = 'active') AS active,
        count(p.id) FILTER (WHERE presence = 'online' AND p.status <> 'pending') AS online,
        count(p.id) FILTER (WHERE presence = 'away' AND p.status <> 'pending') AS away,
        count(p.id) FILTER (WHERE presence = 'offline' AND p.status <> 'pending') AS offline,
        count(p.id) FILTER (WHERE presence = 'left') AS left,
        count(p.id) FILTER (WHERE presence = 'kicked') AS kicked
    FROM events AS e
    LEFT JOIN event_participants AS p ON p.event_id = e.id
    LEFT JOIN LATERAL (SELECT {presence_sql("p", "$2")} AS presence) AS computed ON true
    WHERE e.id = $1
    GROUP BY e.id
"""


def _counts(record: asyncpg.Record) -> EventCounts:
    return EventCounts(**{key: record[key] or 0 for key in EventCounts.model_fields})


async def describe(conn: DB, *, event: EventRow, presence_timeout_s: float) -> Event:
    """The event as the API shows it: its fields, its counts and its state, in one read."""
    record = await conn.fetchrow(_COUNTS_SQL, event.id, presence_timeout_s)
    assert record is not None
    return Event(
        code=event.code,
        title=event.title,
        capacity=event.capacity,
        status=event.status,  # type: ignore[arg-type]
        admission=event.admission,  # type: ignore[arg-type]
        room_check=event.room_check,
        reclaim=event.reclaim,  # type: ignore[arg-type]
        created_at=event.created_at,
        updated_at=event.updated_at,
        counts=_counts(record),
        state=record["state"],
        state_version=record["state_version"],
    )


@dataclass(frozen=True)
class RoomCheckNow:
    """The event's room check code at this moment, by the database's clock."""

    code: str
    expires_at: datetime
    remaining_s: float  # until expires_at
    enabled: bool  # whether the event asks newcomers for it


async def room_check(conn: DB, *, event_id: UUID, period_s: float) -> RoomCheckNow:
    """The current code: an HMAC of the event's secret and the number of the time window.

    rollcall_join accepts this one and the one before, so a code is good for one to two periods.
    """
    record = await conn.fetchrow(
        """
        SELECT rollcall_room_check(e.hmac_key, w.n) AS code, e.room_check AS enabled,
            to_timestamp((w.n + 1) * $2) AS expires_at,
            (w.n + 1) * $2 - extract(epoch FROM now())::double precision AS remaining_s
        FROM events AS e,
            LATERAL (SELECT floor(extract(epoch FROM now()) / $2)::bigint AS n) AS w
        WHERE e.id = $1
        """,
        event_id,
        period_s,
    )
    if record is None:
        raise EventNotFound()
    return RoomCheckNow(
        code=record["code"],
        expires_at=record["expires_at"],
        remaining_s=max(0.0, float(record["remaining_s"])),
        enabled=record["enabled"],
    )


class DescriptionCache:
    """Event descriptions reused for a moment, for the welcomes of a crowd arriving at once.

    An entry is keyed by the event's updated_at, so title, capacity and status are never stale;
    only the counts may lag, by at most ttl_s.
    """

    def __init__(self, ttl_s: float = 1.0, max_entries: int = 1_000) -> None:
        self._ttl = ttl_s
        self._max = max_entries
        self._entries: dict[tuple[UUID, datetime], tuple[float, Event]] = {}

    async def describe(self, conn: DB, *, event: EventRow, presence_timeout_s: float) -> Event:
        key = (event.id, event.updated_at)
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        described = await describe(conn, event=event, presence_timeout_s=presence_timeout_s)
        if len(self._entries) >= self._max:
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
        self._entries[key] = (now + self._ttl, described)
        return described
