"""Receipts for the hosts of this process: how many have shown the event state, live.

What may change an event's receipts: a process wrote `seen` reports (its receipt flush NOTIFYs
the events it touched, on RECEIPTS_CHANNEL), the event state changed, or someone joined,
left or was removed (the event log's notifications). Each marks the event, and a round counts
every marked event that is due, in one query; each host gets
`{"type":"receipts","event_version","seen","of"}` when the count differs from the last one it
got (once the event has a state: before its first version there is nothing to have seen). It
is not logged and not replayed: a host's welcome carries the current one.

When an event is due: a mark waits GATHER_S for the marks close behind it (every process
writes the receipts of one change once its phones have all reported it, or one flush interval
after it, within moments of each other), never more than MAX_WAIT_S after the first, so that
each message says as much as it can. An event's hosts get at most one message a second for one
event-state version, and besides it the count that says everyone has it, at once. The first
count of a new version is not held back by the one before (with a change every second, each
version's count would otherwise always land after the next change); it goes out as soon as
everyone has reported the version, or else SETTLE_MARGIN_S past one flush interval after the
change, with what it says then, so that the one message of that second says as much as it can.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any
from uuid import UUID

import asyncpg

from rollcall.db.pool import UNAVAILABLE_ERRORS, borrow
from rollcall.live import receipts
from rollcall.live.schemas import Receipts
from rollcall.protocol import HostMessage, ServerMessage
from rollcall.realtime.connection import Encoded
from rollcall.realtime.registry import Registry

log = logging.getLogger(__name__)

RECEIPTS_EVERY_S = 1.0
"""A host gets its event's receipts for one event-state version at most this often."""

GATHER_S = 0.03
"""How long a count waits for further marks after one (each pushes it back, to MAX_WAIT_S)."""

SETTLE_MARGIN_S = 0.35
"""How long past one flush interval a new state's count waits for receipts still coming."""

MAX_WAIT_S = 1.0
"""An event is counted at most this long after its first mark since it was last counted."""

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
    def __init__(
        self, pool: asyncpg.Pool[Any], registry: Registry, *, receipt_flush_s: float
    ) -> None:
        self._pool = pool
        self._registry = registry
        # A new state's count goes out by then, whatever it says: its burst of receipts is
        # written at most a flush interval after the phones got it, on every process.
        self._settle_s = receipt_flush_s + SETTLE_MARGIN_S
        self._due: dict[UUID, float] = {}  # events to count, and when (the loop's time)
        self._gather: dict[UUID, float] = {}  # when the marks gathered so far are due
        self._first: dict[UUID, float] = {}  # the first of them
        self._fallback: dict[UUID, float] = {}  # a new state, counted by then whatever comes
        self._sent: dict[UUID, tuple[int, float, bool]] = {}  # the last: version, when, everyone
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._round: asyncio.Task[None] | None = None
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
        if kind == HostMessage.EVENT_STATE:
            self.fall_back(event_id)
        elif kind is None or kind in CHANGES_RECEIPTS:
            self.mark(event_id)

    def host_arrived(self, event_id: UUID) -> None:
        """A host connected with the receipts in its welcome: count again once, for a change
        made between the welcome's read and now (sent only if it differs)."""
        self.mark(event_id)

    def forget(self, event_id: UUID) -> None:
        """A socket of the event left; when it was the last host here, nothing is due."""
        if not self._registry.has_host(event_id):
            for pending in (self._due, self._gather, self._first, self._fallback, self._sent):
                pending.pop(event_id, None)

    def mark(self, event_id: UUID) -> None:
        """Count the event's receipts again, GATHER_S after the last of the marks close together
        (but no more than MAX_WAIT_S after the first)."""
        if self._stopped or not self._registry.has_host(event_id):
            return
        now = asyncio.get_running_loop().time()
        first = self._first.setdefault(event_id, now)
        gather = min(max(now + GATHER_S, self._gather.get(event_id, 0.0)), first + MAX_WAIT_S)
        self._gather[event_id] = gather
        self._set_due(event_id)

    def fall_back(self, event_id: UUID) -> None:
        """A new event state: its hosts hear of it once every active participant has reported
        it, or `_settle_s` from now with whatever the count says then."""
        if self._stopped or not self._registry.has_host(event_id):
            return
        self._fallback[event_id] = asyncio.get_running_loop().time() + self._settle_s
        # Marks of the version before (a count held back by its pace) no longer matter.
        self._gather.pop(event_id, None)
        self._first.pop(event_id, None)
        self._set_due(event_id)

    def _set_due(self, event_id: UUID) -> None:
        """Due at the earlier of the gathered marks' time and the new state's fallback."""
        times = [t for t in (self._gather.get(event_id), self._fallback.get(event_id)) if t]
        if times:
            self._due[event_id] = min(times)
            self._arm()

    def _arm(self) -> None:
        """The timer for the earliest due event (a round under way arms it when it ends)."""
        if self._round is not None or self._stopped or not self._due:
            return
        due = min(self._due.values())
        if self._timer is not None:
            if self._timer_at == due:
                return
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        self._timer_at = due
        self._timer = loop.call_later(max(0.0, due - loop.time()), self._start_round)

    def _start_round(self) -> None:
        self._timer = None
        self._timer_at = None
        if not self._stopped:
            self._round = asyncio.create_task(self._count(), name="receipts")

    async def _count(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            started = loop.time()
            ready = [event_id for event_id, due in self._due.items() if due <= started]
            for event_id in ready:
                del self._due[event_id]
                self._gather.pop(event_id, None)
                self._first.pop(event_id, None)
            marked = [event_id for event_id in ready if self._registry.has_host(event_id)]
            if not marked:
                return
            try:
                async with borrow(self._pool) as conn:
                    counted = await receipts.summaries(conn, event_ids=marked)
            except UNAVAILABLE_ERRORS as exc:
                log.warning("receipts not counted: %s", type(exc).__name__)
                for event_id in marked:
                    self._gather[event_id] = started + RECEIPTS_EVERY_S
                    self._set_due(event_id)
                return
            for event_id, now in counted.items():
                self._tell(event_id, now, loop.time())
        finally:
            self._round = None
            self._arm()

    def _tell(self, event_id: UUID, now: Receipts, at: float) -> None:
        """Send the hosts this count, unless it is too soon or says nothing yet."""
        if now.event_version == 0:
            return  # no event state yet: nothing to have seen
        last = self._sent.get(event_id)
        everyone = now.seen >= now.of
        if last is not None and last[0] == now.event_version:
            # One message a second for one version; "everyone has it" is never held back.
            if at < last[1] + RECEIPTS_EVERY_S and (last[2] or not everyone):
                self._gather[event_id] = last[1] + RECEIPTS_EVERY_S
                self._set_due(event_id)
                return
        elif not everyone and at < self._fallback.get(event_id, at):
            self._set_due(event_id)  # a new state not everyone has reported: more, or later
            return
        self._fallback.pop(event_id, None)
        message = Encoded({"type": ServerMessage.RECEIPTS, **now.model_dump()})
        for host in self._registry.hosts_of(event_id):
            if host.receipts != now:
                host.receipts = now
                host.send(message)
                self._sent[event_id] = (now.event_version, at, everyone)

    async def stop(self) -> None:
        """No more rounds; one under way ends by itself (never cancelled in its query)."""
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._round is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._round), timeout=STOP_WAIT_S)
