"""Events: codes, host tokens, reading, updating and closing."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from rollcall import event_log
from rollcall.auth import digest, new_token
from rollcall.db.pool import DB
from rollcall.errors import EventClosed, EventNotFound, InvalidToken, ValidationFailed
from rollcall.events.schemas import (
    Event,
    EventCounts,
    EventUpdate,
    NameFilterView,
    Team,
    TeamCount,
)
from rollcall.participants.wordfilter import host_pattern
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
    names: str
    name_filter: str
    teams: list[dict[str, Any]]
    team_mode: str
    created_at: datetime
    updated_at: datetime

    def has_team(self, team_id: str) -> bool:
        return any(team["id"] == team_id for team in self.teams)


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


def blocked_patterns(words: list[str]) -> list[str]:
    """The host's blocked words as the database matches them: each word's pattern
    (wordfilter.host_pattern) as a LIKE pattern, `%pattern%` (a folded pattern holds no
    wildcard: only letters, digits and spaces)."""
    patterns = [host_pattern(word) for word in words]
    return sorted({f"%{pattern.text}%" for pattern in patterns if pattern is not None})


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
    names: str = "chosen",
    name_filter: str = "default",
    blocked_words: list[str] | None = None,
    teams: list[Team] | None = None,
    team_mode: str = "host",
) -> tuple[EventRow, str]:
    """A new open event and its host token (returned once, stored only as a digest).

    Its secret for room checks and recovery codes comes from the column's default.
    """
    words = blocked_words or []
    team_list = [team.model_dump() for team in teams or []]
    capacity = check_capacity(capacity, max_capacity=max_capacity)
    host_token = new_token()
    for _ in range(CODE_ATTEMPTS):
        record = await conn.fetchrow(
            f"""
            INSERT INTO events (code, title, capacity, host_token_hash, admission, room_check,
                reclaim, names, name_filter, blocked_words, blocked_patterns, teams, team_mode)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
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
            names,
            name_filter,
            words,
            blocked_patterns(words),
            team_list,
            team_mode,
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
    close with Close.EVENT_CLOSED. A new word filter changes no name already in the event; a
    team left out of new `teams` loses its members, each announced as participant.team.
    """
    if changes.capacity is not None:
        check_capacity(changes.capacity, max_capacity=max_capacity)
    words = changes.blocked_words
    teams = None if changes.teams is None else [team.model_dump() for team in changes.teams]
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
                names = coalesce($8, names),
                name_filter = coalesce($9, name_filter),
                blocked_words = coalesce($10, blocked_words),
                blocked_patterns = coalesce($11, blocked_patterns),
                teams = coalesce($12, teams),
                team_mode = coalesce($13, team_mode),
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
            changes.names,
            changes.name_filter,
            words,
            None if words is None else blocked_patterns(words),
            teams,
            changes.team_mode,
        )
        if record is None:
            raise EventClosed("a closed event cannot be changed")
        if teams is not None:
            await _leave_removed_teams(conn, event_id=event.id, kept=[t["id"] for t in teams])
        described = await describe(conn, event=_row(record), presence_timeout_s=presence_timeout_s)
        await event_log.append(
            conn,
            event_id=event.id,
            message={"type": HostMessage.EVENT_UPDATED, "event": described.model_dump(mode="json")},
        )
    return described


async def _leave_removed_teams(conn: DB, *, event_id: UUID, kept: list[str]) -> None:
    """Members of a team no longer in the event are in no team: one message each."""
    left = await conn.fetch(
        """
        UPDATE event_participants SET team = NULL
        WHERE event_id = $1 AND team IS NOT NULL AND NOT team = ANY($2::text[])
        RETURNING id
        """,
        event_id,
        kept,
    )
    await event_log.append_many(
        conn,
        event_id=event_id,
        messages=[
            {"type": HostMessage.TEAM, "participant_id": str(row["id"]), "team": None}
            for row in left
        ],
    )


async def name_filter(conn: DB, *, event: EventRow) -> NameFilterView:
    """The event's word filter, with the host's words (not in Event: phones read that)."""
    record = await conn.fetchrow(
        "SELECT name_filter, blocked_words FROM events WHERE id = $1", event.id
    )
    if record is None:
        raise EventNotFound()
    return NameFilterView(
        name_filter=record["name_filter"], blocked_words=list(record["blocked_words"])
    )


async def _counts_and_state(
    conn: DB, *, event_id: UUID, presence_timeout_s: float
) -> tuple[EventCounts, dict[str, Any], int]:
    """The event's counts, and its state with its version, in one read."""
    record = await conn.fetchrow(
        f"""
        WITH p AS (
            SELECT p.status, p.team, {presence_sql("p", "$2")} AS presence
            FROM event_participants AS p
            WHERE p.event_id = $1
        ), by_team AS (
            SELECT p.team, count(*) FILTER (WHERE p.status = 'active') AS active,
                count(*) FILTER (WHERE p.status = 'active' AND p.presence = 'online') AS online
            FROM p WHERE p.team IS NOT NULL GROUP BY p.team
        )
        SELECT
            (SELECT seats_taken FROM events WHERE id = $1) AS seats_taken,
            (SELECT rollcall_full(e) FROM events AS e WHERE id = $1) AS full,
            count(*) FILTER (WHERE p.status = 'pending') AS pending,
            count(*) FILTER (WHERE p.status = 'active') AS active,
            count(*) FILTER (WHERE presence = 'online' AND p.status <> 'pending') AS online,
            count(*) FILTER (WHERE presence = 'away' AND p.status <> 'pending') AS away,
            count(*) FILTER (WHERE presence = 'offline' AND p.status <> 'pending') AS offline,
            count(*) FILTER (WHERE presence = 'left') AS left,
            count(*) FILTER (WHERE presence = 'kicked') AS kicked,
            (SELECT coalesce(json_agg(json_build_array(t.team ->> 'id',
                        coalesce(b.active, 0), coalesce(b.online, 0)) ORDER BY t.n), '[]')
             FROM events AS e, jsonb_array_elements(e.teams) WITH ORDINALITY AS t(team, n)
             LEFT JOIN by_team AS b ON b.team = t.team ->> 'id'
             WHERE e.id = $1) AS teams,
            (SELECT state FROM events WHERE id = $1) AS state,
            (SELECT state_version FROM events WHERE id = $1) AS state_version
        FROM p
        """,
        event_id,
        presence_timeout_s,
    )
    assert record is not None
    counted = {
        key: record[key] or 0 for key in EventCounts.model_fields if key not in ("teams", "full")
    }
    teams = {
        team: TeamCount(active=active, online=online) for team, active, online in record["teams"]
    }
    counts = EventCounts(**counted, teams=teams, full=record["full"])
    return counts, record["state"], record["state_version"]


async def describe(conn: DB, *, event: EventRow, presence_timeout_s: float) -> Event:
    """The event as the API shows it: its fields, its counts and its state, in one read."""
    counts, state, version = await _counts_and_state(
        conn, event_id=event.id, presence_timeout_s=presence_timeout_s
    )
    return Event(
        code=event.code,
        title=event.title,
        capacity=event.capacity,
        status=event.status,  # type: ignore[arg-type]
        admission=event.admission,  # type: ignore[arg-type]
        room_check=event.room_check,
        reclaim=event.reclaim,  # type: ignore[arg-type]
        names=event.names,  # type: ignore[arg-type]
        name_filter=event.name_filter,  # type: ignore[arg-type]
        teams=[Team(**team) for team in event.teams],
        team_mode=event.team_mode,  # type: ignore[arg-type]
        created_at=event.created_at,
        updated_at=event.updated_at,
        counts=counts,
        state=state,
        state_version=version,
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
