"""Event state: one JSON object per event, changed by merge patch, each change a new version.

A change is a row of the event log (`event.state`), so every phone gets it in order and hosts
and webhooks see it in their stream; a phone that connects gets the latest in its welcome.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from rollcall import event_log, jsonbody
from rollcall.db.pool import DB
from rollcall.errors import EventClosed, EventNotFound, StateTooLarge, VersionConflict
from rollcall.events.service import EventRow
from rollcall.live.schemas import MAX_EVENT_STATE_BYTES, EventState
from rollcall.participants.service import merge_patch
from rollcall.protocol import HostMessage


async def set_event_state(
    conn: DB, *, event: EventRow, patch: dict[str, Any], expect_version: int | None = None
) -> EventState:
    """Merge the patch into the event state under the event row lock; the version grows by one.

    With `expect_version`, only when the state is still at that version (412 otherwise), so
    that two hosts never lose each other's change without knowing.
    """
    async with conn.transaction():
        # The event row lock, as event_log.lock_event takes it, with what the patch applies to.
        record = await conn.fetchrow(
            "SELECT status, state, state_version FROM events WHERE id = $1 FOR UPDATE", event.id
        )
        if record is None:
            raise EventNotFound()
        if record["status"] == "closed":
            raise EventClosed("a closed event cannot be changed")
        if expect_version is not None and expect_version != record["state_version"]:
            raise VersionConflict(
                f"the event state is at version {record['state_version']}, not {expect_version}",
                version=record["state_version"],
            )
        merged = merge_patch(record["state"], patch)
        size = jsonbody.size(merged)
        if size > MAX_EVENT_STATE_BYTES:
            raise StateTooLarge(
                f"the event state would be {size} bytes; the limit is {MAX_EVENT_STATE_BYTES}"
            )
        version: int = await conn.fetchval(
            "UPDATE events SET state = $2, state_version = state_version + 1 WHERE id = $1"
            " RETURNING state_version",
            event.id,
            merged,
        )
        await event_log.append(
            conn,
            event_id=event.id,
            message={"type": HostMessage.EVENT_STATE, "state": merged, "version": version},
        )
    return EventState(state=merged, version=version)


async def current_version(conn: DB, *, event_id: UUID) -> int:
    """The event's state_version now (0 for an event that is gone)."""
    version: int | None = await conn.fetchval(
        "SELECT state_version FROM events WHERE id = $1", event_id
    )
    return version or 0
