"""HTTP routes for participants: join, the session, and the host's roster controls."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

import segno
from fastapi import APIRouter, Query, Request, Response

from rollcall.auth import delete_session_cookie, session_token, set_session_cookie
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
    ParticipantNotKicked,
    ParticipantNotPending,
    RateLimited,
    ReclaimDisabled,
    RecoveryCodeInvalid,
    RoomCheckFailed,
    StateTooLarge,
    TeamChoiceOff,
    TeamNotFound,
)
from rollcall.events import service as events
from rollcall.events.deps import HostEvent, PathEvent
from rollcall.events.links import public_base, recovery_url
from rollcall.events.schemas import GeneratedName
from rollcall.participants import admission, arrival, generated, seats, service, teams
from rollcall.participants.deps import ParticipantSession
from rollcall.participants.outcomes import JoinOutcome
from rollcall.participants.schemas import (
    AdmitRequest,
    Admitted,
    Balanced,
    BalanceRequest,
    HeartbeatRequest,
    HeartbeatResponse,
    JoinRequest,
    JoinResponse,
    KickRecentRequest,
    KickRequest,
    Language,
    Participant,
    ParticipantPatch,
    RecoveryCodeView,
    Removed,
    Roster,
    SeatCreated,
    SeatRequest,
    SessionView,
)
from rollcall.presence.service import set_presence
from rollcall.problems import BAD_BODY, openapi_problem, parse_json_body
from rollcall.ratelimits import client_address
from rollcall.runtime import AppRuntime, AppSettings, Conn

router = APIRouter(tags=["participants"])


JOIN_STATUS = {JoinOutcome.JOINED: 201, JoinOutcome.PENDING: 202, JoinOutcome.RECLAIM_PENDING: 202}


@router.post(
    "/api/events/{code}/join",
    response_model=JoinResponse,
    status_code=201,
    responses={
        200: {
            "description": "Rejoined: the device's participant is back (or, with a recovery code,"
            " moved to this device)",
            "model": JoinResponse,
        },
        202: {
            "description": "Waiting: the host admits newcomers (admission approval) or seat"
            " moves (reclaim approval); the participant's status is `pending`",
            "model": JoinResponse,
        },
        **openapi_problem(
            EventNotFound,
            EventClosed,
            DeviceBanned,
            EventLocked,
            RoomCheckFailed,
            ReclaimDisabled,
            RecoveryCodeInvalid,
            EventFull,
            NamesGenerated,
            GeneratedNamesOff,
            NameNotAllowed,
            TeamChoiceOff,
            TeamNotFound,
            NameTaken,
            RateLimited,
            *BAD_BODY,
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
async def join(code: str, request: Request, runtime: AppRuntime) -> Response:
    """Join from a device, or rejoin the participant this device already has here.

    The rules apply in the order docs/protocol.md gives: unknown code before the body is read,
    then the body, closed, banned, rejoin, seat reclaim, locked, room check, full, the kind of
    name (chosen or generated), the word filter, the team, name taken. With
    `"generated_name": true` the server picks a free two-word name in `language`.
    The limits and the unknown-code rule are arrival.join_from's, which the /ws hello-join
    shares.
    """
    result = await arrival.join_from(
        client_address(request),
        code,
        lambda: parse_json_body(request, JoinRequest),
        limits=runtime.limits,
        pool=runtime.pool,
        joins=runtime.joins,
    )
    answer = JoinResponse(
        participant=result.participant,
        session_token=result.session_token,
        rejoined=result.rejoined,
        reclaimed=result.reclaimed,
        recovery_code=result.recovery_code,
        heartbeat_interval_s=runtime.settings.heartbeat_interval_s,
    )
    # Encoded here, once (the route's response_model, JoinResponse, still documents it):
    # returned as a model, FastAPI would validate it again and encode it in two steps, some
    # 25 µs of the busiest route's CPU (docs/benchmarks.md, "The join's answer").
    response = Response(
        answer.model_dump_json(),
        status_code=JOIN_STATUS.get(result.outcome, 200),
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )
    set_session_cookie(response, result.session_token, https=request.url.scheme == "https")
    return response


@router.get("/api/session", response_model=SessionView, responses=openapi_problem(InvalidToken))
async def read_session(
    session: ParticipantSession, conn: Conn, settings: AppSettings
) -> SessionView:
    """Everything the page needs to restore itself (a participant still waiting too)."""
    event = await events.get_event(conn, code=session.event_code)
    return SessionView(
        participant=session.participant,
        event=await events.describe(
            conn, event=event, presence_timeout_s=settings.presence_timeout_s
        ),
        recovery_code=session.recovery_code,
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
    runtime.heartbeats.beat(session.participant.id)
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
        EventNotFound,
        InvalidToken,
        ParticipantNotFound,
        EventClosed,
        StateTooLarge,
        NameTaken,
        NameNotAllowed,
        TeamNotFound,
        *BAD_BODY,
    ),
)
async def update_participant(
    participant_id: UUID, body: ParticipantPatch, event: HostEvent, conn: Conn
) -> Participant:
    """Change the participant's state (a JSON merge patch, RFC 7396; the version grows), name
    (the event's name rules apply) or team (one of the event's, or null), all or nothing."""
    return await service.update_participant(
        conn, event=event, participant_id=participant_id, patch=body
    )


@router.post(
    "/api/events/{code}/participants",
    response_model=SeatCreated,
    status_code=201,
    responses=openapi_problem(
        EventNotFound,
        InvalidToken,
        EventClosed,
        EventFull,
        NameTaken,
        NameNotAllowed,
        TeamNotFound,
        *BAD_BODY,
    ),
)
async def add_seat(body: SeatRequest, event: HostEvent, conn: Conn) -> SeatCreated:
    """Seat someone who has no phone: a participant holding a seat, shown as without a phone.

    A phone takes the seat later with the recovery code (a join with `recovery_code`, whatever
    the event's `reclaim` says), keeping the participant's id, name, team and state."""
    participant, code = await seats.add_seat(
        conn, event=event, display_name=body.display_name, team=body.team
    )
    return SeatCreated(participant=participant, recovery_code=code)


@router.get(
    "/api/events/{code}/participants/{participant_id}/recovery-qr.svg",
    response_class=Response,
    responses={
        200: {"content": {"image/svg+xml": {}}},
        **openapi_problem(EventNotFound, InvalidToken, ParticipantNotFound),
    },
)
async def recovery_qr(
    participant_id: UUID, event: HostEvent, request: Request, conn: Conn, settings: AppSettings
) -> Response:
    """The QR code of the join link that brings this participant's recovery code: the phone
    that scans it is offered the seat. For the host's screen only (it is a credential)."""
    code = await seats.recovery_code(conn, event=event, participant_id=participant_id)
    url = recovery_url(public_base(settings, request), event.code, code.replace("-", ""))
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=8, border=2, xmldecl=False)
    return Response(
        buffer.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": "no-store"}
    )


BALANCE_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/BalanceRequest"}}
        },
    }
}


@router.post(
    "/api/events/{code}/teams/balance",
    response_model=Balanced,
    responses=openapi_problem(EventNotFound, InvalidToken, EventClosed, *BAD_BODY),
    openapi_extra=BALANCE_BODY,
)
async def balance_teams(request: Request, event: HostEvent, conn: Conn) -> Balanced:
    """Give every active participant without a team one, so that sizes differ by at most one;
    with `{"all": true}`, move whoever must (as few as can be) to get there. Each change is
    announced as participant.team."""
    everyone = False
    if request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers:
        everyone = (await parse_json_body(request, BalanceRequest)).all
    done = await teams.balance(conn, event=event, everyone=everyone)
    return Balanced(assigned=done.assigned, sizes=done.sizes)


@router.get(
    "/api/events/{code}/generated-name",
    response_model=GeneratedName,
    responses=openapi_problem(EventNotFound),
)
async def generated_name(
    event: PathEvent, conn: Conn, language: Annotated[Language, Query()] = "en"
) -> GeneratedName:
    """A two-word name in `language`, free in the event just now: what the join page offers
    (and offers again, at most three times) in an event whose names are generated."""
    return GeneratedName(
        display_name=await generated.suggest(conn, event_id=event.id, language=language)
    )


KICK_BODY = {
    "requestBody": {
        "required": False,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/KickRequest"}}},
    }
}


@router.post(
    "/api/events/{code}/participants/{participant_id}/kick",
    response_model=Participant,
    responses=openapi_problem(
        EventNotFound, InvalidToken, ParticipantNotFound, EventClosed, *BAD_BODY
    ),
    openapi_extra=KICK_BODY,
)
async def kick(participant_id: UUID, request: Request, event: HostEvent, conn: Conn) -> Participant:
    """Remove a participant: the session ends at once and the name is free for others.

    Optional body `{"ban": false}`: the participant is `left` and its device may come back as
    the same participant. By default (`"ban": true`) the device is refused from now on."""
    ban = True
    if request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers:
        ban = (await parse_json_body(request, KickRequest)).ban
    return await service.kick(conn, event=event, participant_id=participant_id, ban=ban)


@router.post(
    "/api/events/{code}/kick",
    response_model=Removed,
    responses=openapi_problem(EventNotFound, InvalidToken, EventClosed, *BAD_BODY),
)
async def kick_recent(body: KickRecentRequest, event: HostEvent, conn: Conn) -> Removed:
    """Remove everyone who joined in the last `joined_within_s` seconds (a flood that got in),
    waiting participants included; `ban` as for one participant."""
    removed = await service.kick_recent(
        conn, event=event, joined_within_s=body.joined_within_s, ban=body.ban
    )
    return Removed(removed=removed)


@router.post(
    "/api/events/{code}/participants/{participant_id}/unban",
    response_model=Participant,
    responses=openapi_problem(
        EventNotFound,
        InvalidToken,
        ParticipantNotFound,
        ParticipantNotKicked,
        EventFull,
        NameTaken,
        EventClosed,
    ),
)
async def unban(participant_id: UUID, event: HostEvent, conn: Conn) -> Participant:
    """Let a removed participant back: it becomes `left` (holding a seat), so its device may
    rejoin as the same participant."""
    return await admission.unban(conn, event=event, participant_id=participant_id)


@router.post(
    "/api/events/{code}/participants/{participant_id}/admit",
    response_model=Participant,
    responses=openapi_problem(
        EventNotFound,
        InvalidToken,
        ParticipantNotFound,
        ParticipantNotPending,
        EventFull,
        DeviceBanned,
        EventClosed,
    ),
)
async def admit(participant_id: UUID, event: HostEvent, conn: Conn) -> Participant:
    """Admit a waiting participant: it takes a seat, and its phone gets `admitted` on /ws.

    For a seat move request (`reclaims` set), the seat moves to the request's phone; the
    answer is the participant whose seat it is."""
    return await admission.admit(conn, event=event, participant_id=participant_id)


@router.post(
    "/api/events/{code}/participants/{participant_id}/deny",
    response_model=Participant,
    responses=openapi_problem(
        EventNotFound, InvalidToken, ParticipantNotFound, ParticipantNotPending, EventClosed
    ),
)
async def deny(participant_id: UUID, event: HostEvent, conn: Conn) -> Participant:
    """Refuse a waiting participant: its device is refused from now on, as after a kick."""
    return await admission.deny(conn, event=event, participant_id=participant_id)


@router.post(
    "/api/events/{code}/admit",
    response_model=Admitted,
    responses=openapi_problem(EventNotFound, InvalidToken, EventFull, EventClosed, *BAD_BODY),
)
async def admit_many(body: AdmitRequest, event: HostEvent, conn: Conn) -> Admitted:
    """Admit `participant_ids`, or `all` waiting newcomers, in join order while seats last.

    Whoever is no longer waiting is skipped; 409 `event_full` when no one could be let in
    for want of a seat."""
    ids = None if body.all else body.participant_ids
    return Admitted(admitted=await admission.admit_many(conn, event=event, participant_ids=ids))


@router.post(
    "/api/events/{code}/participants/{participant_id}/recovery-code",
    response_model=RecoveryCodeView,
    responses=openapi_problem(
        EventNotFound, InvalidToken, ParticipantNotFound, DeviceBanned, EventClosed
    ),
)
async def reset_recovery_code(
    participant_id: UUID, event: HostEvent, conn: Conn
) -> RecoveryCodeView:
    """Give the participant a new recovery code; the old one stops working at once."""
    return RecoveryCodeView(
        recovery_code=await admission.reset_recovery_code(
            conn, event=event, participant_id=participant_id
        )
    )
