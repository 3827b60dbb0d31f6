"""The connection registry of one process, and fan-out of the event log to its sockets.

Every change is a row of event_log, announced with NOTIFY at commit. Each process listens on
one dedicated connection; for every event that has sockets here it reads the log after the
last seq each socket has seen and delivers, in order. A missed notification costs nothing
but latency: the next one, or the listener's reconnect, reads from the same cursor.

"Replaced" works across processes too: a new participant connection announces itself on a
control channel; a process that holds an older connection of that participant (one whose own
announcement it has already seen) tells it `replaced` and closes it. Notifications reach every
listener in one order, so exactly the newest connection survives.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

import asyncpg
from starlette.websockets import WebSocket

from rollcall.background import Periodic
from rollcall.db.pool import UNAVAILABLE_ERRORS
from rollcall.presence.heartbeats import HeartbeatBuffer
from rollcall.realtime import log as event_log

log = logging.getLogger(__name__)

CONTROL_CHANNEL = "rollcall_control"
LISTENER_CHECK_S = 2.0
FETCH_LIMIT = 500
SEND_QUEUE_LIMIT = 5_000


class Close:
    """Put on a connection's queue: close the socket with this code after what came before."""

    def __init__(self, code: int, reason: str = "") -> None:
        self.code = code
        self.reason = reason


@dataclass(eq=False)
class Connection:
    websocket: WebSocket
    role: Literal["participant", "host"]
    event_id: UUID
    participant_id: UUID | None = None
    last_seq: int = 0
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    confirmed: bool = False
    closing: bool = False
    away: bool = False
    present: bool = False  # the participant was online, not away, when this socket said hello
    queue: asyncio.Queue[dict[str, Any] | Close] = field(
        default_factory=lambda: asyncio.Queue(maxsize=SEND_QUEUE_LIMIT)
    )

    def send(self, message: dict[str, Any]) -> None:
        if self.closing:
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            # A client this far behind is not reading; it reconnects and resumes.
            self.close(1013, "too slow")

    def close(self, code: int, reason: str = "") -> None:
        if self.closing:
            return
        self.closing = True
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(Close(code, reason))
        if self.queue.full():
            # Make room for the close itself.
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.queue.put_nowait(Close(code, reason))


class Hub:
    def __init__(
        self,
        pool: asyncpg.Pool[Any],
        database_url: str,
        *,
        heartbeats: HeartbeatBuffer,
        heartbeat_interval_s: float,
    ) -> None:
        self._pool = pool
        self._url = database_url
        self._heartbeats = heartbeats
        # A hidden browser tab may run its timers once a minute only, while the browser itself
        # still answers the socket's pings. An away page with an open socket is present: the
        # server beats for it. When the socket dies, the pings fail, it closes, and silence
        # makes the participant offline as usual.
        self._away_beats = Periodic("away heartbeats", self._beat_for_away, heartbeat_interval_s)
        self._by_event: dict[UUID, set[Connection]] = defaultdict(set)
        self._participants: dict[UUID, Connection] = {}
        self._dispatching: dict[UUID, bool] = {}
        self._listener: asyncpg.Connection[Any] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self._connect_listener()
        except UNAVAILABLE_ERRORS as exc:
            log.warning("realtime listener not connected yet: %s", type(exc).__name__)
        self._watchdog = asyncio.create_task(self._watch_listener(), name="listener-watchdog")
        self._away_beats.start()

    async def stop(self, code: int = 1001) -> None:
        """Close every socket with a going-away code, then the listener."""
        await self._away_beats.stop()
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        for connections in list(self._by_event.values()):
            for connection in list(connections):
                connection.close(code, "server stopping")
        if self._listener is not None and not self._listener.is_closed():
            with contextlib.suppress(*UNAVAILABLE_ERRORS):
                await self._listener.close(timeout=2)
        for task in list(self._tasks):
            task.cancel()

    async def _connect_listener(self) -> None:
        listener = await asyncpg.connect(
            self._url, timeout=5, server_settings={"application_name": "rollcall-listener"}
        )
        await listener.add_listener(event_log.CHANNEL, self._on_event_notify)
        await listener.add_listener(CONTROL_CHANNEL, self._on_control_notify)
        self._listener = listener
        # Whatever was announced while no one listened is in the log: catch up.
        for event_id in list(self._by_event):
            self.schedule_dispatch(event_id)

    async def _watch_listener(self) -> None:
        while True:
            await asyncio.sleep(LISTENER_CHECK_S)
            try:
                if self._listener is None or self._listener.is_closed():
                    await self._connect_listener()
                    log.info("realtime listener reconnected")
                else:
                    await self._listener.fetchval("SELECT 1", timeout=LISTENER_CHECK_S)
            except UNAVAILABLE_ERRORS as exc:
                log.warning("realtime listener down, retrying: %s", type(exc).__name__)
                if self._listener is not None:
                    self._listener.terminate()
                    self._listener = None

    # -- registry ----------------------------------------------------------------------

    def register(self, connection: Connection) -> None:
        self._by_event[connection.event_id].add(connection)
        if connection.participant_id is not None:
            older = self._participants.get(connection.participant_id)
            if older is not None and older is not connection:
                self.replace(older)
            self._participants[connection.participant_id] = connection
        self.schedule_dispatch(connection.event_id)

    def unregister(self, connection: Connection) -> None:
        connections = self._by_event.get(connection.event_id)
        if connections is not None:
            connections.discard(connection)
            if not connections:
                del self._by_event[connection.event_id]
        pid = connection.participant_id
        if pid is not None and self._participants.get(pid) is connection:
            del self._participants[pid]

    def replace(self, connection: Connection) -> None:
        connection.send({"type": "replaced"})
        connection.close(4409, "replaced by a newer connection")

    async def _beat_for_away(self) -> None:
        for pid, connection in list(self._participants.items()):
            if connection.away and not connection.closing:
                await self._heartbeats.beat(pid)

    async def announce_participant(self, connection: Connection) -> None:
        """Tell every process (this one included) that this is the participant's newest socket."""
        payload = json.dumps(
            {"participant_id": str(connection.participant_id), "connection": connection.id}
        )
        async with self._pool.acquire() as conn:
            await conn.execute("SELECT pg_notify($1, $2)", CONTROL_CHANNEL, payload)

    def _on_control_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        try:
            data = json.loads(str(payload))
            participant_id = UUID(data["participant_id"])
            newest = str(data["connection"])
        except (ValueError, KeyError, TypeError):
            return
        local = self._participants.get(participant_id)
        if local is None:
            return
        if local.id == newest:
            local.confirmed = True
        elif local.confirmed:
            # Ours was announced earlier: a newer connection exists elsewhere.
            self.unregister(local)
            self.replace(local)

    # -- fan-out -----------------------------------------------------------------------

    def _on_event_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        try:
            event_id = UUID(json.loads(str(payload))["event_id"])
        except (ValueError, KeyError, TypeError):
            return
        if event_id in self._by_event:
            self.schedule_dispatch(event_id)

    def schedule_dispatch(self, event_id: UUID) -> None:
        if event_id in self._dispatching:
            self._dispatching[event_id] = True  # run once more when the current pass ends
            return
        self._dispatching[event_id] = False
        task = asyncio.create_task(self._dispatch_loop(event_id), name=f"dispatch-{event_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _dispatch_loop(self, event_id: UUID) -> None:
        try:
            while True:
                try:
                    await self._dispatch(event_id)
                except UNAVAILABLE_ERRORS as exc:
                    log.warning("dispatch of %s deferred: %s", event_id, type(exc).__name__)
                    await asyncio.sleep(0.5)
                    continue
                if not self._dispatching.get(event_id):
                    break
                self._dispatching[event_id] = False
        finally:
            self._dispatching.pop(event_id, None)

    async def _dispatch(self, event_id: UUID) -> None:
        while True:
            connections = list(self._by_event.get(event_id, ()))
            if not connections:
                return
            since = min(c.last_seq for c in connections)
            async with self._pool.acquire() as conn:
                messages = await event_log.messages_after(
                    conn, event_id=event_id, since=since, limit=FETCH_LIMIT
                )
            for message in messages:
                for connection in connections:
                    if message["seq"] > connection.last_seq:
                        connection.last_seq = message["seq"]
                        deliver(connection, message)
            if len(messages) < FETCH_LIMIT:
                return


def deliver(connection: Connection, message: dict[str, Any]) -> None:
    """Send a log message the way this connection's role sees it."""
    kind = message["type"]
    if connection.role == "host":
        connection.send(message)
        if kind == "event.updated" and message["event"]["status"] == "closed":
            connection.close(4410, "event closed")
        return
    mine = message.get("participant_id") == str(connection.participant_id)
    if kind == "participant.state" and mine:
        connection.send({"type": "state", "state": message["state"], "version": message["version"]})
    elif kind == "participant.kicked" and mine:
        connection.send({"type": "kicked"})
        connection.close(4403, "kicked")
    elif kind == "participant.left" and mine:
        connection.close(4401, "left")
    elif kind == "event.updated":
        connection.send({"type": "event", "event": message["event"]})
        if message["event"]["status"] == "closed":
            connection.close(4410, "event closed")
