"""The events' commands: `rollcall event create` (links and a QR code) and `rollcall db purge`."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from typing import Any

import segno
from pydantic import ValidationError

from rollcall.db import schema
from rollcall.db.pool import connect
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
    schema.upgrade(url)

    async def create() -> tuple[service.EventRow, str]:
        conn = await connect(url)  # with the pool's JSON codecs (the event's teams)
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


def purge_command(settings: Settings, *, dry_run: bool) -> int:
    """`rollcall db purge`: close idle events and delete long-closed ones, saying which."""
    from rollcall.events import retention

    url = resolve_database_url(settings)
    schema.require_head(url)
    idle_s = settings.event_idle_hours * 3600
    retention_s = settings.event_retention_days * 86400

    async def run() -> retention.Purge:
        conn = await connect(url)
        try:
            if dry_run:
                return retention.Purge(
                    closed=await retention.idle_events(conn, idle_s=idle_s),
                    deleted=await retention.expired_events(conn, retention_s=retention_s),
                )
            return await retention.purge(
                conn,
                idle_s=idle_s,
                retention_s=retention_s,
                max_capacity=settings.max_capacity,
                presence_timeout_s=settings.presence_timeout_s,
            )
        finally:
            await conn.close()

    done = asyncio.run(run())
    if done.busy:
        print("another rollcall process is purging right now; run again later to see its result")
    close_verb, delete_verb = ("would close", "would delete") if dry_run else ("closed", "deleted")
    hours = f"{settings.event_idle_hours:g}"
    days = f"{settings.event_retention_days:g}"
    print(f"{close_verb} {_events(done.closed)} idle for {hours} hours (ROLLCALL_EVENT_IDLE_HOURS)")
    for event in done.closed:
        print(
            f"  {event.code}  {event.status:<6}  last activity {_when(event.since)}"
            f"  {_people(event.participants)}  {event.title!r}"
        )
    print(
        f"{delete_verb} {_events(done.deleted)} closed more than {days} days ago"
        " (ROLLCALL_EVENT_RETENTION_DAYS), with their participants and logs"
    )
    for event in done.deleted:
        print(
            f"  {event.code}  closed {_when(event.since)}"
            f"  {_people(event.participants)}  {event.title!r}"
        )
    if dry_run:
        print("dry run: nothing was changed")
    return 0


def _events(events: list[Any]) -> str:
    return f"{len(events)} event" + ("" if len(events) == 1 else "s")


def _people(count: int) -> str:
    return f"{count} participant" + ("" if count == 1 else "s")


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
