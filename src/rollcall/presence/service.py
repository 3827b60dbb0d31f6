"""Presence as the host sees it: computed in SQL, and each change announced exactly once.

`reported_presence` remembers what the hosts were last told. A change is announced by the
statement that moves reported_presence, so whichever process notices it first announces it
and every other finds nothing left to do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

import asyncpg

from rollcall import event_log
from rollcall.db.pool import DB
from rollcall.protocol import HostMessage

log = logging.getLogger(__name__)

Presence = Literal["online", "away", "offline", "left", "kicked"]

# One sweeper at a time across every process sharing the database.
SWEEP_LOCK_KEY = 0x726F6C6C  # "roll"

ANNOUNCE_EVERY_S = 1.0
"""A participant's presence changes are announced at this pace: a page hidden and shown again
is announced at once both times, but a phone flipping away and back faster than this costs
hosts one message a second, and the event row lock is not taken for the flips in between (the
row changes; where the flips ended is announced when the pace allows)."""

# The pace as a generic cell rate algorithm: presence_pace is the theoretical time of the next
# announcement; one may run ahead of it by one interval (a burst of two), no more.
_EVERY = f"interval '{ANNOUNCE_EVERY_S:g} second'"
_PACED = f"(p.presence_pace IS NULL OR p.presence_pace - {_EVERY} <= now())"
_NEXT_PACE = f"greatest(coalesce(p.presence_pace, now()), now()) + {_EVERY}"


@dataclass(frozen=True)
class PresenceRow:
    """What set_presence needs to know of a participant row before it changes it."""

    reported_presence: str | None  # what the hosts were last told
    away: bool
    paced: bool  # the pace allows an announcement now
    wait_s: float  # if not: how long until it does

    @classmethod
    def of(cls, record: asyncpg.Record) -> PresenceRow:
        """Out of a row selected with PRESENCE_ROW_COLUMNS."""
        return cls(
            reported_presence=record["reported_presence"],
            away=record["away"],
            paced=record["paced"],
            wait_s=max(0.0, record["pace_wait_s"] or 0.0),
        )


PRESENCE_ROW_COLUMNS = (
    f"p.reported_presence, p.away, {_PACED} AS paced,"
    f" extract(epoch FROM p.presence_pace - {_EVERY} - now())::float8 AS pace_wait_s"
)
"""PresenceRow's columns, for a query on event_participants AS p: the socket's hello reads
them with the session, so that the participant's first presence change needs no read of its
own."""


@dataclass(frozen=True)
class PresenceChange:
    outcome: Literal["announced", "unchanged", "deferred"]
    wait_s: float = 0.0  # deferred: when the pace allows the announcement


def presence_sql(alias: str = "p", timeout_param: str = "$2") -> str:
    """A SQL expression for a participant row's presence; timeout_param holds seconds.

    A seat without a phone (device_id NULL) is offline until a phone takes it. Silence beats
    everything: a page that said `away` and then stopped beating (closed, or a
    phone that killed the tab) is offline once the timeout passes. While it beats, away stays
    away until it says `back`.
    """
    return f"""CASE
        WHEN {alias}.status IN ('left', 'kicked') THEN {alias}.status
        WHEN {alias}.device_id IS NULL THEN 'offline'
        WHEN {alias}.last_heartbeat < now() - make_interval(secs => {timeout_param}) THEN 'offline'
        WHEN {alias}.away THEN 'away'
        ELSE 'online' END"""


async def set_presence(
    conn: DB,
    *,
    participant_id: UUID,
    event_id: UUID,
    away: bool,
    known: PresenceRow | None = None,
) -> PresenceChange:
    """The participant is here now: away (page hidden) or online. Announces a change once.

    Faster than ANNOUNCE_EVERY_S allows, only the row changes ("deferred", with how long until
    the pace allows it): the caller may ask again then, and the sweep announces it otherwise.
    `known` is the row as the caller read it a moment ago (a socket's hello): it saves the
    read. The change itself is decided on the locked row, so a stale `known` costs at most a
    needless lock, or an announcement up to one pace early.
    """
    wanted = "away" if away else "online"
    if known is None:
        record = await conn.fetchrow(
            f"SELECT {PRESENCE_ROW_COLUMNS} FROM event_participants AS p WHERE id = $1",
            participant_id,
        )
        if record is None:
            return PresenceChange("unchanged")
        known = PresenceRow.of(record)
    if known.reported_presence == wanted and known.away == away:
        return PresenceChange("unchanged")
    if not known.paced:
        await note_away(conn, participant_id=participant_id, away=away)
        return PresenceChange("deferred", known.wait_s)
    async with conn.transaction():
        await event_log.lock_event(conn, event_id=event_id)
        before = await conn.fetchval(
            f"""
            UPDATE event_participants AS p
            SET away = $2, last_heartbeat = now(), reported_presence = $3,
                presence_pace = {_NEXT_PACE}
            FROM (SELECT id, reported_presence FROM event_participants WHERE id = $1 FOR UPDATE)
                AS old
            WHERE p.id = old.id AND p.status = 'active'
            RETURNING coalesce(old.reported_presence, '')
            """,
            participant_id,
            away,
            wanted,
        )
        if before is None or before == wanted:
            return PresenceChange("unchanged")
        await _announce(conn, event_id=event_id, participant_id=participant_id, presence=wanted)
    return PresenceChange("announced")


async def note_away(conn: DB, *, participant_id: UUID, away: bool) -> None:
    """Record away or back without announcing it (the pace does not allow it yet).

    One statement on the participant's row, no event lock: the sweep, or the caller once the
    pace allows, announces where it ends.
    """
    await conn.execute(
        "UPDATE event_participants SET away = $2, last_heartbeat = now()"
        " WHERE id = $1 AND status = 'active'",
        participant_id,
        away,
    )


async def _announce(conn: DB, *, event_id: UUID, participant_id: UUID, presence: str) -> None:
    await event_log.append(
        conn,
        event_id=event_id,
        message={
            "type": HostMessage.PRESENCE,
            "participant_id": str(participant_id),
            "presence": presence,
        },
    )


async def sweep(conn: DB, *, presence_timeout_s: float) -> int:
    """Announce every presence that changed since it was last reported; returns how many.

    Runs in one process at a time (an advisory lock); the others skip their turn.
    """
    computed = presence_sql("p", "$1")
    async with conn.transaction():
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", SWEEP_LOCK_KEY):
            return 0
        candidates = await conn.fetch(
            f"""
            SELECT p.id, p.event_id FROM event_participants AS p
            JOIN events AS e ON e.id = p.event_id
            WHERE p.status = 'active' AND e.status <> 'closed'
              AND p.reported_presence IS DISTINCT FROM {computed} AND {_PACED}
            """,
            presence_timeout_s,
        )
        if not candidates:
            return 0
        # Events first, in a fixed order, as every roster change does: no deadlock.
        await conn.execute(
            "SELECT 1 FROM events WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE",
            sorted({c["event_id"] for c in candidates}),
        )
        changed = await conn.fetch(
            f"""
            UPDATE event_participants AS p
            SET reported_presence = {computed}, presence_pace = {_NEXT_PACE}
            WHERE p.id = ANY($2::uuid[]) AND p.status = 'active'
              AND p.reported_presence IS DISTINCT FROM {computed} AND {_PACED}
            RETURNING p.id, p.event_id, p.reported_presence
            """,
            presence_timeout_s,
            [c["id"] for c in candidates],
        )
        for row in sorted(changed, key=lambda r: (r["event_id"], r["id"])):
            await _announce(
                conn,
                event_id=row["event_id"],
                participant_id=row["id"],
                presence=row["reported_presence"],
            )
    return len(changed)
