"""`rollcall event create`: an event from the terminal, with its links and QR code."""

from __future__ import annotations

import asyncio
import sys

import asyncpg
import segno
from pydantic import ValidationError

from rollcall.db import migrate
from rollcall.db.url import resolve_database_url
from rollcall.errors import ValidationFailed
from rollcall.events import service
from rollcall.events.links import host_url, join_url
from rollcall.events.schemas import EventCreate
from rollcall.settings import Settings

DEFAULT_BASE = "http://127.0.0.1:8000"


def create_event_command(settings: Settings, *, title: str, capacity: int | None) -> int:
    try:
        request = EventCreate(title=title, capacity=capacity)
    except ValidationError as exc:
        for error in exc.errors():
            print(f"rollcall: {'.'.join(map(str, error['loc']))}: {error['msg']}", file=sys.stderr)
        return 2
    try:
        capacity = service.check_capacity(request.capacity, max_capacity=settings.max_capacity)
    except ValidationFailed as exc:
        print(f"rollcall: {exc.detail}", file=sys.stderr)
        return 2
    url = resolve_database_url(settings)
    migrate.upgrade(url)

    async def create() -> tuple[service.EventRow, str]:
        conn = await asyncpg.connect(url)
        try:
            return await service.create_event(
                conn, title=request.title, capacity=capacity, max_capacity=settings.max_capacity
            )
        finally:
            await conn.close()

    event, host_token = asyncio.run(create())
    base = settings.public_url or DEFAULT_BASE
    link = join_url(base, event.code)
    print(f"Event {event.title!r} created, code {event.code}, capacity {event.capacity}")
    print(f"  join URL:   {link}")
    print(f"  host URL:   {host_url(base, event.code)}#host_token={host_token}")
    print(f"  host token: {host_token}  (shown once; it is stored only as a digest)")
    print()
    segno.make(link, error="m").terminal(compact=True)
    return 0
