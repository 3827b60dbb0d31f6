"""Join, rejoin, leave, kick, state: the participant rules, decided by the database.

Uniqueness of devices and names are constraints; the join rules, seats included, run in the
database function rollcall_join_many (db/functions/) under the event row lock; what it
answers is a JoinOutcome (outcomes.py). Concurrent requests are resolved by
PostgreSQL, never by a check-then-insert here.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    GeneratedNamesOff,
    InvalidToken,
    NameNotAllowed,
    NamesGenerated,
    NameTaken,
    ParticipantNotFound,
    RateLimited,
    ReclaimDisabled,
    RecoveryCodeInvalid,
    RoomCheckFailed,
    StateTooLarge,
    TeamChoiceOff,
    TeamNotFound,
)
from rollcall.events.service import EventRow, event_columns, event_from
from rollcall.participants import generated, outcomes, recovery
from rollcall.participants.batch import BatchedJoin, JoinBatcher
from rollcall.participants.names import name_skeleton, normalize_display_name
from rollcall.participants.outcomes import JoinOutcome
from rollcall.participants.schemas import Participant, ParticipantPatch, RosterEntry
from rollcall.participants.wordfilter import builtin_list, name_forms
from rollcall.presence.service import PRESENCE_ROW_COLUMNS, PresenceRow, presence_sql
from rollcall.protocol import HostMessage

MAX_STATE_BYTES = 16 * 1024
JOIN_ATTEMPTS = 5
GENERATED_ATTEMPTS = 10  # a drawn name may be taken, or have a word the host blocked

PARTICIPANT_COLUMNS = (
    "p.id, p.event_id, p.display_name, p.status, p.state, p.state_version, p.join_timestamp,"
    " p.reclaim_of AS reclaims, p.team, p.device_id IS NOT NULL AS has_phone"
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
        team=record["team"],
        has_phone=record["has_phone"],
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
    outcome: JoinOutcome  # one of outcomes.ADMITTED
    recovery_code: str | None

    @property
    def rejoined(self) -> bool:
        return self.outcome in outcomes.REJOINED

    @property
    def reclaimed(self) -> bool:
        return self.outcome == JoinOutcome.RECLAIMED


@dataclass(frozen=True)
class Session:
    participant: Participant
    event_id: UUID
    event_code: str
    recovery_code: str | None = None


JOIN_REFUSALS: dict[str, type[Exception]] = {
    JoinOutcome.NOT_FOUND: EventNotFound,
    JoinOutcome.CLOSED: EventClosed,
    JoinOutcome.BANNED: DeviceBanned,
    JoinOutcome.LOCKED: EventLocked,
    JoinOutcome.FULL: EventFull,
    JoinOutcome.ROOM_CHECK_FAILED: RoomCheckFailed,
    JoinOutcome.RECLAIM_DISABLED: ReclaimDisabled,
    JoinOutcome.RECOVERY_INVALID: RecoveryCodeInvalid,
    JoinOutcome.NAMES_GENERATED: NamesGenerated,
    JoinOutcome.GENERATED_NAMES_OFF: GeneratedNamesOff,
    JoinOutcome.TEAM_CHOICE_OFF: TeamChoiceOff,
    JoinOutcome.TEAM_NOT_FOUND: TeamNotFound,
}


@dataclass(frozen=True)
class NameChoice:
    """The name a join asks for: typed, or to be drawn (generated) in a language."""

    typed: str | None = None
    suggestion: str | None = None  # generated: the name the page offered, if any
    language: str = generated.DEFAULT_LANGUAGE

    @property
    def generated(self) -> bool:
        return self.typed is None

    def attempt(self, n: int, avoid: frozenset[str] = frozenset()) -> str:
        """The name of the n-th attempt (a typed name is the same every time); a drawn one
        leaves out the words in `avoid` (those of names the event refused)."""
        if self.typed is not None:
            return self.typed
        if n == 0 and self.suggestion and generated.is_generated(self.suggestion, self.language):
            return self.suggestion
        return generated.draw(self.language, n, avoid)


@dataclass(frozen=True)
class CheckedName:
    """A name with everything the database's name rules need of it."""

    name: str
    key: str
    skeleton: str
    forms: str  # for the word filter
    listed: bool  # the built-in list refuses it

    @classmethod
    def of(cls, raw: str) -> CheckedName:
        name, key = normalize_display_name(raw)
        forms = name_forms(name)
        return cls(name, key, name_skeleton(name), forms, builtin_list().refuses(forms))


async def join(
    joins: JoinBatcher,
    *,
    code: str,
    device_id: UUID,
    display_name: str | NameChoice,
    room_check: str | None = None,
    recovery_code: str | None = None,
    team: str | None = None,
    allowance: JoinAllowance | None = None,
) -> JoinResult:
    """Join the event from `device_id`, or rejoin the participant this device already has there.

    The rules run in the database (rollcall_join_many, db/functions/), in their
    documented order, while the event row is locked; the batcher sends many joins in one
    transaction, and the database takes them as sets with the outcome of one after another.
    With `recovery_code`, a device new to the event takes over that participant's seat. A
    generated name (a NameChoice without `typed`) that is taken or refused is drawn again.
    """
    allowance = allowance or JoinAllowance()
    choice = display_name if isinstance(display_name, NameChoice) else NameChoice(display_name)
    recovery_digest = (
        None if recovery_code is None else recovery.digest_of(recovery.number_of(recovery_code))
    )
    refused_words: frozenset[str] = frozenset()
    outcome = JoinOutcome.RETRY
    for attempt in range(GENERATED_ATTEMPTS if choice.generated else JOIN_ATTEMPTS):
        name = CheckedName.of(choice.attempt(attempt, refused_words))
        token = new_token()
        record = await joins.join(
            BatchedJoin(
                code,
                device_id,
                name.name,
                name.key,
                name.skeleton,
                digest(token),
                room_check=room_check,
                recovery_digest=recovery_digest,
                may_join=allowance.may_join,
                may_guess=allowance.may_guess,
                generated=choice.generated,
                name_forms=name.forms,
                name_listed=name.listed,
                team=team,
            )
        )
        outcome = JoinOutcome(record["outcome"])
        metrics.JOINS.labels(outcome=outcome).inc()
        allowance.counts_as_join = outcome in outcomes.NEWCOMER
        allowance.wrong_guess = outcome in outcomes.WRONG_GUESSES
        if outcome in outcomes.ADMITTED:
            return JoinResult(
                to_participant(record), token, outcome, shown_code(record["recovery_number"])
            )
        if outcome in outcomes.REDRAWN and choice.generated:
            if outcome == JoinOutcome.NAME_NOT_ALLOWED:  # the host blocked a word of it: not again
                refused_words |= frozenset(name.name.split())
            continue
        if outcome == JoinOutcome.NAME_NOT_ALLOWED:
            raise NameNotAllowed("this event does not allow this name; choose another")
        if outcome == JoinOutcome.NAME_TAKEN:
            raise NameTaken(f"someone else in this event is called {name.name!r}, or looks it")
        if outcome == JoinOutcome.JOIN_LIMITED:
            raise RateLimited(
                "too many joins from this address; try again later",
                retry_after_s=allowance.join_retry_after_s,
            )
        if outcome == JoinOutcome.GUESS_LIMITED:
            raise RateLimited(
                "too many wrong codes for this event from this address; try again later",
                retry_after_s=allowance.guess_retry_after_s,
            )
        if outcome in JOIN_REFUSALS:
            raise JOIN_REFUSALS[outcome]()
    if outcome == JoinOutcome.NAME_NOT_ALLOWED:
        raise NameNotAllowed("no generated name gets past this event's word filter")
    if outcome == JoinOutcome.NAME_TAKEN:
        raise NameTaken("no free generated name was found; try again")
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


async def update_participant(
    conn: DB, *, event: EventRow, participant_id: UUID, patch: ParticipantPatch
) -> Participant:
    """The host changes a participant's name, team or state, all or nothing, under the event lock.

    A name follows the name rules (unique, the event's word filter: 409 name_taken, 422
    name_not_allowed); a team is one of the event's, or None. Each change is announced:
    participant.renamed, participant.team, participant.state (in that order).
    """
    async with conn.transaction():
        if await event_log.lock_event(conn, event_id=event.id) == "closed":
            raise EventClosed("a closed event cannot be changed")
        current = await conn.fetchrow(
            """
            SELECT p.state, p.display_name, p.team, e.teams, e.name_filter
            FROM event_participants AS p JOIN events AS e ON e.id = p.event_id
            WHERE p.id = $1 AND p.event_id = $2
            FOR UPDATE OF p
            """,
            participant_id,
            event.id,
        )
        if current is None:
            raise ParticipantNotFound()
        if patch.display_name is not None and patch.display_name != current["display_name"]:
            await _rename(
                conn, event_id=event.id, participant_id=participant_id, raw=patch.display_name
            )
        if patch.team_given and patch.team != current["team"]:
            if patch.team is not None and not any(t["id"] == patch.team for t in current["teams"]):
                raise TeamNotFound(f"this event has no team {patch.team!r}")
            await set_teams(conn, event_id=event.id, teams={participant_id: patch.team})
        if patch.state is not None:
            merged = merge_patch(current["state"], patch.state)
            size = jsonbody.size(merged)
            if size > MAX_STATE_BYTES:
                raise StateTooLarge(
                    f"the state would be {size} bytes; the limit is {MAX_STATE_BYTES}"
                )
            version = await conn.fetchval(
                """
                UPDATE event_participants SET state = $2, state_version = state_version + 1
                WHERE id = $1 RETURNING state_version
                """,
                participant_id,
                merged,
            )
            await event_log.append(
                conn,
                event_id=event.id,
                message={
                    "type": HostMessage.STATE,
                    "participant_id": str(participant_id),
                    "state": merged,
                    "version": version,
                },
            )
        return await get_participant(conn, event=event, participant_id=participant_id)


async def name_refused(conn: DB, *, event_id: UUID, name: CheckedName) -> bool:
    """Whether the event's word filter refuses the name (rollcall_name_refused decides)."""
    refused: bool = await conn.fetchval(
        "SELECT rollcall_name_refused(e, $2, $3) FROM events AS e WHERE e.id = $1",
        event_id,
        name.forms,
        name.listed,
    )
    return refused


async def _rename(conn: DB, *, event_id: UUID, participant_id: UUID, raw: str) -> None:
    """Give the participant a new name, under the event lock; announce it."""
    name = CheckedName.of(raw)
    if await name_refused(conn, event_id=event_id, name=name):
        raise NameNotAllowed("this event does not allow this name; choose another")
    try:
        # A removed participant's name, or a seat move request's, is kept out of the way of
        # others (as kick() leaves it): unique only to itself.
        await conn.execute(
            """
            UPDATE event_participants AS p SET display_name = $2,
                name_key = CASE WHEN p.status = 'kicked' OR p.reclaim_of IS NOT NULL
                                THEN $3 || '#' || p.id ELSE $3 END,
                name_skeleton = CASE WHEN p.status = 'kicked' OR p.reclaim_of IS NOT NULL
                                     THEN NULL ELSE $4 END
            WHERE p.id = $1
            """,
            participant_id,
            name.name,
            name.key,
            name.skeleton,
        )
    except asyncpg.UniqueViolationError:
        raise NameTaken(
            f"someone else in this event is called {name.name!r}, or looks it"
        ) from None
    await event_log.append(
        conn,
        event_id=event_id,
        message={
            "type": HostMessage.RENAMED,
            "participant_id": str(participant_id),
            "display_name": name.name,
        },
    )


async def set_teams(conn: DB, *, event_id: UUID, teams: Mapping[UUID, str | None]) -> None:
    """Put participants in teams (None: in none), under the event lock; one message each."""
    if not teams:
        return
    await conn.execute(
        """
        UPDATE event_participants AS p SET team = t.team
        FROM unnest($2::uuid[], $3::text[]) AS t(id, team)
        WHERE p.id = t.id AND p.event_id = $1
        """,
        event_id,
        list(teams),
        list(teams.values()),
    )
    await event_log.append_many(
        conn,
        event_id=event_id,
        messages=[
            {"type": HostMessage.TEAM, "participant_id": str(pid), "team": team}
            for pid, team in teams.items()
        ],
    )


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
