"""Join, rejoin, leave, kick, state: the participant rules, decided by the database.

Uniqueness of devices and names are constraints; the join rules, seats included, run in the
database function rollcall_join under the event row lock. Concurrent requests are resolved by
PostgreSQL, never by a check-then-insert here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from rollcall import event_log, metrics
from rollcall.auth import digest, new_token
from rollcall.db.pool import DB
from rollcall.errors import (
    DeviceBanned,
    EventClosed,
    EventFull,
    EventLocked,
    EventNotFound,
    InvalidToken,
    NameTaken,
    ParticipantNotFound,
    StateTooLarge,
)
from rollcall.events.service import EventRow, event_columns, event_from
from rollcall.participants.batch import BatchedJoin, JoinBatcher
from rollcall.participants.names import normalize_display_name
from rollcall.participants.schemas import Participant, RosterEntry
from rollcall.presence.service import presence_sql
from rollcall.protocol import HostMessage

MAX_STATE_BYTES = 16 * 1024
JOIN_ATTEMPTS = 5

PARTICIPANT_COLUMNS = (
    "p.id, p.event_id, p.display_name, p.status, p.state, p.state_version, p.join_timestamp"
)


def to_participant(record: asyncpg.Record) -> Participant:
    return Participant(
        id=record["id"],
        display_name=record["display_name"],
        status=record["status"],
        state=record["state"],
        version=record["state_version"],
        joined_at=record["join_timestamp"],
    )


@dataclass(frozen=True)
class JoinResult:
    participant: Participant
    session_token: str
    rejoined: bool


@dataclass(frozen=True)
class Session:
    participant: Participant
    event_id: UUID
    event_code: str


JOIN_REFUSALS: dict[str, type[Exception]] = {
    "not_found": EventNotFound,
    "closed": EventClosed,
    "banned": DeviceBanned,
    "locked": EventLocked,
    "full": EventFull,
}


async def join(joins: JoinBatcher, *, code: str, device_id: UUID, display_name: str) -> JoinResult:
    """Join the event from `device_id`, or rejoin the participant this device already has there.

    The rules run in the database function rollcall_join (revision 0005), in their documented order,
    while the event row is locked; the batcher sends many joins in one transaction.
    """
    name, name_key = normalize_display_name(display_name)
    for _ in range(JOIN_ATTEMPTS):
        token = new_token()
        record = await joins.join(BatchedJoin(code, device_id, name, name_key, digest(token)))
        outcome = record["outcome"]
        metrics.JOINS.labels(outcome=outcome.rpartition(".")[2]).inc()  # joined, full, …
        if outcome in (HostMessage.JOINED, HostMessage.REJOINED):
            return JoinResult(
                to_participant(record), token, rejoined=outcome == HostMessage.REJOINED
            )
        if outcome == "name_taken":
            raise NameTaken(f"someone else in this event is called {name!r}")
        if outcome in JOIN_REFUSALS:
            raise JOIN_REFUSALS[outcome]()
    raise RuntimeError("join did not settle after several attempts")


async def session_for_token(conn: DB, *, token: str | None) -> Session:
    """The live session this token belongs to, or 401 invalid_token."""
    record = None
    if token:
        record = await conn.fetchrow(
            f"""
            SELECT {PARTICIPANT_COLUMNS}, e.code AS event_code
            FROM event_participants AS p JOIN events AS e ON e.id = p.event_id
            WHERE p.session_token_hash = $1 AND p.status = 'active' AND e.status <> 'closed'
            """,
            digest(token),
        )
    if record is None:
        raise InvalidToken("the session token is missing, invalid or revoked")
    return Session(to_participant(record), record["event_id"], record["event_code"])


async def leave(conn: DB, *, token: str | None) -> UUID:
    """Mark the participant left and revoke the token; they keep their seat and name.

    Returns the participant's id.
    """
    if not token:
        raise InvalidToken("the session token is missing, invalid or revoked")
    token_hash = digest(token)
    async with conn.transaction():
        event_id: UUID | None = await conn.fetchval(
            """
            SELECT e.id FROM events AS e JOIN event_participants AS p ON p.event_id = e.id
            WHERE p.session_token_hash = $1 AND p.status = 'active' AND e.status <> 'closed'
            FOR UPDATE OF e
            """,
            token_hash,
        )
        participant_id: UUID | None = None
        if event_id is not None:
            participant_id = await conn.fetchval(
                """
                UPDATE event_participants SET status = 'left', session_token_hash = NULL,
                    away = false, reported_presence = 'left'
                WHERE session_token_hash = $1 AND status = 'active'
                RETURNING id
                """,
                token_hash,
            )
        if event_id is None or participant_id is None:
            raise InvalidToken("the session token is missing, invalid or revoked")
        await event_log.append(
            conn,
            event_id=event_id,
            message={"type": HostMessage.LEFT, "participant_id": str(participant_id)},
        )
    return participant_id


async def kick(conn: DB, *, event: EventRow, participant_id: UUID) -> Participant:
    """Kick: the session ends, the seat is freed, and the device is refused from now on.

    The token's digest stays, so that a socket that says hello with it learns it was kicked
    (4403) rather than merely refused; no route accepts a kicked participant's token.
    """
    async with conn.transaction():
        if await event_log.lock_event(conn, event_id=event.id) == "closed":
            raise EventClosed("a closed event cannot be changed")
        record = await conn.fetchrow(
            f"""
            UPDATE event_participants AS p
            SET status = 'kicked', away = false, reported_presence = 'kicked'
            WHERE p.id = $1 AND p.event_id = $2 AND p.status <> 'kicked'
            RETURNING {PARTICIPANT_COLUMNS}
            """,
            participant_id,
            event.id,
        )
        if record is None:
            return await get_participant(conn, event=event, participant_id=participant_id)
        await conn.execute(
            "UPDATE events SET seats_taken = seats_taken - 1 WHERE id = $1", event.id
        )
        await event_log.append(
            conn,
            event_id=event.id,
            message={"type": HostMessage.KICKED, "participant_id": str(participant_id)},
        )
    return to_participant(record)


async def get_participant(conn: DB, *, event: EventRow, participant_id: UUID) -> Participant:
    record = await conn.fetchrow(
        f"SELECT {PARTICIPANT_COLUMNS} FROM event_participants AS p"
        " WHERE p.id = $1 AND p.event_id = $2",
        participant_id,
        event.id,
    )
    if record is None:
        raise ParticipantNotFound()
    return to_participant(record)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


async def patch_state(
    conn: DB, *, event: EventRow, participant_id: UUID, patch: dict[str, Any]
) -> Participant:
    """Merge the patch into the state under a row lock, so concurrent patches all count."""
    async with conn.transaction():
        if await event_log.lock_event(conn, event_id=event.id) == "closed":
            raise EventClosed("a closed event cannot be changed")
        current = await conn.fetchval(
            "SELECT state FROM event_participants WHERE id = $1 AND event_id = $2 FOR UPDATE",
            participant_id,
            event.id,
        )
        if current is None:
            raise ParticipantNotFound()
        merged = merge_patch(current, patch)
        size = len(json.dumps(merged, separators=(",", ":"), ensure_ascii=False).encode())
        if size > MAX_STATE_BYTES:
            raise StateTooLarge(f"the state would be {size} bytes; the limit is {MAX_STATE_BYTES}")
        record = await conn.fetchrow(
            f"""
            UPDATE event_participants AS p SET state = $2, state_version = state_version + 1
            WHERE p.id = $1
            RETURNING {PARTICIPANT_COLUMNS}
            """,
            participant_id,
            merged,
        )
        assert record is not None
        await event_log.append(
            conn,
            event_id=event.id,
            message={
                "type": HostMessage.STATE,
                "participant_id": str(participant_id),
                "state": merged,
                "version": record["state_version"],
            },
        )
    return to_participant(record)


async def roster(conn: DB, *, event: EventRow, presence_timeout_s: float) -> list[RosterEntry]:
    records = await conn.fetch(
        f"""
        SELECT {PARTICIPANT_COLUMNS}, p.last_heartbeat, {presence_sql("p", "$2")} AS presence
        FROM event_participants AS p
        WHERE p.event_id = $1
        ORDER BY p.join_timestamp, p.id
        """,
        event.id,
        presence_timeout_s,
    )
    return [
        RosterEntry(
            **to_participant(record).model_dump(),
            presence=record["presence"],
            last_heartbeat=record["last_heartbeat"],
        )
        for record in records
    ]


@dataclass(frozen=True)
class SocketSession:
    """What a participant's socket needs at hello: who, where, and whether already here."""

    participant: Participant
    status: str
    event: EventRow
    seq: int
    present: bool  # online and not away: the hello changes nothing the hosts see


async def socket_session(conn: DB, *, token: str) -> SocketSession | None:
    """The participant this token was issued to, whatever their status; None when unknown.

    Unlike session_for_token, a kicked or left participant is found too, so that the socket
    can say why it is refused.
    """
    record = await conn.fetchrow(
        f"""
        SELECT {PARTICIPANT_COLUMNS}, {event_columns("e", "event_")}, e.seq,
            p.reported_presence = 'online' AND NOT p.away AS present
        FROM event_participants AS p JOIN events AS e ON e.id = p.event_id
        WHERE p.session_token_hash = $1
        """,
        digest(token),
    )
    if record is None:
        return None
    return SocketSession(
        participant=to_participant(record),
        status=record["status"],
        event=event_from(record, "event_"),
        seq=record["seq"],
        present=record["present"],
    )
