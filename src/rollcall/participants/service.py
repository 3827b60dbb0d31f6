"""Join, rejoin, leave, kick, state: the participant rules, decided by the database.

Uniqueness of devices and names are constraints; the join rules, seats included, run in the
database function rollcall_join under the event row lock. Concurrent requests are resolved by
PostgreSQL, never by a check-then-insert here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from rollcall import event_log, jsonbody, metrics
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
    RateLimited,
    ReclaimDisabled,
    RecoveryCodeInvalid,
    RoomCheckFailed,
    StateTooLarge,
)
from rollcall.events.service import EventRow, event_columns, event_from
from rollcall.participants import recovery
from rollcall.participants.batch import BatchedJoin, JoinBatcher
from rollcall.participants.names import name_skeleton, normalize_display_name
from rollcall.participants.schemas import Participant, RosterEntry
from rollcall.presence.service import PRESENCE_ROW_COLUMNS, PresenceRow, presence_sql
from rollcall.protocol import HostMessage

MAX_STATE_BYTES = 16 * 1024
JOIN_ATTEMPTS = 5

PARTICIPANT_COLUMNS = (
    "p.id, p.event_id, p.display_name, p.status, p.state, p.state_version, p.join_timestamp,"
    " p.reclaim_of AS reclaims"
)
RECOVERY_NUMBER_SQL = """CASE WHEN p.recovery_digest IS NOT NULL
    THEN rollcall_recovery_number(e.hmac_key, p.id, p.recovery_generation) END"""
"""The participant's recovery code as a number, for event_participants AS p joined to events AS e."""


def to_participant(record: asyncpg.Record) -> Participant:
    return Participant(
        id=record["id"],
        display_name=record["display_name"],
        status=record["status"],
        state=record["state"],
        version=record["state_version"],
        joined_at=record["join_timestamp"],
        reclaims=record["reclaims"],
    )


def shown_code(number: int | None) -> str | None:
    """The recovery code as shown (ABCD-EFGH); None for a seat move request, which has none."""
    return None if number is None else recovery.code_of(number)


@dataclass
class JoinAllowance:
    """What the caller's rate limits allow one join attempt, and what the attempt cost.

    The database decides whether an attempt is a rejoin (never limited) or a newcomer; the
    caller charges its limits afterwards from `counts_as_join` and `wrong_guess`.
    """

    may_join: bool = True
    may_guess: bool = True
    join_retry_after_s: int = 1
    guess_retry_after_s: int = 1
    counts_as_join: bool = False
    wrong_guess: bool = False


@dataclass(frozen=True)
class JoinResult:
    participant: Participant
    session_token: str
    outcome: str  # joined, pending, rejoined, reclaimed or reclaim_pending
    recovery_code: str | None

    @property
    def rejoined(self) -> bool:
        return self.outcome in ("rejoined", "reclaimed")


@dataclass(frozen=True)
class Session:
    participant: Participant
    event_id: UUID
    event_code: str
    recovery_code: str | None = None


JOIN_REFUSALS: dict[str, type[Exception]] = {
    "not_found": EventNotFound,
    "closed": EventClosed,
    "banned": DeviceBanned,
    "locked": EventLocked,
    "full": EventFull,
    "room_check_failed": RoomCheckFailed,
    "reclaim_disabled": ReclaimDisabled,
    "recovery_invalid": RecoveryCodeInvalid,
}
ADMITTED_OUTCOMES = ("joined", "pending", "rejoined", "reclaimed", "reclaim_pending")
# Attempts of a device new to the event without a recovery code: what the join limit counts.
NEWCOMER_OUTCOMES = ("joined", "pending", "locked", "full", "name_taken", "room_check_failed")
WRONG_GUESSES = ("room_check_failed", "recovery_invalid")


async def join(
    joins: JoinBatcher,
    *,
    code: str,
    device_id: UUID,
    display_name: str,
    room_check: str | None = None,
    recovery_code: str | None = None,
    allowance: JoinAllowance | None = None,
) -> JoinResult:
    """Join the event from `device_id`, or rejoin the participant this device already has there.

    The rules run in the database (rollcall_join_many, revision join_batches), in their
    documented order, while the event row is locked; the batcher sends many joins in one
    transaction, and the database takes them as sets with the outcome of one after another.
    With `recovery_code`, a device new to the event takes over that participant's seat.
    """
    allowance = allowance or JoinAllowance()
    name, name_key = normalize_display_name(display_name)
    skeleton = name_skeleton(name)
    recovery_digest = (
        None if recovery_code is None else recovery.digest_of(recovery.number_of(recovery_code))
    )
    for _ in range(JOIN_ATTEMPTS):
        token = new_token()
        record = await joins.join(
            BatchedJoin(
                code,
                device_id,
                name,
                name_key,
                skeleton,
                digest(token),
                room_check=room_check,
                recovery_digest=recovery_digest,
                may_join=allowance.may_join,
                may_guess=allowance.may_guess,
            )
        )
        outcome = record["outcome"]
        metrics.JOINS.labels(outcome=outcome).inc()
        allowance.counts_as_join = outcome in NEWCOMER_OUTCOMES
        allowance.wrong_guess = outcome in WRONG_GUESSES
        if outcome in ADMITTED_OUTCOMES:
            return JoinResult(
                to_participant(record), token, outcome, shown_code(record["recovery_number"])
            )
        if outcome == "name_taken":
            raise NameTaken(f"someone else in this event is called {name!r}, or looks it")
        if outcome == "join_limited":
            raise RateLimited(
                "too many joins from this address; try again later",
                retry_after_s=allowance.join_retry_after_s,
            )
        if outcome == "guess_limited":
            raise RateLimited(
                "too many wrong codes from this address; try again later",
                retry_after_s=allowance.guess_retry_after_s,
            )
        if outcome in JOIN_REFUSALS:
            raise JOIN_REFUSALS[outcome]()
    raise RuntimeError("join did not settle after several attempts")


async def session_for_token(conn: DB, *, token: str | None) -> Session:
    """The live session this token belongs to, or 401 invalid_token."""
    record = None
    if token:
        record = await conn.fetchrow(
            f"""
            SELECT {PARTICIPANT_COLUMNS}, e.code AS event_code,
                {RECOVERY_NUMBER_SQL} AS recovery_number
            FROM event_participants AS p JOIN events AS e ON e.id = p.event_id
            WHERE p.session_token_hash = $1 AND p.status IN ('active', 'pending')
              AND e.status <> 'closed'
            """,
            digest(token),
        )
    if record is None:
        raise InvalidToken("the session token is missing, invalid or revoked")
    return Session(
        to_participant(record),
        record["event_id"],
        record["event_code"],
        shown_code(record["recovery_number"]),
    )


async def leave(conn: DB, *, token: str | None) -> UUID:
    """Leave: the participant is left and the token revoked; they keep their seat and name.

    A participant still waiting for the host leaves the queue altogether. Returns the id.
    """
    if not token:
        raise InvalidToken("the session token is missing, invalid or revoked")
    async with conn.transaction():
        found = await conn.fetchrow(
            """
            SELECT e.id AS event_id, p.id FROM events AS e
            JOIN event_participants AS p ON p.event_id = e.id
            WHERE p.session_token_hash = $1 AND p.status IN ('active', 'pending')
              AND e.status <> 'closed'
            FOR UPDATE OF e
            """,
            digest(token),
        )
        if found is None:
            raise InvalidToken("the session token is missing, invalid or revoked")
        await _withdraw(conn, event_id=found["event_id"], participant_id=found["id"])
    participant_id: UUID = found["id"]
    return participant_id


async def _withdraw(conn: DB, *, event_id: UUID, participant_id: UUID) -> asyncpg.Record | None:
    """Left, with no session: a waiting participant is forgotten, anyone else keeps their seat.

    Runs under the event lock. Returns the row as it now is (None when it was already left).
    """
    record = await conn.fetchrow(
        f"""
        DELETE FROM event_participants AS p
        WHERE p.id = $1 AND p.event_id = $2 AND p.status = 'pending'
        RETURNING {PARTICIPANT_COLUMNS}
        """,
        participant_id,
        event_id,
    )
    if record is None:
        record = await conn.fetchrow(
            f"""
            UPDATE event_participants AS p SET status = 'left', session_token_hash = NULL,
                away = false, reported_presence = 'left'
            WHERE p.id = $1 AND p.event_id = $2 AND p.status = 'active'
            RETURNING {PARTICIPANT_COLUMNS}
            """,
            participant_id,
            event_id,
        )
    if record is None:
        return None
    await event_log.append(
        conn,
        event_id=event_id,
        message={"type": HostMessage.LEFT, "participant_id": str(participant_id)},
    )
    return record


async def kick(conn: DB, *, event: EventRow, participant_id: UUID, ban: bool = True) -> Participant:
    """Remove a participant: the session ends at once and the name is free for others.

    With `ban` (the default) the device is refused from now on and the seat is freed; the
    token's digest stays, so that a socket that says hello with it learns it was kicked (Close.KICKED)
    rather than merely refused, and no route accepts it. Without, the participant is left (a
    waiting one is forgotten) and its device may come back as the same participant.
    """
    async with conn.transaction():
        if await event_log.lock_event(conn, event_id=event.id) == "closed":
            raise EventClosed("a closed event cannot be changed")
        if not ban:
            record = await _withdraw(conn, event_id=event.id, participant_id=participant_id)
            if record is None:
                return await get_participant(conn, event=event, participant_id=participant_id)
            left = to_participant(record)
            return left.model_copy(update={"status": "left"})
        record = await conn.fetchrow(
            f"""
            UPDATE event_participants AS p
            SET status = 'kicked', away = false, reported_presence = 'kicked',
                name_key = p.name_key || '#' || p.id, name_skeleton = NULL
            FROM (SELECT id, status FROM event_participants WHERE id = $1 FOR UPDATE) AS old
            WHERE p.id = old.id AND p.event_id = $2 AND p.status <> 'kicked'
            RETURNING {PARTICIPANT_COLUMNS}, old.status AS was
            """,
            participant_id,
            event.id,
        )
        if record is None:
            return await get_participant(conn, event=event, participant_id=participant_id)
        if record["was"] != "pending":  # a waiting participant held no seat
            await conn.execute(
                "UPDATE events SET seats_taken = seats_taken - 1 WHERE id = $1", event.id
            )
        await event_log.append(
            conn,
            event_id=event.id,
            message={"type": HostMessage.KICKED, "participant_id": str(participant_id)},
        )
    return to_participant(record)


async def kick_recent(conn: DB, *, event: EventRow, joined_within_s: float, ban: bool) -> int:
    """Remove everyone who joined in the last `joined_within_s` seconds: a flood that got in.

    Each goes as kick() removes one; returns how many were removed.
    """
    ids = await conn.fetch(
        """
        SELECT id FROM event_participants
        WHERE event_id = $1 AND status <> 'kicked'
          AND join_timestamp >= now() - make_interval(secs => $2)
        ORDER BY join_timestamp, id
        """,
        event.id,
        joined_within_s,
    )
    for row in ids:
        await kick(conn, event=event, participant_id=row["id"], ban=ban)
    return len(ids)


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
        size = jsonbody.size(merged)
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


async def state_version(conn: DB, *, participant_id: UUID) -> int:
    """The participant's state version now (0 for one that is gone)."""
    version: int | None = await conn.fetchval(
        "SELECT state_version FROM event_participants WHERE id = $1", participant_id
    )
    return version or 0


async def roster(conn: DB, *, event: EventRow, presence_timeout_s: float) -> list[RosterEntry]:
    records = await conn.fetch(
        f"""
        SELECT {PARTICIPANT_COLUMNS}, p.last_heartbeat, {presence_sql("p", "$2")} AS presence,
            p.seen_event_version, p.seen_version
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
            seen_event_version=record["seen_event_version"],
            seen_version=record["seen_version"],
        )
        for record in records
    ]


async def roster_json(conn: DB, *, event: EventRow, presence_timeout_s: float) -> str:
    """The roster as JSON text, built by PostgreSQL: the same entries as `roster`, in order.

    A host's welcome carries it whole. Built here, a 10,000-person roster would hold the
    process for a fraction of a second (a model and a dict per row, then one json.dumps),
    answering no other socket meanwhile; PostgreSQL builds the text in its own process, and
    this one only receives one string. rollcall_roster_entry (revision 0006) gives each
    entry the RosterEntry's shape, as in the log messages hosts already read.
    """
    text: str = await conn.fetchval(
        f"""
        SELECT coalesce(json_agg(
            rollcall_roster_entry(p, {presence_sql("p", "$2")}) ORDER BY p.join_timestamp, p.id
        ), '[]')::text
        FROM event_participants AS p
        WHERE p.event_id = $1
        """,
        event.id,
        presence_timeout_s,
    )
    return text


@dataclass(frozen=True)
class SocketSession:
    """What a participant's socket needs at hello: who, where, and whether already here."""

    participant: Participant
    status: str
    device_id: UUID
    event: EventRow
    seq: int
    event_state: dict[str, Any]  # the event's state and version as of `seq`
    event_state_version: int
    present: bool  # online and not away: the hello changes nothing the hosts see
    presence: PresenceRow  # for the presence change the hello makes otherwise


async def socket_session(conn: DB, *, token: str) -> SocketSession | None:
    """The participant this token was issued to, whatever their status; None when unknown.

    Unlike session_for_token, a kicked or left participant is found too, so that the socket
    can say why it is refused. It reads the participant's presence row too, for the presence
    change the hello makes (set_presence's `known`), and the event state with the seq it is
    current to, for the welcome: whatever changes after that seq reaches the socket in order.
    """
    record = await conn.fetchrow(
        f"""
        SELECT {PARTICIPANT_COLUMNS}, {event_columns("e", "event_")}, e.seq, p.device_id,
            e.state AS event_state, e.state_version AS event_state_version,
            p.reported_presence = 'online' AND NOT p.away AS present, {PRESENCE_ROW_COLUMNS}
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
        device_id=record["device_id"],
        event=event_from(record, "event_"),
        seq=record["seq"],
        event_state=record["event_state"],
        event_state_version=record["event_state_version"],
        present=record["present"],
        presence=PresenceRow.of(record),
    )
