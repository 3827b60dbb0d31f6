"""Seats without a phone: the host seats someone by name; a phone takes the seat later.

Such a participant has no device (device_id NULL) and no session: it holds a seat, is never
online (presence 'offline', has_phone false), and its recovery code is the way in. A join
with that code moves the seat to the phone that gives it (rollcall_join_one), keeping the
participant's id, name, team and state, whatever the event's reclaim switch says.
"""

from __future__ import annotations

from uuid import UUID, uuid4

from rollcall import event_log
from rollcall.db.pool import DB
from rollcall.errors import (
    EventClosed,
    EventFull,
    NameNotAllowed,
    NameTaken,
    ParticipantNotFound,
    TeamNotFound,
)
from rollcall.events.service import EventRow
from rollcall.participants.schemas import Participant
from rollcall.participants.service import (
    PARTICIPANT_COLUMNS,
    RECOVERY_NUMBER_SQL,
    CheckedName,
    name_refused,
    shown_code,
    to_participant,
)
from rollcall.protocol import HostMessage

SEAT_ATTEMPTS = 5  # a recovery code that collides with another's: another id


async def add_seat(
    conn: DB, *, event: EventRow, display_name: str, team: str | None
) -> tuple[Participant, str]:
    """A participant without a phone, holding a seat; returns it and its recovery code.

    Under the event lock, like a join: 410 closed, 409 event_full when no seat is left (a
    locked event still lets the host seat someone), then the name rules and the team.
    """
    name = CheckedName.of(display_name)
    async with conn.transaction():
        locked = await conn.fetchrow(
            "SELECT status, rollcall_full(e) AS full, teams FROM events AS e WHERE id = $1"
            " FOR UPDATE",
            event.id,
        )
        if locked is None or locked["status"] == "closed":
            raise EventClosed("a closed event cannot be changed")
        if locked["full"]:
            raise EventFull("every seat is taken; raise the capacity first")
        if await name_refused(conn, event_id=event.id, name=name):
            raise NameNotAllowed("this event does not allow this name; choose another")
        if team is not None and not any(t["id"] == team for t in locked["teams"]):
            raise TeamNotFound(f"this event has no team {team!r}")
        for _ in range(SEAT_ATTEMPTS):
            record = await conn.fetchrow(
                f"""
                WITH code AS (
                    SELECT rollcall_recovery_number(e.hmac_key, $1, 0) AS number
                    FROM events AS e WHERE e.id = $2
                ), seated AS (
                    INSERT INTO event_participants AS p (id, event_id, device_id, display_name,
                        name_key, name_skeleton, status, reported_presence, recovery_digest, team)
                    SELECT $1, $2, NULL, $3, $4, $5, 'active', 'offline',
                        sha256(int8send(code.number)), $6
                    FROM code
                    ON CONFLICT DO NOTHING
                    RETURNING p.*, rollcall_roster_entry(p, 'offline') AS entry
                )
                SELECT {PARTICIPANT_COLUMNS}, code.number AS recovery_number, p.entry
                FROM seated AS p, code
                """,
                uuid4(),
                event.id,
                name.name,
                name.key,
                name.skeleton,
                team,
            )
            if record is not None:
                break
            taken = await conn.fetchval(
                """
                SELECT EXISTS (SELECT 1 FROM event_participants
                               WHERE event_id = $1 AND (name_key = $2 OR name_skeleton = $3))
                """,
                event.id,
                name.key,
                name.skeleton,
            )
            if taken:
                raise NameTaken(f"someone else in this event is called {name.name!r}, or looks it")
        else:
            raise RuntimeError("no free recovery code after several attempts")
        await conn.execute(
            "UPDATE events SET seats_taken = seats_taken + 1 WHERE id = $1", event.id
        )
        await event_log.append(
            conn,
            event_id=event.id,
            message={"type": HostMessage.JOINED, "participant": record["entry"]},
        )
    code = shown_code(record["recovery_number"])
    assert code is not None
    return to_participant(record), code


async def recovery_code(conn: DB, *, event: EventRow, participant_id: UUID) -> str:
    """The participant's recovery code now (for the host's QR); 404 when it has none."""
    record = await conn.fetchrow(
        f"""
        SELECT {RECOVERY_NUMBER_SQL} AS recovery_number
        FROM event_participants AS p JOIN events AS e ON e.id = p.event_id
        WHERE p.id = $1 AND p.event_id = $2 AND p.status <> 'kicked'
        """,
        participant_id,
        event.id,
    )
    code = None if record is None else shown_code(record["recovery_number"])
    if code is None:
        raise ParticipantNotFound("no participant here has a recovery code by this id")
    return code
