"""Fan-out: the event log, read after each socket's last seq, delivered as each role sees it.

Every change is a row of event_log, announced with NOTIFY at commit. For every event that has
sockets here, one dispatch loop at a time reads the log after the smallest seq its sockets have
seen and delivers in order. A missed notification costs nothing but latency: the next one, or
the listener's reconnect, reads from the same cursor.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from uuid import UUID

import asyncpg

from rollcall import event_log
from rollcall.db.pool import UNAVAILABLE_ERRORS
from rollcall.protocol import Close, HostMessage, Role, ServerMessage
from rollcall.realtime.connection import Connection, Encoded, move
from rollcall.realtime.registry import Registry

log = logging.getLogger(__name__)

FETCH_LIMIT = 500


class Fanout:
    def __init__(self, pool: asyncpg.Pool[Any], registry: Registry) -> None:
        self._pool = pool
        self._registry = registry
        self._dispatching: dict[UUID, bool] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def on_notify(self, payload: str) -> None:
        try:
            event_id = UUID(json.loads(payload)["event_id"])
        except (ValueError, KeyError, TypeError):
            return
        if self._registry.has_event(event_id):
            self.schedule(event_id)

    def catch_up(self) -> None:
        """Read every event's log again: notifications may have been missed."""
        for event_id in self._registry.events():
            self.schedule(event_id)

    def schedule(self, event_id: UUID) -> None:
        if event_id in self._dispatching:
            self._dispatching[event_id] = True  # run once more when the current pass ends
            return
        self._dispatching[event_id] = False
        task = asyncio.create_task(self._dispatch_loop(event_id), name=f"dispatch-{event_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()

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
            connections = self._registry.of_event(event_id)
            if not connections:
                return
            since = min(c.last_seq for c in connections)
            async with self._pool.acquire() as conn:
                messages = await event_log.messages_after(
                    conn, event_id=event_id, since=since, limit=FETCH_LIMIT
                )
            for message in messages:
                outgoing = Outgoing(message)
                for connection in connections:
                    if message["seq"] > connection.last_seq:
                        connection.last_seq = message["seq"]
                        deliver(connection, outgoing, self._registry)
            if len(messages) < FETCH_LIMIT:
                return


class Outgoing:
    """One log message on its way to this process's sockets.

    What every host gets, and what every phone gets of an event change, is the same for all
    of them: each is encoded once, by the first socket's writer, not once a socket.
    """

    __slots__ = ("_for_phones", "for_hosts", "message")

    def __init__(self, message: dict[str, Any]) -> None:
        self.message = message
        self.for_hosts = Encoded(message)
        self._for_phones: Encoded | None = None

    @property
    def event_for_phones(self) -> Encoded:
        if self._for_phones is None:
            event = self.message["event"]
            self._for_phones = Encoded({"type": ServerMessage.EVENT, "event": event})
        return self._for_phones


def deliver(connection: Connection, outgoing: Outgoing, registry: Registry) -> None:
    """Send a log message the way this connection's role sees it.

    A socket only gets messages newer than its hello, so one that sees its own participant
    join was waiting (admitted), and one that sees its seat reclaimed is on the old device.
    """
    message = outgoing.message
    kind = message["type"]
    closed = kind == HostMessage.EVENT_UPDATED and message["event"]["status"] == "closed"
    if connection.role == Role.HOST:
        connection.send(outgoing.for_hosts)
        if kind == HostMessage.EVENT_UPDATED:
            connection.event_changed.set()
        if closed:
            connection.close(Close.EVENT_CLOSED, "event closed")
        return
    me = str(connection.participant_id)
    mine = message.get("participant_id") == me
    about_me = message.get("participant", {}).get("id") == me
    if kind == HostMessage.REJOINED and message.get("reclaimed"):
        if message.get("request_id") == me:  # this phone asked for the seat and got it
            registry.rebind(connection, UUID(message["participant"]["id"]))
            connection.send({"type": ServerMessage.ADMITTED, "participant": message["participant"]})
        elif about_me:
            move(connection)
    elif kind == HostMessage.JOINED and about_me:
        connection.send({"type": ServerMessage.ADMITTED, "participant": message["participant"]})
    elif kind == HostMessage.STATE and mine:
        connection.send(
            {"type": ServerMessage.STATE, "state": message["state"], "version": message["version"]}
        )
    elif kind == HostMessage.KICKED and mine:
        connection.send({"type": ServerMessage.KICKED})
        connection.close(Close.KICKED, "kicked")
    elif kind == HostMessage.LEFT and mine:
        connection.close(Close.INVALID_TOKEN, "left")
    elif kind == HostMessage.EVENT_UPDATED:
        connection.send(outgoing.event_for_phones)
        if closed:
            connection.close(Close.EVENT_CLOSED, "event closed")
