"""The /ws endpoint: hello, welcome, then messages both ways until one side closes.

It holds no SQL: the participants, events and presence services answer what a socket needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import WebSocket
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect, WebSocketState

from rollcall import event_log, metrics
from rollcall.auth import cookie_token
from rollcall.cors import app_origin, listed_origins
from rollcall.db.pool import DB, UNAVAILABLE_ERRORS, borrow
from rollcall.errors import (
    DeviceBanned,
    EventClosed,
    EventNotFound,
    InvalidToken,
    Problem,
    RateLimited,
    UnknownVersion,
    ValidationFailed,
)
from rollcall.events import service as events
from rollcall.events.service import EventRow
from rollcall.live import actions, receipts, state
from rollcall.live.schemas import ActionRequest, Receipts
from rollcall.origins import origin_allowed
from rollcall.participants import arrival
from rollcall.participants import service as participants
from rollcall.participants.schemas import JoinRequest
from rollcall.presence.service import PresenceRow, note_away, set_presence
from rollcall.problems import field_errors
from rollcall.protocol import HELLO_TIMEOUT_S, ClientMessage, Close, Role, ServerMessage
from rollcall.ratelimits import MessageWindow, client_address
from rollcall.realtime.connection import Closing, Connection, Encoded, encode
from rollcall.realtime.gate import SocketGate, TooBusy
from rollcall.realtime.hub import Hub
from rollcall.runtime import Runtime
from rollcall.settings import Settings
from rollcall.wsprotocol import MESSAGES

log = logging.getLogger(__name__)

PATH = "/ws"

QUICK_SEEN_MAX_BYTES = 200
"""A `seen` longer than this (a phone's is some 50 bytes) goes the ordinary way."""


class Refused(Exception):
    """The socket is closed with `code` before or instead of a welcome, after `message` if
    one is given (an `error` saying why)."""

    def __init__(self, code: int, reason: str, message: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.message = message


class Sockets:
    """The /ws endpoint of one app: made with the app, started by its lifespan."""

    def __init__(self) -> None:
        self._hub: Hub | None = None
        self._gate: SocketGate | None = None

    async def start(self, runtime: Runtime) -> None:
        settings = runtime.settings
        self._gate = SocketGate(
            runtime.pool,
            max_sockets=settings.max_sockets,
            max_per_address=settings.max_sockets_per_address,
        )
        self._hub = Hub(runtime)
        await self._hub.start()

    async def stop(self) -> None:
        if self._hub is not None:
            await self._hub.stop()
            self._hub = None

    def route(self) -> WebSocketRoute:
        return WebSocketRoute(PATH, self.serve)

    async def serve(self, websocket: WebSocket) -> None:
        hub, gate = self._hub, self._gate
        if hub is None or gate is None:
            await websocket.close(Close.SERVICE_RESTART)
            return
        if not origin_allowed(websocket.scope, websocket.url.scheme, hub.runtime.settings):
            await websocket.close(Close.POLICY_VIOLATION)  # before accept: HTTP 403
            return
        address = client_address(websocket)
        await websocket.accept()
        if not gate.enter(address):
            await _close(websocket, Close.RATE_LIMITED, "too many sockets")
            return
        try:
            await _serve(websocket, hub, gate)
        finally:
            gate.leave(address)


class DirectWebSocket:
    """Hand `/ws` straight to its endpoint, in front of the FastAPI app.

    A socket lives for the whole event; through the full stack it keeps some 28 coroutines
    suspended (middleware, routing, dependency exit stacks), about 12 KB a socket. The route
    stays registered, so the app alone still serves /ws.
    """

    def __init__(self, app: Starlette) -> None:
        self.app = app
        endpoints = [
            route.endpoint
            for route in app.router.routes
            if isinstance(route, WebSocketRoute) and route.path == PATH
        ]
        if not endpoints:
            raise LookupError(f"the app serves no {PATH}")
        self.endpoint: Callable[[WebSocket], Awaitable[None]] = endpoints[0]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == PATH:
            scope["app"] = self.app
            await self.endpoint(WebSocket(scope, receive, send))
            return
        await self.app(scope, receive, send)


async def _serve(websocket: WebSocket, hub: Hub, gate: SocketGate) -> None:
    runtime = hub.runtime
    connection: Connection | None = None
    try:
        hello = await _receive_hello(websocket)
        if hello.get("role") == Role.HOST:
            connection = await _open_host(websocket, hello, hub, gate)
        else:
            connection = await _open_participant(websocket, hello, runtime, gate)
        connection.messages = MessageWindow.of(runtime.limits.ws_messages)
        hub.register(connection)
        metrics.OPEN_SOCKETS.labels(role=connection.role).inc()
        writer = asyncio.create_task(_write(connection))
        room_checks = None
        if connection.role == Role.HOST:
            room_checks = asyncio.create_task(_send_room_checks(connection, runtime))
        try:
            if connection.participant_id is not None:
                await _arrive(hub, connection)
                if (extensions := websocket.scope.get("extensions")) is not None:
                    extensions[MESSAGES] = _receipts_at_once(runtime, connection)
            await _read(websocket, connection, runtime)
        except Refused as refused:
            connection.close(refused.code, refused.reason)
        finally:
            if (extensions := websocket.scope.get("extensions")) is not None:
                extensions.pop(MESSAGES, None)
            if connection.settling is not None:
                connection.settling.cancel()
            hub.unregister(connection)
            metrics.OPEN_SOCKETS.labels(role=connection.role).dec()
            connection.close(Close.NORMAL)
            if room_checks is not None:
                await _end_room_checks(connection, room_checks)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer, timeout=2)
            writer.cancel()
    except Refused as refused:
        if refused.message is not None:
            with contextlib.suppress(Exception):
                await websocket.send_text(encode(refused.message))
        await _close(websocket, refused.code, refused.reason)
    except WebSocketDisconnect:
        pass
    except UNAVAILABLE_ERRORS:
        await _close(websocket, Close.INTERNAL_ERROR, "database unavailable")
    finally:
        if connection is not None:
            hub.unregister(connection)


async def _arrive(hub: Hub, connection: Connection) -> None:
    """The participant is here (hub.register announced the socket itself).

    The socket counts as a beat and as one more connection (attendance), both written with
    the next heartbeat flush.
    """
    assert connection.participant_id is not None
    runtime = hub.runtime
    runtime.heartbeats.socket_opened(connection.participant_id)
    connection.beat_due = _next_beat(runtime)
    if not connection.present:  # (one already online needs only the beat: nothing to say)
        await _mark_here(runtime, connection, away=False, known=connection.known)


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    if websocket.application_state == WebSocketState.CONNECTED:
        with contextlib.suppress(Exception):
            await websocket.close(code, reason)


def _decode(event: Mapping[str, Any]) -> dict[str, Any]:
    if event["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(event.get("code", Close.NORMAL))
    text = event.get("text")
    if text is None:
        raise Refused(Close.BAD_MESSAGE, "messages are JSON text frames")
    try:
        message = json.loads(text)
    except (ValueError, RecursionError) as exc:  # nested too deep is bad JSON too
        raise Refused(Close.BAD_MESSAGE, "not JSON") from exc
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise Refused(Close.BAD_MESSAGE, "a message is an object with a type")
    return message


async def _receive_hello(websocket: WebSocket) -> dict[str, Any]:
    try:
        event = await asyncio.wait_for(websocket.receive(), timeout=HELLO_TIMEOUT_S)
    except TimeoutError as exc:
        raise Refused(Close.HELLO_TIMEOUT, f"no hello within {HELLO_TIMEOUT_S:g} s") from exc
    hello = _decode(event)
    if hello["type"] != ClientMessage.HELLO:
        raise Refused(Close.BAD_MESSAGE, "the first message must be hello")
    return hello


@asynccontextmanager
async def _hello_lookup(gate: SocketGate) -> AsyncIterator[DB]:
    try:
        async with gate.lookup() as conn:
            yield conn
    except TooBusy as exc:
        raise Refused(Close.TRY_AGAIN_LATER, "busy; try again in a moment") from exc


def _page_cookie_token(websocket: WebSocket, settings: Settings) -> str | None:
    """The session cookie's token, unless a listed app's page opened the socket: the browser
    sends rollcall's cookie with any site's upgrade, and an app authenticates with its token."""
    if app_origin(websocket.headers, websocket.url.scheme, listed_origins(settings)) is not None:
        return None
    return cookie_token(websocket.cookies)


JOIN_CLOSE: dict[type[Problem], Close] = {
    EventNotFound: Close.EVENT_NOT_FOUND,
    EventClosed: Close.EVENT_CLOSED,
    DeviceBanned: Close.KICKED,
    RateLimited: Close.RATE_LIMITED,
}
"""The close code of a refused hello-join; any other refusal (the body, the name, a full or
locked event, a room check, a recovery code) closes with Close.BAD_MESSAGE."""


async def _join(websocket: WebSocket, join: Any, runtime: Runtime) -> participants.JoinResult:
    """The join a hello carries, under the HTTP join's rules and limits (arrival.join_from).

    Refused, the socket gets the problem as an `error` (what the HTTP join would answer) and
    closes with the code JOIN_CLOSE gives.
    """
    fields = dict(join) if isinstance(join, dict) else {}
    code = fields.pop("event", None)

    async def read() -> JoinRequest:
        try:
            return JoinRequest.model_validate(fields)
        except ValidationError as exc:
            raise field_errors(exc.errors()) from exc

    try:
        if not isinstance(code, str):
            raise ValidationFailed(
                "join.event: the event's code",
                errors=[{"field": "event", "message": "the event's code", "type": "missing"}],
            )
        return await arrival.join_from(
            client_address(websocket),
            code,
            read,
            limits=runtime.limits,
            pool=runtime.pool,
            joins=runtime.joins,
        )
    except Problem as problem:
        close = JOIN_CLOSE.get(type(problem), Close.BAD_MESSAGE)
        raise Refused(close, problem.code, _problem_message(problem)) from problem


async def _open_participant(
    websocket: WebSocket, hello: dict[str, Any], runtime: Runtime, gate: SocketGate
) -> Connection:
    joined = None
    if "join" in hello:
        joined = await _join(websocket, hello["join"], runtime)
        token: Any = joined.session_token
    else:
        token = hello.get("token") or _page_cookie_token(websocket, runtime.settings)
    if not isinstance(token, str) or not token:
        raise Refused(Close.INVALID_TOKEN, "no token")
    async with _hello_lookup(gate) as conn:
        session = await participants.socket_session(conn, token=token)
        if session is None:
            raise Refused(Close.INVALID_TOKEN, "invalid or revoked token")
        if session.event.status == "closed":
            raise Refused(Close.EVENT_CLOSED, "event closed")
        if session.status == "kicked":
            raise Refused(Close.KICKED, "kicked")
        if session.status not in ("active", "pending"):
            raise Refused(Close.INVALID_TOKEN, "the session has ended")
        described = await runtime.descriptions.describe(
            conn, event=session.event, presence_timeout_s=runtime.settings.presence_timeout_s
        )
    connection = Connection(
        websocket=websocket,
        role=Role.PARTICIPANT,
        event_id=session.event.id,
        participant_id=session.participant.id,
        device_id=session.device_id,
        last_seq=session.seq,
        event_version=session.event_state_version,
        state_version=session.participant.version,
        present=session.present,
        known=session.presence,
    )
    # The event state as of the seq the socket starts from (the described event may be a
    # moment older): every change after it follows in order.
    now = {"state": session.event_state, "state_version": session.event_state_version}
    welcome: dict[str, Any] = {
        "type": ServerMessage.WELCOME,
        "participant": session.participant.model_dump(mode="json"),
        "event": described.model_copy(update=now).model_dump(mode="json"),
        "event_state": session.event_state,
        "event_state_version": session.event_state_version,
        "heartbeat_interval_s": runtime.settings.heartbeat_interval_s,
    }
    if joined is not None:  # what the HTTP join would have answered besides
        welcome["session_token"] = joined.session_token
        welcome["rejoined"] = joined.rejoined
        welcome["reclaimed"] = joined.reclaimed
        welcome["recovery_code"] = joined.recovery_code
    connection.send(welcome)
    return connection


async def _open_host(
    websocket: WebSocket, hello: dict[str, Any], hub: Hub, gate: SocketGate
) -> Connection:
    code, token, since = hello.get("event"), hello.get("token"), hello.get("since")
    if not isinstance(code, str):
        raise Refused(Close.BAD_MESSAGE, "a host hello names its event")
    if since is not None and (not isinstance(since, int) or isinstance(since, bool)):
        raise Refused(Close.BAD_MESSAGE, "since is a whole number")
    runtime = hub.runtime
    settings = runtime.settings
    async with (
        _hello_lookup(gate) as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        try:
            event = await events.event_for_host(
                conn, code=code, token=token if isinstance(token, str) else None
            )
        except EventNotFound as exc:
            if not await runtime.limits.guesses.hit(client_address(websocket)):
                raise Refused(Close.RATE_LIMITED, "too many unknown event codes") from exc
            raise Refused(Close.EVENT_NOT_FOUND, "no such event") from exc
        except InvalidToken as exc:
            raise Refused(Close.INVALID_TOKEN, "not this event's host token") from exc
        if event.status == "closed":
            raise Refused(Close.EVENT_CLOSED, "event closed")
        if not hub.registry.take_host_slot(event.id, settings.max_host_sockets_per_event):
            raise Refused(Close.RATE_LIMITED, "too many host sockets for this event")
        try:
            welcome = await _host_welcome(conn, event, since, settings)
        except BaseException:
            hub.registry.give_host_slot(event.id)
            raise
    connection = Connection(
        websocket=websocket,
        role=Role.HOST,
        event_id=event.id,
        last_seq=since if welcome.resumed and since is not None else welcome.seq,
        holds_host_slot=True,
        receipts=welcome.receipts,
    )
    connection.send(welcome.message)
    return connection


@dataclass(frozen=True)
class HostWelcome:
    """A host's welcome as text, the seq it is current to, whether it resumes `since`, and
    the receipts it carries."""

    message: Encoded
    seq: int
    resumed: bool
    receipts: Receipts


async def _host_welcome(
    conn: DB, event: EventRow, since: int | None, settings: Settings
) -> HostWelcome:
    """The host's welcome, read in the caller's snapshot.

    A welcome that does not resume carries the whole roster; its JSON comes built by
    PostgreSQL and is put in as it is, so that a large roster is never turned into objects
    and back to text here, where every other socket of the process would wait for it.
    """
    seq = await event_log.current_seq(conn, event_id=event.id)
    described = await events.describe(
        conn, event=event, presence_timeout_s=settings.presence_timeout_s
    )
    resumed = False
    if since is not None and 0 <= since <= seq:
        oldest = await event_log.oldest_kept(conn, event_id=event.id)
        resumed = since == seq or (oldest is not None and oldest <= since + 1)
    counted = await receipts.summary(conn, event_id=event.id)
    welcome: dict[str, Any] = {
        "type": ServerMessage.WELCOME,
        "role": Role.HOST,
        "resumed": resumed,
        "seq": seq,
        "event": described.model_dump(mode="json"),
        "receipts": counted.model_dump(),
        "heartbeat_interval_s": settings.heartbeat_interval_s,
        "presence_timeout_s": settings.presence_timeout_s,
    }
    if resumed:
        return HostWelcome(Encoded(welcome), seq, resumed, counted)
    roster = await participants.roster_json(
        conn, event=event, presence_timeout_s=settings.presence_timeout_s
    )
    head = encode(welcome)
    text = f'{head[:-1]},"participants":{roster}}}'
    return HostWelcome(Encoded(text=text), seq, resumed, counted)


def _next_beat(runtime: Runtime) -> float:
    """When a message besides a heartbeat next counts as one: half a heartbeat interval on."""
    return asyncio.get_running_loop().time() + runtime.settings.heartbeat_interval_s / 2


def _sign_of_life(runtime: Runtime, connection: Connection, kind: str) -> None:
    """Every message says the participant is there: a heartbeat is written as one, any other
    message at most every half heartbeat interval (a burst of receipts or answers would
    otherwise write each phone's row twice)."""
    assert connection.participant_id is not None
    if kind == ClientMessage.HEARTBEAT or asyncio.get_running_loop().time() >= connection.beat_due:
        connection.beat_due = _next_beat(runtime)
        runtime.heartbeats.beat(connection.participant_id)


async def _read(websocket: WebSocket, connection: Connection, runtime: Runtime) -> None:
    while True:
        message = _decode(await websocket.receive())
        if connection.messages is not None and not connection.messages.allow():
            raise Refused(Close.RATE_LIMITED, "too many messages")
        kind = message["type"]
        if connection.participant_id is None:  # a host
            if kind != ClientMessage.HEARTBEAT:
                raise Refused(Close.BAD_MESSAGE, f"unknown message type {kind!r}")
            connection.send({"type": ServerMessage.ACK, "server_time": _now()})
            continue
        _sign_of_life(runtime, connection, kind)
        if kind == ClientMessage.HEARTBEAT:
            connection.send({"type": ServerMessage.ACK, "server_time": _now()})
        elif kind == ClientMessage.ACTION:
            await _act(runtime, connection, message)
        elif kind == ClientMessage.SEEN:
            await _seen(runtime, connection, message)
        elif kind in (ClientMessage.AWAY, ClientMessage.BACK):
            connection.away = kind == ClientMessage.AWAY
            if connection.settling is None:
                await _mark_here(runtime, connection, away=connection.away)
            else:  # beyond the pace: recorded now, announced when the pace allows
                async with borrow(runtime.pool) as conn:
                    await note_away(
                        conn, participant_id=connection.participant_id, away=connection.away
                    )
        else:
            raise Refused(Close.BAD_MESSAGE, f"unknown message type {kind!r}")


def _refuse(connection: Connection, problem: Problem, **about: Any) -> None:
    """An `error` message (_problem_message); the socket stays open."""
    connection.send(_problem_message(problem, **about))


def _problem_message(problem: Problem, **about: Any) -> dict[str, Any]:
    """An `error` message: the problem's code, status and detail, as HTTP would give them."""
    message: dict[str, Any] = {
        "type": ServerMessage.ERROR,
        "code": problem.code,
        "status": problem.status,
        "detail": problem.detail,
        **about,
    }
    if isinstance(problem, RateLimited):
        message["retry_after_s"] = problem.retry_after_s
    if "errors" in problem.extra:
        message["errors"] = problem.extra["errors"]
    return message


async def _act(runtime: Runtime, connection: Connection, message: dict[str, Any]) -> None:
    """An action: stored once per id, acknowledged with its seq; any refusal is an `error`
    naming the action's id, and the socket stays open."""
    assert connection.participant_id is not None
    given = message.get("id")
    about = {"id": given if isinstance(given, str) else None}
    fields = {key: value for key, value in message.items() if key != "type"}
    try:
        action = ActionRequest.model_validate(fields)
    except ValidationError as exc:
        _refuse(connection, field_errors(exc.errors()), **about)
        return
    limit, key = runtime.limits.actions, str(connection.participant_id)
    if not await limit.hit(key):
        refusal = RateLimited(
            "too many actions from this participant; slow down",
            retry_after_s=await limit.retry_after_s(key),
        )
        _refuse(connection, refusal, **about)
        return
    try:
        async with borrow(runtime.pool) as conn:
            ack = await actions.act(conn, participant_id=connection.participant_id, action=action)
    except Problem as problem:
        _refuse(connection, problem, **about)
        return
    connection.send({"type": ServerMessage.ACTION_ACK, **ack.model_dump()})


def _version(message: dict[str, Any], field: str) -> int | None:
    value = message.get(field)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValidationFailed(
            f"{field}: a whole number, 0 or more",
            errors=[{"field": field, "message": "a whole number, 0 or more", "type": "int"}],
        )
    return value


def _seen_versions(message: dict[str, Any]) -> tuple[int, int]:
    """The event state version and the participant's own version a `seen` reports (0 for one
    not given); ValidationFailed for one that is no whole number, or for neither given."""
    event_version = _version(message, "event_version")
    version = _version(message, "version")
    if event_version is None and version is None:
        raise ValidationFailed(
            "seen: give event_version, version or both",
            errors=[{"field": "event_version", "message": "missing", "type": "missing"}],
        )
    return event_version or 0, version or 0


def _sent(connection: Connection, event_version: int, version: int) -> bool:
    """Both versions were sent to this socket (or reported by it before)."""
    return event_version <= connection.event_version and version <= connection.state_version


async def _seen(runtime: Runtime, connection: Connection, message: dict[str, Any]) -> None:
    """A receipt: the event state version (and the participant's own) its app has shown.

    A version this socket has not been sent is looked up once: it may be on its way (read
    over HTTP first); one that does not exist yet is an `error`. Buffered, written in bulk.
    """
    assert connection.participant_id is not None
    try:
        event_version, version = _seen_versions(message)
    except ValidationFailed as problem:
        _refuse(connection, problem)
        return
    if not _sent(connection, event_version, version):
        async with borrow(runtime.pool) as conn:
            connection.event_version = max(
                connection.event_version,
                await state.current_version(conn, event_id=connection.event_id),
            )
            connection.state_version = max(
                connection.state_version,
                await participants.state_version(conn, participant_id=connection.participant_id),
            )
        if event_version > connection.event_version:
            _refuse(connection, UnknownVersion(f"the event state has no version {event_version}"))
            return
        if version > connection.state_version:
            _refuse(connection, UnknownVersion(f"the state has no version {version}"))
            return
    runtime.receipts.seen(connection.participant_id, event_version=event_version, version=version)


def _receipts_at_once(runtime: Runtime, connection: Connection) -> Callable[[bytes], bool]:
    """What the server hands the app as it reads each message (wsprotocol.MESSAGES): a `seen`
    that needs nothing but the buffer (versions this socket was sent, within the message
    limit) is buffered at once; anything else (another type, a version to look up, an error
    to answer) is left to `_read`, which handles it as it handles every message."""
    assert connection.participant_id is not None
    participant_id = connection.participant_id

    def take(data: bytes) -> bool:
        if len(data) > QUICK_SEEN_MAX_BYTES or b'"seen"' not in data:
            return False
        try:
            message = json.loads(data)
            if not isinstance(message, dict) or message.get("type") != ClientMessage.SEEN:
                return False
            event_version, version = _seen_versions(message)
        except (ValueError, RecursionError, ValidationFailed):
            return False
        if not _sent(connection, event_version, version) or (
            connection.messages is not None and not connection.messages.allow()
        ):
            return False
        _sign_of_life(runtime, connection, ClientMessage.SEEN)
        runtime.receipts.seen(participant_id, event_version=event_version, version=version)
        return True

    return take


async def _mark_here(
    runtime: Runtime,
    connection: Connection,
    *,
    away: bool,
    known: PresenceRow | None = None,
) -> None:
    assert connection.participant_id is not None
    async with borrow(runtime.pool) as conn:
        change = await set_presence(
            conn,
            participant_id=connection.participant_id,
            event_id=connection.event_id,
            away=away,
            known=known,
        )
    if change.outcome == "deferred" and connection.settling is None:
        connection.settling = asyncio.create_task(_settle(runtime, connection, change.wait_s))


SETTLE_MARGIN_S = 0.01


async def _settle(runtime: Runtime, connection: Connection, wait_s: float) -> None:
    """Announce where quick away/back flips ended, as soon as the pace allows."""
    await asyncio.sleep(wait_s + SETTLE_MARGIN_S)
    connection.settling = None
    if connection.closing:
        return
    with contextlib.suppress(*UNAVAILABLE_ERRORS):  # the sweep announces it later then
        await _mark_here(runtime, connection, away=connection.away)


ROOM_CHECK_END_S = 5.0
"""How long a closing host socket waits for its room check task to end (it then ends alone)."""

ROOM_CHECK_MARGIN_S = 0.05
"""Ask for the next code this long after the current one expires, so it is surely the next."""


async def _send_room_checks(connection: Connection, runtime: Runtime) -> None:
    """A host's room check code, at welcome and at each rotation, while the event has it on.

    An `event.updated` wakes it early, so turning the check on shows the code at once.
    """
    sent = None
    while not connection.closing:
        connection.event_changed.clear()
        try:
            async with borrow(runtime.pool) as conn:
                now = await events.room_check(
                    conn, event_id=connection.event_id, period_s=runtime.settings.room_check_s
                )
        except EventNotFound:
            return
        except UNAVAILABLE_ERRORS:
            wait = 1.0
        else:
            if now.enabled and now.code != sent:
                connection.send(
                    {
                        "type": ServerMessage.ROOM_CHECK,
                        "code": now.code,
                        "expires_at": now.expires_at.isoformat(),
                    }
                )
                sent = now.code
            elif not now.enabled:
                sent = None
            wait = now.remaining_s + ROOM_CHECK_MARGIN_S
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(connection.event_changed.wait(), timeout=wait)


async def _end_room_checks(connection: Connection, task: asyncio.Task[None]) -> None:
    """Let a closing host's room check task end by itself: never cancel it in a query.

    A query cancelled mid-way can leave its pooled connection inside a transaction on the
    server's side while asyncpg believes it idle; the next hello to borrow it then fails at
    its BEGIN. Woken, the task sees the socket closing and returns after any query it is in.
    """
    connection.event_changed.set()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(asyncio.shield(task), timeout=ROOM_CHECK_END_S)


async def _write(connection: Connection) -> None:
    websocket = connection.websocket
    while True:
        item = await connection.queue.get()
        connection.writing = True  # a shared message sent meanwhile waits its turn
        try:
            if isinstance(item, Closing):
                await _close(websocket, item.code, item.reason)
                return
            text = item.text if isinstance(item, Encoded) else encode(item)
            await websocket.send_text(text)
        except Exception:
            # The peer is gone; the reader notices and cleans up.
            connection.closing = True
            return
        finally:
            connection.writing = False


def _now() -> str:
    return datetime.now(UTC).isoformat()
