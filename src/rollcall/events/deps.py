"""Route dependencies for events: the event a path names, and the host's right to it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from rollcall.auth import bearer_token
from rollcall.events.service import EventRow, event_for_host, get_event
from rollcall.runtime import Conn


async def _path_event(code: str, conn: Conn) -> EventRow:
    return await get_event(conn, code=code)


async def _host_event(code: str, request: Request, conn: Conn) -> EventRow:
    return await event_for_host(conn, code=code, token=bearer_token(request))


PathEvent = Annotated[EventRow, Depends(_path_event)]
HostEvent = Annotated[EventRow, Depends(_host_event)]
