"""HTTP routes for participants: join, the session, and the host's roster controls."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response

from rollcall.auth import delete_session_cookie, session_token, set_session_cookie
from rollcall.errors import (
    DeviceBanned,
    EventClosed,
    EventFull,
    EventLocked,
    EventNotFound,
    InvalidToken,
    MalformedRequest,
    NameTaken,
    ParticipantNotFound,
    StateTooLarge,
    ValidationFailed,
)
from rollcall.events import service as events
from rollcall.events.deps import HostEvent
from rollcall.participants import service
from rollcall.participants.schemas import (
    HeartbeatRequest,
    HeartbeatResponse,
    JoinRequest,
    JoinResponse,
    Participant,
    Roster,
    SessionView,
    StatePatch,
)
from rollcall.presence.service import set_presence
from rollcall.problems import BAD_BODY, openapi_problem, parse_json_body
from rollcall.runtime import AppRuntime, AppSettings, Conn

router = APIRouter(tags=["participants"])


async def _session(request: Request, conn: Conn) -> service.Session:
    return await service.session_for_token(conn, token=session_token(request))


ParticipantSession = Annotated[service.Session, Depends(_session)]


@router.post(
    "/api/events/{code}/join",
    response_model=JoinResponse,
    status_code=201,
    responses={
        200: {"description": "Rejoined: the device's participant is back", "model": JoinResponse},
        **openapi_problem(
            EventNotFound, EventClosed, DeviceBanned, EventLocked, EventFull, NameTaken, *BAD_BODY
        ),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/JoinRequest"}}
            },
        }
    },
)
async def join(
    code: str, request: Request, response: Response, runtime: AppRuntime
) -> JoinResponse:
    """Join from a device, or rejoin the participant this device already has here.

    The rules apply in the order docs/protocol.md gives: unknown code before the body is read,
    then the body, closed, banned, rejoin, locked, full, name taken. No pooled connection is
    held while the join waits for its batch.
    """
    normalized = events.normalize_code(code)
    if normalized is None:
        raise EventNotFound(f"no event has the code {code!r}")
    try:
        body = await parse_json_body(request, JoinRequest)
    except (MalformedRequest, ValidationFailed):
        async with runtime.pool.acquire() as conn:
            await events.get_event(conn, code=normalized)  # an unknown code is a 404 first
        raise
    result = await service.join(
        runtime.joins,
        code=normalized,
        device_id=body.device_id,
        display_name=body.display_name,
    )
    response.status_code = 200 if result.rejoined else 201
    set_session_cookie(response, result.session_token, https=request.url.scheme == "https")
    response.headers["Cache-Control"] = "no-store"
    return JoinResponse(
        participant=result.participant,
        session_token=result.session_token,
        rejoined=result.rejoined,
        heartbeat_interval_s=runtime.settings.heartbeat_interval_s,
    )


@router.get("/api/session", response_model=SessionView, responses=openapi_problem(InvalidToken))
async def read_session(
    session: ParticipantSession, conn: Conn, settings: AppSettings
) -> SessionView:
    """Everything the page needs to restore itself."""
    event = await events.get_event(conn, code=session.event_code)
    return SessionView(
        participant=session.participant,
        event=await events.describe(
            conn, event=event, presence_timeout_s=settings.presence_timeout_s
        ),
    )


@router.post(
    "/api/session/heartbeat",
    response_model=HeartbeatResponse,
    responses=openapi_problem(InvalidToken, *BAD_BODY),
)
async def heartbeat(
    session: ParticipantSession, request: Request, conn: Conn, runtime: AppRuntime
) -> HeartbeatResponse:
    """A heartbeat. The optional body `{"away": true|false}` also says whether the page is hidden
    (a page sends `{"away": true}` with navigator.sendBeacon when it goes away)."""
    await runtime.heartbeats.beat(session.participant.id)
    if request.headers.get("content-length", "0") != "0":
        body = await parse_json_body(request, HeartbeatRequest)
        if body.away is not None:
            await set_presence(
                conn,
                participant_id=session.participant.id,
                event_id=session.event_id,
                away=body.away,
            )
    return HeartbeatResponse(
        server_time=datetime.now(UTC), heartbeat_interval_s=runtime.settings.heartbeat_interval_s
    )


@router.delete("/api/session", status_code=204, responses=openapi_problem(InvalidToken))
async def leave(request: Request, conn: Conn) -> Response:
    """Leave: the participant is `left` and the token revoked. Joining again brings them back."""
    await service.leave(conn, token=session_token(request))
    response = Response(status_code=204)
    delete_session_cookie(response, https=request.url.scheme == "https")
    return response


@router.get(
    "/api/events/{code}/participants",
    response_model=Roster,
    responses=openapi_problem(EventNotFound, InvalidToken),
)
async def roster(event: HostEvent, conn: Conn, settings: AppSettings) -> Roster:
    return Roster(
        participants=await service.roster(
            conn, event=event, presence_timeout_s=settings.presence_timeout_s
        )
    )


@router.patch(
    "/api/events/{code}/participants/{participant_id}",
    response_model=Participant,
    responses=openapi_problem(
        EventNotFound, InvalidToken, ParticipantNotFound, EventClosed, StateTooLarge, *BAD_BODY
    ),
)
async def patch_state(
    participant_id: UUID, body: StatePatch, event: HostEvent, conn: Conn
) -> Participant:
    """Change the participant's state with a JSON merge patch (RFC 7396); the version grows."""
    return await service.patch_state(
        conn, event=event, participant_id=participant_id, patch=body.state
    )


@router.post(
    "/api/events/{code}/participants/{participant_id}/kick",
    response_model=Participant,
    responses=openapi_problem(EventNotFound, InvalidToken, ParticipantNotFound, EventClosed),
)
async def kick(participant_id: UUID, event: HostEvent, conn: Conn) -> Participant:
    """Kick: the session ends at once, and this device is refused by the event from now on."""
    return await service.kick(conn, event=event, participant_id=participant_id)
