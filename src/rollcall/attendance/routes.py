"""HTTP route for the roll call: GET /api/events/{code}/attendance, JSON or CSV."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from rollcall.attendance import formats, service
from rollcall.attendance.schemas import Attendance, AttendanceFormat
from rollcall.errors import EventNotFound, InvalidToken, ValidationFailed
from rollcall.events.deps import HostEvent
from rollcall.problems import openapi_problem
from rollcall.runtime import AppRuntime, Conn

router = APIRouter(tags=["attendance"])


def chosen_format(wanted: AttendanceFormat | None, accept: str) -> AttendanceFormat:
    """`format` when given; else CSV when the Accept header ranks text/csv above JSON."""
    if wanted is not None:
        return wanted
    ranks = {"application/json": 0.0, "text/csv": 0.0}
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media.lower() in ranks:
            ranks[media.lower()] = max(ranks[media.lower()], quality)
    return "csv" if ranks["text/csv"] > ranks["application/json"] else "json"


@router.get(
    "/api/events/{code}/attendance",
    response_model=None,
    responses={
        200: {
            "description": "The roll call: JSON (Attendance), or CSV with `format=csv` or"
            " `Accept: text/csv` (the columns of docs/protocol.md, in that order)",
            "model": Attendance,
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **openapi_problem(EventNotFound, InvalidToken, ValidationFailed),
    },
)
async def attendance(
    event: HostEvent,
    request: Request,
    conn: Conn,
    runtime: AppRuntime,
    wanted: Annotated[
        AttendanceFormat | None, Query(alias="format", description="json (default) or csv")
    ] = None,
    include: Annotated[
        Literal["pending"] | None,
        Query(description="pending: also who waits for the host, and whom the host turned away"),
    ] = None,
) -> StreamingResponse:
    """Who was there, and for how long: each participant's seconds online, away and offline
    from the first join to now (or to the event's close), sockets opened, seat moves, and when
    they left. Streamed in join order, so an event of any size costs the server one page."""
    fmt = chosen_format(wanted, request.headers.get("accept", ""))
    roll, pages = await service.roll_call(
        conn,
        runtime.pool,
        event=event,
        presence_timeout_s=runtime.settings.presence_timeout_s,
        include_pending=include == "pending",
    )
    headers = {}
    if fmt == "csv":
        headers["Content-Disposition"] = f'attachment; filename="attendance-{event.code}.csv"'
    return StreamingResponse(
        formats.render(fmt, roll, pages), media_type=formats.MEDIA_TYPES[fmt], headers=headers
    )
