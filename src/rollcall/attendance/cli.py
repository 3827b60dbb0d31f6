"""`rollcall event report CODE`: the roll call printed, as the API gives it (JSON or CSV).

It reads the database directly, as `rollcall db purge` does: whoever runs it holds the
database's keys, so it needs no host token.
"""

from __future__ import annotations

import asyncio
import sys

from rollcall.attendance import formats, service
from rollcall.attendance.schemas import AttendanceFormat
from rollcall.db import migrate
from rollcall.db.pool import borrow, create_pool
from rollcall.db.url import resolve_database_url
from rollcall.errors import EventNotFound
from rollcall.events.service import get_event
from rollcall.settings import Settings


def report_command(
    settings: Settings, *, code: str, fmt: AttendanceFormat, include_pending: bool
) -> int:
    url = resolve_database_url(settings)
    migrate.require_head(url)

    async def run() -> None:
        pool = await create_pool(url, min_size=1, max_size=1)
        try:
            async with borrow(pool) as conn:
                event = await get_event(conn, code=code)
                roll, pages = await service.roll_call(
                    conn,
                    pool,
                    event=event,
                    presence_timeout_s=settings.presence_timeout_s,
                    include_pending=include_pending,
                )
            async for chunk in formats.render(fmt, roll, pages):
                sys.stdout.write(chunk)
            if fmt == "json":
                sys.stdout.write("\n")
        finally:
            await pool.close()

    try:
        asyncio.run(run())
    except EventNotFound:
        print(f"rollcall: no event has the code {code!r}", file=sys.stderr)
        return 1
    return 0
