"""Receipts for the hosts of this process: how many have shown the event state, at most once a second.

What may change an event's receipts: a process wrote `seen` reports (its receipt flush NOTIFYs
the events it touched, on RECEIPTS_CHANNEL), the event state changed, or someone joined,
left or was removed (the event log's notifications). Each marks the event; at most once every
RECEIPTS_EVERY_S, one query counts every marked event that has a host here, and each host
gets `{"type":"receipts","event_version","seen","of"}` when the count differs from the last
one it got (once the event has a state: before its first version there is nothing to have
seen). It is not logged and not replayed: a host's welcome carries the current one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any
from uuid import UUID

import asyncpg

from rollcall.db.pool import UNAVAILABLE_ERRORS
from rollcall.live import receipts
from rollcall.protocol import HostMessage, ServerMessage
from rollcall.realtime.connection import Encoded
from rollcall.realtime.registry import Registry

log = logging.getLogger(__name__)

RECEIPTS_EVERY_S = 1.0
"""A host gets its event's receipts at most this often."""

STOP_WAIT_S = 5.0
"""How long stopping waits for a count under way (never cancelled in its query)."""

CHANGES_RECEIPTS = frozenset(
    {
        HostMessage.JOINED,
        HostMessage.REJOINED,
        HostMessage.LEFT,
        HostMessage.KICKED,
        HostMessage.EVENT_STATE,
    }
)
"""Log messages that may change `seen` or `of` (a notification without a type may too)."""


class ReceiptsFeed:
    def __init__(self, pool: asyncpg.Pool[Any], registry: Registry) -> None:
        self._pool = pool
        self._registry = registry
        self._dirty: set[UUID] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._round: asyncio.Task[None] | None = None
        self._next_at = 0.0  # the loop's time before which no round starts
        self._stopped = False

    def on_receipts(self, payload: str) -> None:
        """A process wrote receipts of these events (a JSON array of their ids)."""
        try:
            ids = [UUID(str(event_id)) for event_id in json.loads(payload)]
        except (ValueError, TypeError):
            return
        for event_id in ids:
            self.mark(event_id)

    def on_log(self, event_id: UUID, kind: object) -> None:
        """A message was logged for the event (`kind` None: a notification without a type)."""
        if kind is None or kind in CHANGES_RECEIPTS:
            self.mark(event_id)

    def host_arrived(self, event_id: UUID) -> None:
        """A host connected with the receipts in its welcome: count again once, for a change
        made between the welcome's read and now (sent only if it differs)."""
        self.mark(event_id)

    def forget(self, event_id: UUID) -> None:
        """A socket of the event left; when it was the last host here, nothing is due."""
        if not self._registry.has_host(event_id):
            self._dirty.discard(event_id)

    def mark(self, event_id: UUID) -> None:
        if self._stopped or not self._registry.has_host(event_id):
            return
        self._dirty.add(event_id)
        self._schedule()

    def _schedule(self) -> None:
        if self._timer is not None or self._round is not None:
            return  # a round is due or under way; one under way schedules the next
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(max(0.0, self._next_at - loop.time()), self._start_round)

    def _start_round(self) -> None:
        self._timer = None
        if not self._stopped:
            self._round = asyncio.create_task(self._count(), name="receipts")

    async def _count(self) -> None:
        try:
            self._next_at = asyncio.get_running_loop().time() + RECEIPTS_EVERY_S
            marked = [e for e in self._dirty if self._registry.has_host(e)]
            self._dirty.clear()
            if not marked:
                return
            try:
                async with self._pool.acquire() as conn:
                    counted = await receipts.summaries(conn, event_ids=marked)
            except UNAVAILABLE_ERRORS as exc:
                log.warning("receipts not counted: %s", type(exc).__name__)
                self._dirty.update(marked)
                return
            for event_id, now in counted.items():
                if now.event_version == 0:
                    continue  # no event state yet: nothing to have seen
                message = Encoded({"type": ServerMessage.RECEIPTS, **now.model_dump()})
                for host in self._registry.hosts_of(event_id):
                    if host.receipts != now:
                        host.receipts = now
                        host.send(message)
        finally:
            self._round = None
            if self._dirty and not self._stopped:
                self._schedule()

    async def stop(self) -> None:
        """No more rounds; one under way ends by itself (never cancelled in its query)."""
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._round is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._round), timeout=STOP_WAIT_S)
