"""The sockets of one process, by event and by participant, and "the newest socket wins".

A participant has at most one live socket. A newer one on this process replaces the older at
once; across processes, each new socket announces itself on the control channel, and a process
that holds an older socket of that participant (one whose own announcement it has already
seen) tells it `replaced` and closes it. Notifications reach every listener in one order, so
exactly the newest socket survives.

Announcements are gathered: a process sends those of the sockets added in the last
ANNOUNCE_GATHER_S in one transaction (a notification holds a list of them, in the order the
sockets were added), so that a crowd arriving costs the database a notifying commit every
ANNOUNCE_GATHER_S per process rather than one per socket. Every notifying commit takes one
lock for the whole database, held while its WAL is flushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import asyncpg

from rollcall.db.pool import UNAVAILABLE_ERRORS, borrow
from rollcall.protocol import CONTROL_CHANNEL
from rollcall.realtime.connection import Connection, move, replace

log = logging.getLogger(__name__)

ANNOUNCE_GATHER_S = 0.02
"""How long a new socket's announcement waits for others to go out with it."""

PAYLOAD_BYTES = 7_000
"""A notification's payload stays under PostgreSQL's limit (8,000 bytes)."""

RETRY_S = 0.5


class Registry:
    def __init__(self, pool: asyncpg.Pool[Any]) -> None:
        self._pool = pool
        self._outbox: list[Connection] = []
        self._flusher: asyncio.Task[None] | None = None
        self._by_event: dict[UUID, set[Connection]] = defaultdict(set)
        self._hosts: dict[UUID, set[Connection]] = defaultdict(set)
        self._participants: dict[UUID, Connection] = {}
        self._host_slots: Counter[UUID] = Counter()

    def take_host_slot(self, event_id: UUID, limit: int) -> bool:
        """Count one more host socket of the event, unless `limit` are here already.

        Taken before the welcome is built (each carries the whole roster) and given back
        when the socket ends, so that welcomes in the making count too.
        """
        if self._host_slots[event_id] >= limit:
            return False
        self._host_slots[event_id] += 1
        return True

    def give_host_slot(self, event_id: UUID) -> None:
        self._host_slots[event_id] -= 1
        if self._host_slots[event_id] <= 0:
            del self._host_slots[event_id]

    def add(self, connection: Connection) -> None:
        self._by_event[connection.event_id].add(connection)
        if connection.participant_id is None:
            self._hosts[connection.event_id].add(connection)
            return
        self._take_over(connection)

    def rebind(self, connection: Connection, participant_id: UUID) -> None:
        """The socket now stands for another participant (a seat move it asked for was admitted)."""
        pid = connection.participant_id
        if pid is not None and self._participants.get(pid) is connection:
            del self._participants[pid]
        connection.participant_id = participant_id
        connection.confirmed = True  # the seat move happened after every older socket's hello
        self._take_over(connection)

    def _take_over(self, connection: Connection) -> None:
        assert connection.participant_id is not None
        older = self._participants.get(connection.participant_id)
        if older is not None and older is not connection:
            _supersede(older, connection.device_id)
        self._participants[connection.participant_id] = connection

    def remove(self, connection: Connection) -> None:
        if connection.holds_host_slot:
            connection.holds_host_slot = False
            self.give_host_slot(connection.event_id)
        connections = self._by_event.get(connection.event_id)
        if connections is not None:
            connections.discard(connection)
            if not connections:
                del self._by_event[connection.event_id]
        hosts = self._hosts.get(connection.event_id)
        if hosts is not None:
            hosts.discard(connection)
            if not hosts:
                del self._hosts[connection.event_id]
        pid = connection.participant_id
        if pid is not None and self._participants.get(pid) is connection:
            del self._participants[pid]

    def of_event(self, event_id: UUID) -> list[Connection]:
        return list(self._by_event.get(event_id, ()))

    def has_event(self, event_id: UUID) -> bool:
        return event_id in self._by_event

    def hosts_of(self, event_id: UUID) -> list[Connection]:
        return list(self._hosts.get(event_id, ()))

    def has_host(self, event_id: UUID) -> bool:
        return event_id in self._hosts

    def participant(self, participant_id: UUID) -> Connection | None:
        """The participant's live socket on this process, if any."""
        return self._participants.get(participant_id)

    def events(self) -> list[UUID]:
        return list(self._by_event)

    def all(self) -> Iterator[Connection]:
        for connections in list(self._by_event.values()):
            yield from list(connections)

    def participants(self) -> list[tuple[UUID, Connection]]:
        return list(self._participants.items())

    def announce(self, connection: Connection) -> None:
        """Tell every process (this one included), soon, that this is the participant's newest
        socket. Called as the socket is added, so announcements keep the order of adding."""
        self._outbox.append(connection)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="announcements")

    async def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher

    async def _flush(self) -> None:
        """Send what the outbox holds, every ANNOUNCE_GATHER_S, until it stays empty.

        A socket closed meanwhile is left out: a socket that is gone must not take the place
        of a newer one opened elsewhere in the meantime.
        """
        while self._outbox:
            await asyncio.sleep(ANNOUNCE_GATHER_S)
            batch = [c for c in self._outbox if not c.closing]
            self._outbox = []
            try:
                async with borrow(self._pool) as conn, conn.transaction():
                    for payload in _payloads(batch):
                        await conn.execute("SELECT pg_notify($1, $2)", CONTROL_CHANNEL, payload)
            except UNAVAILABLE_ERRORS as exc:
                log.warning("socket announcements deferred: %s", type(exc).__name__)
                self._outbox[:0] = batch  # before any added since: the order is kept
                await asyncio.sleep(RETRY_S)

    def on_announcement(self, payload: str) -> None:
        """A list of announcements, oldest first (or one alone, as older processes send it)."""
        try:
            data = json.loads(payload)
        except ValueError:
            return
        for announcement in data if isinstance(data, list) else [data]:
            self._on_one(announcement)

    def _on_one(self, data: Any) -> None:
        try:
            participant_id = UUID(data["participant_id"])
            newest = str(data["connection"])
            device = UUID(data["device"]) if data.get("device") not in (None, "None") else None
        except (ValueError, KeyError, TypeError):
            return
        local = self._participants.get(participant_id)
        if local is None:
            return
        if local.id == newest:
            local.confirmed = True
        elif local.confirmed:
            # Ours was announced earlier: a newer connection exists elsewhere.
            self.remove(local)
            _supersede(local, device)


def _payloads(batch: list[Connection]) -> Iterator[str]:
    """The batch's announcements as JSON lists, in order, each under PAYLOAD_BYTES."""
    chunk: list[str] = []
    size = 2
    for connection in batch:
        item = json.dumps(
            {
                "participant_id": str(connection.participant_id),
                "connection": connection.id,
                "device": str(connection.device_id),
            },
            separators=(",", ":"),
        )
        if chunk and size + len(item) + 1 > PAYLOAD_BYTES:
            yield "[" + ",".join(chunk) + "]"
            chunk, size = [], 2
        chunk.append(item)
        size += len(item) + 1
    if chunk:
        yield "[" + ",".join(chunk) + "]"


def _supersede(older: Connection, newer_device: UUID | None) -> None:
    """The same device's newer socket replaces; another device's means the seat moved."""
    if newer_device is not None and older.device_id not in (None, newer_device):
        move(older)
    else:
        replace(older)
