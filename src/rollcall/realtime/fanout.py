"""Fan-out: the event log, read after what this process has handled, delivered as roles see it.

Every change is a row of event_log, announced with NOTIFY at commit. For every event that has
sockets here, one dispatch loop at a time reads the log after the event's cursor (the seq
through which this process has handled it) and gives each message to the sockets it concerns:
every host, and of the participants those it names (all of them for an event update). A
missed notification costs nothing but latency: the next read, or the listener's reconnect,
reads from the same cursor.

When it reads:

- With a host of the event here, at every notification: hosts see everything, at once.
- Otherwise, a notification that says what it is about (event_log.append's) is read at once
  when it concerns a socket here; when it concerns none, it only moves the cursor on (if it is
  the next seq). A notification that does not say (the database's join and admission
  functions send only the seq), and a new socket, are read within LAZY_S, all together: a
  participant's socket cares for those only when its seat moves or it is admitted, and one
  query then reads every event that had such a change meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections.abc import Callable
from typing import Any
from uuid import UUID

import asyncpg

from rollcall import event_log
from rollcall.db.pool import UNAVAILABLE_ERRORS, borrow
from rollcall.protocol import Close, HostMessage, Role, ServerMessage
from rollcall.realtime.connection import Connection, Encoded, move
from rollcall.realtime.registry import Registry

log = logging.getLogger(__name__)

FETCH_LIMIT = 500

LAZY_S = 0.05
"""How long a read that no socket here waits for may gather further changes."""

PARTICIPANT_KINDS = frozenset(
    {
        HostMessage.JOINED,
        HostMessage.REJOINED,
        HostMessage.STATE,
        HostMessage.RENAMED,
        HostMessage.TEAM,
        HostMessage.KICKED,
        HostMessage.LEFT,
    }
)
"""Besides an event update, the messages deliver() acts on for the participants they name."""

EVENT_WIDE = frozenset({HostMessage.EVENT_UPDATED, HostMessage.EVENT_STATE})
"""Messages for every socket of the event: its changes and its state reach every phone."""


class Fanout:
    def __init__(
        self,
        pool: asyncpg.Pool[Any],
        registry: Registry,
        on_host_event: Callable[[UUID, object], None] | None = None,
        on_event_state: Callable[[int], None] | None = None,
    ) -> None:
        """`on_host_event(event_id, type)` hears of each notification of an event with a host
        here (type None when the notification says none); `on_event_state(phones)` of each
        event state this process has sent to that many phones (their receipts follow)."""
        self._pool = pool
        self._registry = registry
        self._on_host_event = on_host_event
        self._on_event_state = on_event_state
        self._cursor: dict[UUID, int] = {}
        self._floor: dict[UUID, int] = {}  # a socket added behind the cursor reads from here
        self._behind: weakref.WeakSet[Connection] = weakref.WeakSet()  # such sockets, until then
        self._dispatching: dict[UUID, bool] = {}
        self._lazy: set[UUID] = set()  # events to read in the next gathered query
        self._lazy_timer: asyncio.TimerHandle | None = None
        self._stopped = False
        self._tasks: set[asyncio.Task[None]] = set()

    def register(self, connection: Connection) -> None:
        """A socket was added: deliver what it has not seen (after its last_seq)."""
        event_id = connection.event_id
        cursor = self._cursor.get(event_id)
        if cursor is None:
            self._cursor[event_id] = connection.last_seq
            if event_id in self._dispatching:  # a read from before may still be out
                self._add_behind(connection)
        elif connection.last_seq < cursor:
            self._add_behind(connection)
        if connection.role == Role.HOST:
            self.schedule(event_id)
        else:
            self.schedule_lazy(event_id)

    def _add_behind(self, connection: Connection) -> None:
        """A socket that has not seen what this process has read of its event: it is read
        again from its last_seq, and gets nothing of a read that starts after that."""
        event_id, seen = connection.event_id, connection.last_seq
        self._floor[event_id] = min(self._floor.get(event_id, seen), seen)
        self._behind.add(connection)

    def forget(self, event_id: UUID) -> None:
        """The event's last socket here is gone."""
        if not self._registry.has_event(event_id):
            self._cursor.pop(event_id, None)
            self._floor.pop(event_id, None)

    def on_notify(self, payload: str) -> None:
        try:
            data = json.loads(payload)
            event_id = UUID(data["event_id"])
            seq = int(data["seq"])
        except (ValueError, KeyError, TypeError):
            return
        if not self._registry.has_event(event_id):
            return
        kind, about = data.get("type"), data.get("about")
        if self._registry.has_host(event_id):
            if self._on_host_event is not None:
                self._on_host_event(event_id, kind)
            self.schedule(event_id)
        elif not isinstance(kind, str) or not isinstance(about, list):
            self.schedule_lazy(event_id)
        elif self._concerns_a_socket_here(event_id, kind, about):
            self.schedule(event_id)
        elif self._cursor.get(event_id) == seq - 1 and event_id not in self._dispatching:
            self._cursor[event_id] = seq  # nothing here to deliver
        else:
            self.schedule_lazy(event_id)

    def catch_up(self) -> None:
        """Read every event's log again: notifications may have been missed."""
        for event_id in self._registry.events():
            self.schedule(event_id)

    def schedule(self, event_id: UUID) -> None:
        if self._stopped:
            return
        if event_id in self._dispatching:
            self._dispatching[event_id] = True  # run once more when the current pass ends
            return
        self._dispatching[event_id] = False
        task = asyncio.create_task(self._dispatch_loop(event_id), name=f"dispatch-{event_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def schedule_lazy(self, event_id: UUID) -> None:
        """Read within LAZY_S, in one query with every other event that waits for it."""
        self._lazy.add(event_id)
        if self._lazy_timer is None and not self._stopped:
            self._lazy_timer = asyncio.get_running_loop().call_later(LAZY_S, self._lazy_due)

    def _lazy_due(self) -> None:
        self._lazy_timer = None
        events, self._lazy = self._lazy, set()
        gathered = []
        for event_id in events:
            if not self._registry.has_event(event_id):
                continue
            if event_id in self._dispatching:
                self._dispatching[event_id] = True  # the pass under way reads once more
            else:
                gathered.append(event_id)
                self._dispatching[event_id] = False
        if gathered:
            task = asyncio.create_task(self._dispatch_gathered(gathered), name="dispatch-gathered")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def stop(self) -> None:
        self._stopped = True
        if self._lazy_timer is not None:
            self._lazy_timer.cancel()
            self._lazy_timer = None
        self._lazy.clear()
        for task in list(self._tasks):
            task.cancel()

    def _concerns_a_socket_here(self, event_id: UUID, kind: str, about: list[Any]) -> bool:
        if kind in EVENT_WIDE:
            return True
        if kind not in PARTICIPANT_KINDS:
            return False
        try:
            named = [self._registry.participant(UUID(str(pid))) for pid in about]
        except ValueError:
            return True
        return any(c is not None and c.event_id == event_id for c in named)

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
        while self._registry.has_event(event_id):
            since = self._take_since(event_id)
            try:
                async with borrow(self._pool) as conn:
                    messages = await event_log.messages_after(
                        conn, event_id=event_id, since=since, limit=FETCH_LIMIT
                    )
            except BaseException:
                self._give_back(event_id, since)
                raise
            self._deliver_read(event_id, since, messages)
            if len(messages) < FETCH_LIMIT:
                return

    async def _dispatch_gathered(self, events: list[UUID]) -> None:
        """One query for several events' reads; each is marked as dispatching meanwhile."""
        more: set[UUID] = set()
        try:
            since = {event_id: self._take_since(event_id) for event_id in events}
            try:
                async with borrow(self._pool) as conn:
                    found = await event_log.messages_after_each(
                        conn, since=since, limit=FETCH_LIMIT
                    )
            except UNAVAILABLE_ERRORS as exc:
                log.warning("gathered dispatch deferred: %s", type(exc).__name__)
                for event_id, seq in since.items():
                    self._give_back(event_id, seq)
                more.update(events)  # each event's own loop retries
                return
            for event_id, messages in found.items():
                self._deliver_read(event_id, since[event_id], messages)
                if len(messages) >= FETCH_LIMIT:
                    more.add(event_id)
        finally:
            for event_id in events:
                if self._dispatching.pop(event_id, False):
                    more.add(event_id)
            for event_id in more:
                if self._registry.has_event(event_id):
                    self.schedule(event_id)

    def _take_since(self, event_id: UUID) -> int:
        """Where the next read of the event starts: its cursor, or a newer socket's floor."""
        cursor = self._cursor.get(event_id, 0)
        return min(cursor, self._floor.pop(event_id, cursor))

    def _give_back(self, event_id: UUID, since: int) -> None:
        """A read failed: the next one starts where it would have."""
        self._floor[event_id] = min(self._floor.get(event_id, since), since)

    def _deliver_read(self, event_id: UUID, since: int, messages: list[dict[str, Any]]) -> None:
        """Deliver a read of the log after `since`.

        Not to a socket added behind it (with an older last_seq than the read starts from, while
        the read was under way): it would get its newest messages before the ones it missed, and
        never those. Its own read, from its last_seq, comes next and gives it all, in order.
        """
        waiting = [c for c in self._behind if c.event_id == event_id]
        behind = [c.last_seq for c in waiting if c.last_seq < since]
        for connection in waiting:
            if connection.last_seq >= since:  # this read starts where it stands: caught up
                self._behind.discard(connection)
        for message in messages:
            outgoing = Outgoing(message)
            phones = 0
            for connection in self._recipients(event_id, message):
                if connection.last_seq < since and connection in self._behind:
                    continue
                if message["seq"] > connection.last_seq:
                    connection.last_seq = message["seq"]
                    deliver(connection, outgoing, self._registry)
                    phones += connection.role == Role.PARTICIPANT
            if message["type"] == HostMessage.EVENT_STATE and self._on_event_state is not None:
                self._on_event_state(phones)
        if messages and self._registry.has_event(event_id):
            self._cursor[event_id] = max(self._cursor.get(event_id, 0), messages[-1]["seq"])
        if behind:  # read again from the oldest of them, once this pass ends
            self._floor[event_id] = min(self._floor.get(event_id, since), *behind)
            if event_id in self._dispatching:
                self._dispatching[event_id] = True
            else:
                self.schedule(event_id)

    def _recipients(self, event_id: UUID, message: dict[str, Any]) -> list[Connection]:
        """The sockets here a message concerns: every host, and the participants it names."""
        kind = message["type"]
        if kind in EVENT_WIDE:
            return self._registry.of_event(event_id)
        hosts = self._registry.hosts_of(event_id)
        if kind not in PARTICIPANT_KINDS:
            return hosts
        for pid in event_log.about(message):
            named = self._registry.participant(UUID(pid))
            if named is not None and named.event_id == event_id:
                hosts.append(named)
        return hosts


class Outgoing:
    """One log message on its way to this process's sockets.

    What every host gets, and what every phone gets of an event change or of the event state,
    is the same for all of them: each is encoded once, by the first socket's writer, not once
    a socket.
    """

    __slots__ = ("_for_phones", "for_hosts", "message")

    def __init__(self, message: dict[str, Any]) -> None:
        self.message = message
        self.for_hosts = Encoded(message)
        self._for_phones: Encoded | None = None

    @property
    def for_phones(self) -> Encoded:
        """An event update (`event`) or the event state (`event_state`), as phones get it."""
        if self._for_phones is None:
            message = self.message
            if message["type"] == HostMessage.EVENT_STATE:
                phones = {
                    "type": ServerMessage.EVENT_STATE,
                    "state": message["state"],
                    "version": message["version"],
                }
            else:
                phones = {"type": ServerMessage.EVENT, "event": message["event"]}
            self._for_phones = Encoded(phones)
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
    if kind == HostMessage.EVENT_STATE:  # every phone, one text for all: the common broadcast
        connection.event_version = max(connection.event_version, message["version"])
        connection.send(outgoing.for_phones)
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
        connection.state_version = max(connection.state_version, message["version"])
        connection.send(
            {"type": ServerMessage.STATE, "state": message["state"], "version": message["version"]}
        )
    elif kind == HostMessage.RENAMED and mine:
        connection.send({"type": ServerMessage.RENAMED, "display_name": message["display_name"]})
    elif kind == HostMessage.TEAM and mine:
        connection.send({"type": ServerMessage.TEAM, "team": message["team"]})
    elif kind == HostMessage.KICKED and mine:
        connection.send({"type": ServerMessage.KICKED})
        connection.close(Close.KICKED, "kicked")
    elif kind == HostMessage.LEFT and mine:
        connection.close(Close.INVALID_TOKEN, "left")
    elif kind == HostMessage.EVENT_UPDATED:
        connection.send(outgoing.for_phones)
        if closed:
            connection.close(Close.EVENT_CLOSED, "event closed")
