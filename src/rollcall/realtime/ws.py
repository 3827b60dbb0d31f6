"""The /ws endpoint: hello, welcome, then messages both ways until one side closes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import asyncpg
from fastapi import APIRouter, WebSocket
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect, WebSocketState

from rollcall.auth import cookie_token, digest
from rollcall.db.pool import UNAVAILABLE_ERRORS
from rollcall.errors import EventNotFound, InvalidToken
from rollcall.events import service as events
from rollcall.participants import service as participants
from rollcall.participants.service import PARTICIPANT_COLUMNS, to_participant
from rollcall.presence.service import set_presence
from rollcall.realtime import log as event_log
from rollcall.realtime.hub import Close, Connection, Hub
from rollcall.settings import Settings

log = logging.getLogger(__name__)

router = APIRouter()

HELLO_TIMEOUT_S = 5.0


class Refused(Exception):
    """The socket is closed with `code` before or instead of a welcome."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class DirectWebSocket:
    """Hand `/ws` straight to its endpoint, in front of the FastAPI app.

    A socket lives for the whole event; through the full stack it keeps some 28 coroutines
    suspended (middleware, routing, dependency exit stacks), about 12 KB a socket. The route
    below stays registered, so the app alone still serves /ws.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == "/ws":
            scope["app"] = self.app
            await websocket_endpoint(WebSocket(scope, receive, send))
            return
        await self.app(scope, receive, send)


@router.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    await websocket.accept()
    app = websocket.app
    hub: Hub = app.state.hub
    settings: Settings = app.state.settings
    connection: Connection | None = None
    try:
        hello = await _receive_hello(websocket)
        if hello.get("role") == "host":
            connection = await _open_host(websocket, hello, app.state.pool, settings)
        else:
            connection = await _open_participant(
                websocket, hello, app.state.pool, settings, app.state.descriptions
            )
        hub.register(connection)
        writer = asyncio.create_task(_write(connection))
        try:
            if connection.role == "participant":
                await hub.announce_participant(connection)
                if connection.present:  # already online: a beat says so, nothing to announce
                    await app.state.heartbeats.beat(connection.participant_id)
                else:
                    await _mark_here(app, connection, away=False)
            await _read(websocket, connection, app, settings)
        except Refused as refused:
            connection.close(refused.code, refused.reason)
        finally:
            hub.unregister(connection)
            connection.close(1000)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer, timeout=2)
            writer.cancel()
    except Refused as refused:
        await _close(websocket, refused.code, refused.reason)
    except WebSocketDisconnect:
        pass
    except UNAVAILABLE_ERRORS:
        await _close(websocket, 1011, "database unavailable")
    finally:
        if connection is not None:
            hub.unregister(connection)


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    if websocket.application_state == WebSocketState.CONNECTED:
        with contextlib.suppress(Exception):
            await websocket.close(code, reason)


def _decode(event: Mapping[str, Any]) -> dict[str, Any]:
    if event["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(event.get("code", 1000))
    text = event.get("text")
    if text is None:
        raise Refused(4400, "messages are JSON text frames")
    try:
        message = json.loads(text)
    except ValueError as exc:
        raise Refused(4400, "not JSON") from exc
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise Refused(4400, "a message is an object with a type")
    return message


async def _receive_hello(websocket: WebSocket) -> dict[str, Any]:
    try:
        event = await asyncio.wait_for(websocket.receive(), timeout=HELLO_TIMEOUT_S)
    except TimeoutError as exc:
        raise Refused(4408, "no hello within 5 s") from exc
    hello = _decode(event)
    if hello["type"] != "hello":
        raise Refused(4400, "the first message must be hello")
    return hello


async def _open_participant(
    websocket: WebSocket,
    hello: dict[str, Any],
    pool: asyncpg.Pool[Any],
    settings: Settings,
    descriptions: events.DescriptionCache,
) -> Connection:
    token = hello.get("token") or cookie_token(websocket.cookies)
    if not isinstance(token, str) or not token:
        raise Refused(4401, "no token")
    async with pool.acquire() as conn:
        record = await conn.fetchrow(
            f"""
            SELECT {PARTICIPANT_COLUMNS}, {events.event_columns("e", "event_")}, e.seq,
                p.reported_presence = 'online' AND NOT p.away AS present
            FROM event_participants AS p JOIN events AS e ON e.id = p.event_id
            WHERE p.session_token_hash = $1
            """,
            digest(token),
        )
        if record is None:
            raise Refused(4401, "invalid or revoked token")
        if record["event_status"] == "closed":
            raise Refused(4410, "event closed")
        if record["status"] == "kicked":
            raise Refused(4403, "kicked")
        if record["status"] != "active":
            raise Refused(4401, "the session has ended")
        described = await descriptions.describe(
            conn,
            event=events.event_from(record, "event_"),
            presence_timeout_s=settings.presence_timeout_s,
        )
    connection = Connection(
        websocket=websocket,
        role="participant",
        event_id=record["event_id"],
        participant_id=record["id"],
        last_seq=record["seq"],
        present=record["present"],
    )
    connection.send(
        {
            "type": "welcome",
            "participant": to_participant(record).model_dump(mode="json"),
            "event": described.model_dump(mode="json"),
            "heartbeat_interval_s": settings.heartbeat_interval_s,
        }
    )
    return connection


async def _open_host(
    websocket: WebSocket, hello: dict[str, Any], pool: asyncpg.Pool[Any], settings: Settings
) -> Connection:
    code, token, since = hello.get("event"), hello.get("token"), hello.get("since")
    if not isinstance(code, str):
        raise Refused(4400, "a host hello names its event")
    if since is not None and (not isinstance(since, int) or isinstance(since, bool)):
        raise Refused(4400, "since is a whole number")
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        try:
            event = await events.event_for_host(
                conn, code=code, token=token if isinstance(token, str) else None
            )
        except EventNotFound as exc:
            raise Refused(4404, "no such event") from exc
        except InvalidToken as exc:
            raise Refused(4401, "not this event's host token") from exc
        if event.status == "closed":
            raise Refused(4410, "event closed")
        seq: int = await conn.fetchval("SELECT seq FROM events WHERE id = $1", event.id)
        described = await events.describe(
            conn, event=event, presence_timeout_s=settings.presence_timeout_s
        )
        resumed = False
        if since is not None and 0 <= since <= seq:
            oldest = await event_log.oldest_kept(conn, event_id=event.id)
            resumed = since == seq or (oldest is not None and oldest <= since + 1)
        welcome: dict[str, Any] = {
            "type": "welcome",
            "role": "host",
            "resumed": resumed,
            "seq": seq,
            "event": described.model_dump(mode="json"),
            "heartbeat_interval_s": settings.heartbeat_interval_s,
            "presence_timeout_s": settings.presence_timeout_s,
        }
        if not resumed:
            roster = await participants.roster(
                conn, event=event, presence_timeout_s=settings.presence_timeout_s
            )
            welcome["participants"] = [entry.model_dump(mode="json") for entry in roster]
    connection = Connection(
        websocket=websocket,
        role="host",
        event_id=event.id,
        last_seq=since if resumed and since is not None else seq,
    )
    connection.send(welcome)
    return connection


async def _read(websocket: WebSocket, connection: Connection, app: Any, settings: Settings) -> None:
    heartbeats = app.state.heartbeats
    while True:
        message = _decode(await websocket.receive())
        kind = message["type"]
        if connection.role == "host":
            if kind != "heartbeat":
                raise Refused(4400, f"unknown message type {kind!r}")
            connection.send({"type": "ack", "server_time": _now()})
            continue
        assert connection.participant_id is not None
        await heartbeats.beat(connection.participant_id)
        if kind == "heartbeat":
            connection.send({"type": "ack", "server_time": _now()})
        elif kind in ("away", "back"):
            connection.away = kind == "away"
            await _mark_here(app, connection, away=connection.away)
        else:
            raise Refused(4400, f"unknown message type {kind!r}")


async def _mark_here(app: Any, connection: Connection, *, away: bool) -> None:
    assert connection.participant_id is not None
    async with app.state.pool.acquire() as conn:
        await set_presence(
            conn, participant_id=connection.participant_id, event_id=connection.event_id, away=away
        )


async def _write(connection: Connection) -> None:
    websocket = connection.websocket
    while True:
        item = await connection.queue.get()
        try:
            if isinstance(item, Close):
                await _close(websocket, item.code, item.reason)
                return
            await websocket.send_text(json.dumps(item, separators=(",", ":")))
        except Exception:
            # The peer is gone; the reader notices and cleans up.
            connection.closing = True
            return


def _now() -> str:
    return datetime.now(UTC).isoformat()
