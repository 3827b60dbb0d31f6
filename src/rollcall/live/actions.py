"""Actions: what a phone sends its host, stored once per (participant, the phone's id).

The database decides: rollcall_act (revision live_channel) stores an action under the event
row lock, with the next seq of the event log and its `participant.action` message, or finds
the first one with that id. A retried or double-tapped answer counts once, the first one stands.
"""

from __future__ import annotations

from uuid import UUID

from rollcall import jsonbody, metrics
from rollcall.db.pool import DB
from rollcall.errors import (
    ActionTooLarge,
    EventClosed,
    InvalidToken,
    ParticipantPending,
)
from rollcall.events.service import EventRow
from rollcall.live.schemas import (
    MAX_ACTION_DATA_BYTES,
    MAX_ACTIONS_LISTED,
    Action,
    ActionAck,
    ActionList,
    ActionRequest,
)

REFUSALS: dict[str, tuple[type[Exception], str]] = {
    "closed": (EventClosed, "the event is closed: its sessions have ended"),
    "pending": (ParticipantPending, "the host has not let this participant in yet"),
    "ended": (InvalidToken, "the session has ended"),
}


async def act(conn: DB, *, participant_id: UUID, action: ActionRequest) -> ActionAck:
    """Store the action, or find the first with its id; raise why the participant may not act.

    Only an active participant of an open or locked event acts: waiting, 403
    participant_pending; closed, 410 event_closed; left, kicked or gone, 401 invalid_token.
    """
    size = jsonbody.size(action.data)
    if size > MAX_ACTION_DATA_BYTES:
        raise ActionTooLarge(
            f"the action's data is {size} bytes; the limit is {MAX_ACTION_DATA_BYTES}"
        )
    record = await conn.fetchrow(
        "SELECT o_outcome, o_seq FROM rollcall_act($1, $2, $3, $4)",
        participant_id,
        action.id,
        action.name,
        action.data,
    )
    assert record is not None
    outcome = record["o_outcome"]
    metrics.ACTIONS.labels(outcome=outcome).inc()
    if outcome in REFUSALS:
        problem, detail = REFUSALS[outcome]
        raise problem(detail)
    return ActionAck(id=action.id, seq=record["o_seq"], duplicate=outcome == "duplicate")


async def list_actions(
    conn: DB, *, event: EventRow, since: int, name: str | None, limit: int
) -> ActionList:
    """The event's actions after `since`, in seq order (only those called `name`, if given)."""
    records = await conn.fetch(
        """
        SELECT seq, participant_id, action_id, name, data, acted_at FROM actions
        WHERE event_id = $1 AND seq > $2 AND ($3::text IS NULL OR name = $3)
        ORDER BY seq LIMIT $4
        """,
        event.id,
        since,
        name,
        min(limit, MAX_ACTIONS_LISTED),
    )
    actions = [
        Action(
            seq=record["seq"],
            participant_id=record["participant_id"],
            id=record["action_id"],
            name=record["name"],
            data=record["data"],
            at=record["acted_at"],
        )
        for record in records
    ]
    return ActionList(actions=actions, next_since=actions[-1].seq if actions else since)
