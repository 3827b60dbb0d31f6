"""HTTP routes of the live channel: the event state, actions, receipts."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from rollcall.errors import (
    ActionTooLarge,
    EventClosed,
    EventNotFound,
    InvalidToken,
    ParticipantPending,
    RateLimited,
    StateTooLarge,
    ValidationFailed,
    VersionConflict,
)
from rollcall.events.deps import HostEvent
from rollcall.live import actions, receipts, state
from rollcall.live.schemas import (
    ACTION_NAME_PATTERN,
    MAX_ACTIONS_LISTED,
    ActionAck,
    ActionList,
    ActionRequest,
    EventState,
    EventStatePatch,
    ReceiptsView,
)
from rollcall.participants.deps import ParticipantSession
from rollcall.problems import BAD_BODY, openapi_problem
from rollcall.runtime import AppRuntime, AppSettings, Conn

router = APIRouter(tags=["live"])

ENTITY_TAG = re.compile(r'^(?:"(\d{1,18})"|(\d{1,18})|\*)$')


def expected_version(if_match: str | None) -> int | None:
    """The version an If-Match header names: `"7"` (an entity tag) or `7`; `*` names none."""
    if if_match is None:
        return None
    found = ENTITY_TAG.fullmatch(if_match.strip())
    if found is None:
        raise ValidationFailed(
            'If-Match: the version as an entity tag, such as "7"',
            errors=[
                {
                    "field": "If-Match",
                    "message": 'the version as an entity tag, such as "7"',
                    "type": "value_error",
                }
            ],
        )
    digits = found.group(1) or found.group(2)
    return int(digits) if digits is not None else None


@router.patch(
    "/api/events/{code}/state",
    response_model=EventState,
    responses=openapi_problem(
        EventNotFound, InvalidToken, EventClosed, VersionConflict, StateTooLarge, *BAD_BODY
    ),
)
async def set_event_state(
    body: EventStatePatch,
    event: HostEvent,
    conn: Conn,
    response: Response,
    if_match: Annotated[
        str | None,
        Header(description='apply only on this version (`"7"`), else 412 version_conflict'),
    ] = None,
) -> EventState:
    """Change the event state by a JSON merge patch (RFC 7396); every phone gets the change.

    The body is the patch itself, or `{"patch": {...}, "expect_version": N}`. With If-Match
    or `expect_version`, the patch applies only on that version (412 `version_conflict`
    otherwise, with the current `version` in the problem). The answer's ETag is the new version.
    """
    versions = {v for v in (expected_version(if_match), body.expect_version) if v is not None}
    if len(versions) > 1:
        raise VersionConflict("If-Match and expect_version name different versions")
    changed = await state.set_event_state(
        conn, event=event, patch=body.patch, expect_version=versions.pop() if versions else None
    )
    response.headers["ETag"] = f'"{changed.version}"'
    return changed


@router.post(
    "/api/session/actions",
    response_model=ActionAck,
    status_code=201,
    responses={
        200: {
            "description": "A duplicate: this id was stored before; `seq` is the first one's",
            "model": ActionAck,
        },
        **openapi_problem(
            InvalidToken, ParticipantPending, EventClosed, ActionTooLarge, RateLimited, *BAD_BODY
        ),
    },
)
async def act(
    body: ActionRequest,
    session: ParticipantSession,
    conn: Conn,
    runtime: AppRuntime,
    response: Response,
) -> ActionAck:
    """Send the host an action. The same `id` from the same participant is stored once.

    201 when stored; 200 with `"duplicate": true` and the first one's `seq` when this id came
    before. At most ROLLCALL_LIMIT_ACTIONS per participant (429 `rate_limited` past it)."""
    limit = runtime.limits.actions
    key = str(session.participant.id)
    if not await limit.hit(key):
        raise RateLimited(
            "too many actions from this participant; slow down",
            retry_after_s=await limit.retry_after_s(key),
        )
    ack = await actions.act(conn, participant_id=session.participant.id, action=body)
    response.status_code = 200 if ack.duplicate else 201
    return ack


@router.get(
    "/api/events/{code}/actions",
    response_model=ActionList,
    responses=openapi_problem(EventNotFound, InvalidToken, ValidationFailed),
)
async def list_actions(
    event: HostEvent,
    conn: Conn,
    since: Annotated[int, Query(ge=0, description="only actions after this seq")] = 0,
    name: Annotated[
        str | None, Query(pattern=ACTION_NAME_PATTERN, description="only actions of this name")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_ACTIONS_LISTED)] = 100,
) -> ActionList:
    """The event's actions in `seq` order; `next_since` is where the next page starts."""
    return await actions.list_actions(conn, event=event, since=since, name=name, limit=limit)


@router.get(
    "/api/events/{code}/receipts",
    response_model=ReceiptsView,
    responses=openapi_problem(EventNotFound, InvalidToken),
)
async def read_receipts(event: HostEvent, conn: Conn, settings: AppSettings) -> ReceiptsView:
    """How many active participants have shown the current event state, and who has not."""
    return await receipts.receipts(
        conn, event=event, presence_timeout_s=settings.presence_timeout_s
    )
