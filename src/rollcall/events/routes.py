"""HTTP routes for events."""

from __future__ import annotations

import io
from typing import Annotated

import segno
from fastapi import APIRouter, Query, Request, Response

from rollcall.auth import bearer_token, same_secret
from rollcall.errors import EventClosed, EventNotFound, InvalidToken, RateLimited
from rollcall.events import service
from rollcall.events.deps import HostEvent, PathEvent
from rollcall.events.links import host_url, join_url, public_base, room_check_url
from rollcall.events.schemas import (
    Event,
    EventCreate,
    EventCreated,
    EventUpdate,
    NameFilterView,
    RoomCheck,
)
from rollcall.problems import BAD_BODY, openapi_problem
from rollcall.ratelimits import client_address
from rollcall.runtime import AppRuntime, AppSettings, Conn

router = APIRouter(prefix="/api/events", tags=["events"])


@router.post(
    "",
    status_code=201,
    response_model=EventCreated,
    responses=openapi_problem(InvalidToken, RateLimited, *BAD_BODY),
)
async def create_event(
    body: EventCreate, request: Request, conn: Conn, runtime: AppRuntime
) -> EventCreated:
    """Create an event. The host token in the answer is shown once; keep it.

    At most ROLLCALL_LIMIT_EVENTS creations per client address (429 `rate_limited` past it),
    counted only once the admin token (if one is set) is right: a wrong one is a guess."""
    settings = runtime.settings
    address = client_address(request)
    if settings.admin_token is not None:
        token = bearer_token(request)
        if token is None or not same_secret(token, settings.admin_token):
            raise runtime.limits.wrong_admin_token(address)
    if not runtime.limits.events.hit(address):
        raise runtime.limits.events.refusal(
            address, "too many events created from this address; try again later"
        )
    event, host_token = await service.create_event(
        conn,
        title=body.title,
        capacity=body.capacity,
        max_capacity=settings.max_capacity,
        admission=body.admission,
        room_check=body.room_check,
        reclaim=body.reclaim,
        names=body.names,
        name_filter=body.name_filter,
        blocked_words=body.blocked_words,
        teams=body.teams,
        team_mode=body.team_mode,
    )
    base = public_base(settings, request)
    return EventCreated(
        event=await service.describe(
            conn, event=event, presence_timeout_s=settings.presence_timeout_s
        ),
        host_token=host_token,
        host_url=host_url(base, event.code),
        join_url=join_url(base, event.code),
    )


@router.get("/{code}", response_model=Event, responses=openapi_problem(EventNotFound))
async def read_event(event: PathEvent, conn: Conn, settings: AppSettings) -> Event:
    return await service.describe(conn, event=event, presence_timeout_s=settings.presence_timeout_s)


@router.patch(
    "/{code}",
    response_model=Event,
    responses=openapi_problem(EventNotFound, InvalidToken, EventClosed, *BAD_BODY),
)
async def update_event(
    body: EventUpdate, event: HostEvent, conn: Conn, settings: AppSettings
) -> Event:
    """Change any of the event's settings. Closing ends every session; a closed event stays
    closed. A new word filter changes no name already in the event; a team left out of new
    `teams` loses its members."""
    return await service.update_event(
        conn,
        event=event,
        changes=body,
        max_capacity=settings.max_capacity,
        presence_timeout_s=settings.presence_timeout_s,
    )


@router.get(
    "/{code}/name-filter",
    response_model=NameFilterView,
    responses=openapi_problem(EventNotFound, InvalidToken),
)
async def read_name_filter(event: HostEvent, conn: Conn) -> NameFilterView:
    """The word filter with the host's blocked words (kept out of Event, which phones read)."""
    return await service.name_filter(conn, event=event)


@router.get(
    "/{code}/room-check",
    response_model=RoomCheck,
    responses=openapi_problem(EventNotFound, InvalidToken),
)
async def read_room_check(
    event: HostEvent, request: Request, conn: Conn, settings: AppSettings
) -> RoomCheck:
    """The room check code now, for the host's screen, and the join link that carries it.

    The code changes every ROLLCALL_ROOM_CHECK_S; joins accept it until one period after
    `expires_at`. It is given whether or not `room_check` is on; only then is it asked for."""
    now = await service.room_check(conn, event_id=event.id, period_s=settings.room_check_s)
    return RoomCheck(
        code=now.code,
        expires_at=now.expires_at,
        join_url=room_check_url(public_base(settings, request), event.code, now.code),
    )


@router.get(
    "/{code}/qr.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}, **openapi_problem(EventNotFound)},
)
async def event_qr(
    event: PathEvent,
    request: Request,
    settings: AppSettings,
    rc: Annotated[str | None, Query(pattern=r"^[0-9]{4}$")] = None,
) -> Response:
    """The QR code of the event's join URL; with `rc`, of the link that carries that room check.

    The dashboard asks for the current code's QR at each rotation. `rc` proves nothing by itself
    (the join checks it), so anyone may draw any; only the host's screen knows the right one."""
    base = public_base(settings, request)
    url = join_url(base, event.code) if rc is None else room_check_url(base, event.code, rc)
    buffer = io.BytesIO()
    segno.make(url, error="m").save(
        buffer, kind="svg", scale=10, border=2, xmldecl=False, title=f"Join {event.title}"
    )
    return Response(
        buffer.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": "no-cache"}
    )
