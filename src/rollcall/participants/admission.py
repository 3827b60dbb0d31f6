"""The host's door: admit or deny who waits, unban who was removed, reset a recovery code.

Admission runs in the database function rollcall_admit (revision 0006) under the event row
lock, so two hosts admitting at once admit each participant once and never pass the capacity.
"""

from __future__ import annotations

from uuid import UUID

from rollcall import event_log
from rollcall.db.pool import DB
from rollcall.errors import (
    DeviceBanned,
    EventClosed,
    EventFull,
    NameTaken,
    ParticipantNotFound,
    ParticipantNotKicked,
    ParticipantNotPending,
)
from rollcall.events.service import EventRow
from rollcall.participants.names import name_skeleton, normalize_display_name
from rollcall.participants.outcomes import AdmitOutcome
from rollcall.participants.schemas import Participant
from rollcall.participants.service import (
    PARTICIPANT_COLUMNS,
    RECOVERY_NUMBER_SQL,
    get_participant,
    kick,
    shown_code,
    to_participant,
)
from rollcall.protocol import HostMessage

ADMIT_REFUSALS: dict[str, type[Exception]] = {
    AdmitOutcome.CLOSED: EventClosed,
    AdmitOutcome.NOT_FOUND: ParticipantNotFound,
    AdmitOutcome.NOT_PENDING: ParticipantNotPending,
    AdmitOutcome.FULL: EventFull,
    AdmitOutcome.BANNED: DeviceBanned,
}


async def admit_many(conn: DB, *, event: EventRow, participant_ids: list[UUID] | None) -> int:
    """Admit waiting participants in join order while seats last; returns how many got in.

    None admits every waiting newcomer (seat moves are left for the host to look at one by
    one). Ids that are no longer waiting are skipped. 409 `event_full` when people wait and
    no seat is left for any of them.
    """
    rows = await conn.fetch("SELECT * FROM rollcall_admit($1, $2)", event.id, participant_ids)
    outcomes = [AdmitOutcome(row["outcome"]) for row in rows]
    if AdmitOutcome.CLOSED in outcomes:
        raise EventClosed("a closed event cannot be changed")
    admitted = sum(outcome in (AdmitOutcome.ADMITTED, AdmitOutcome.MOVED) for outcome in outcomes)
    if admitted == 0 and AdmitOutcome.FULL in outcomes:
        raise EventFull("no seat is left for anyone waiting; raise the capacity first")
    return admitted


async def admit(conn: DB, *, event: EventRow, participant_id: UUID) -> Participant:
    """Admit one waiting participant: a seat is taken, or, for a seat move, the seat moves.

    Returns the participant now in the seat (for a seat move, the one whose seat it was).
    """
    rows = await conn.fetch("SELECT * FROM rollcall_admit($1, $2)", event.id, [participant_id])
    outcome = AdmitOutcome(rows[0]["outcome"]) if rows else AdmitOutcome.NOT_FOUND
    if outcome in ADMIT_REFUSALS:
        raise ADMIT_REFUSALS[outcome]()
    seated: UUID = rows[0]["participant_id"]
    return await get_participant(conn, event=event, participant_id=seated)


async def deny(conn: DB, *, event: EventRow, participant_id: UUID) -> Participant:
    """Refuse a waiting participant: its device is refused from now on, as after a kick."""
    current = await get_participant(conn, event=event, participant_id=participant_id)
    if current.status != "pending":
        raise ParticipantNotPending("only a waiting participant can be denied")
    return await kick(conn, event=event, participant_id=participant_id, ban=True)


async def unban(conn: DB, *, event: EventRow, participant_id: UUID) -> Participant:
    """A kicked participant becomes left: its device may rejoin, into the seat it takes now.

    409 `event_full` when no seat is left, 409 `name_taken` when someone took the name meanwhile.
    """
    async with conn.transaction():
        if await event_log.lock_event(conn, event_id=event.id) == "closed":
            raise EventClosed("a closed event cannot be changed")
        current = await get_participant(conn, event=event, participant_id=participant_id)
        if current.status != "kicked":
            raise ParticipantNotKicked("only a removed participant can be let back")
        name, key = normalize_display_name(current.display_name)
        skeleton = name_skeleton(name)
        taken = await conn.fetchval(
            """
            SELECT EXISTS (SELECT 1 FROM event_participants
                           WHERE event_id = $1 AND id <> $2 AND (name_key = $3 OR name_skeleton = $4))
            """,
            event.id,
            participant_id,
            key,
            skeleton,
        )
        if taken:
            raise NameTaken(f"someone else in this event is now called {name!r}, or looks it")
        seat = await conn.fetchval(
            """
            UPDATE events AS e SET seats_taken = seats_taken + 1
            WHERE id = $1 AND NOT rollcall_full(e) RETURNING id
            """,
            event.id,
        )
        if seat is None:
            raise EventFull("every seat is taken; raise the capacity to let them back")
        record = await conn.fetchrow(
            f"""
            UPDATE event_participants AS p
            SET status = 'left', session_token_hash = NULL, reported_presence = 'left',
                name_key = $3, name_skeleton = $4
            WHERE p.id = $1 AND p.event_id = $2
            RETURNING {PARTICIPANT_COLUMNS}
            """,
            participant_id,
            event.id,
            key,
            skeleton,
        )
        assert record is not None
        await event_log.append(
            conn,
            event_id=event.id,
            message={"type": HostMessage.LEFT, "participant_id": str(participant_id)},
        )
    return to_participant(record)


async def reset_recovery_code(conn: DB, *, event: EventRow, participant_id: UUID) -> str:
    """Give the participant a new recovery code; the old one stops working at once."""
    async with conn.transaction():
        if await event_log.lock_event(conn, event_id=event.id) == "closed":
            raise EventClosed("a closed event cannot be changed")
        record = await conn.fetchrow(
            f"""
            UPDATE event_participants AS p
            SET recovery_generation = r.o_generation, recovery_digest = r.o_digest
            FROM events AS e, LATERAL rollcall_free_recovery(
                e.hmac_key, e.id, $1, (SELECT recovery_generation + 1
                                       FROM event_participants WHERE id = $1)) AS r
            WHERE p.id = $1 AND p.event_id = $2 AND e.id = p.event_id
              AND p.reclaim_of IS NULL AND p.status <> 'kicked'
            RETURNING {RECOVERY_NUMBER_SQL} AS recovery_number
            """,
            participant_id,
            event.id,
        )
    if record is None:
        current = await get_participant(conn, event=event, participant_id=participant_id)
        if current.status == "kicked":
            raise DeviceBanned("a removed participant has no recovery code")
        raise ParticipantNotFound("a seat move request has no recovery code; admit or deny it")
    code = shown_code(record["recovery_number"])
    assert code is not None
    return code
