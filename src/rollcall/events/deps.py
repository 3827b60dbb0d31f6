"""Route dependencies for events: the event a path names, and the host's right to it.

An unknown code is a guess at which events exist, on every route that takes one: it counts
against ROLLCALL_LIMIT_GUESSES per client address (404, then 429).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from rollcall.auth import bearer_token
from rollcall.errors import EventNotFound
from rollcall.events.service import EventRow, event_for_host, get_event
from rollcall.ratelimits import client_address
from rollcall.runtime import AppRuntime, Conn


async def _path_event(code: str, request: Request, conn: Conn, runtime: AppRuntime) -> EventRow:
    try:
        return await get_event(conn, code=code)
    except EventNotFound:
        raise runtime.limits.unknown_code(client_address(request), code) from None


async def _host_event(code: str, request: Request, conn: Conn, runtime: AppRuntime) -> EventRow:
    try:
        return await event_for_host(conn, code=code, token=bearer_token(request))
    except EventNotFound:
        raise runtime.limits.unknown_code(client_address(request), code) from None


PathEvent = Annotated[EventRow, Depends(_path_event)]
HostEvent = Annotated[EventRow, Depends(_host_event)]
