"""Heartbeats, buffered: each process collects them and writes them in one statement a flush.

A thousand phones beating every second cost one UPDATE a second, not a thousand. The buffer
keeps only the latest beat per participant, and counts the sockets each participant opened
(attendance's `connections`), written by the same statement; a graceful stop flushes what is
left.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from rollcall import metrics
from rollcall.background import Periodic
from rollcall.db.pool import UNAVAILABLE_ERRORS

log = logging.getLogger(__name__)

FLUSH_SQL = """
UPDATE event_participants AS p
SET last_heartbeat = greatest(p.last_heartbeat, b.at), connections = p.connections + b.opened
FROM unnest($1::uuid[], $2::timestamptz[], $3::bigint[]) AS b(id, at, opened)
WHERE p.id = b.id AND (p.last_heartbeat < b.at OR b.opened > 0)
"""


class HeartbeatBuffer:
    def __init__(self, pool: asyncpg.Pool[Any], *, flush_interval_s: float) -> None:
        self._pool = pool
        self._pending: dict[UUID, datetime] = {}
        self._opened: Counter[UUID] = Counter()  # sockets opened since the last flush
        self._loop = Periodic("heartbeat flush", self.flush, flush_interval_s)
        self._lock = asyncio.Lock()

    async def beat(self, participant_id: UUID) -> None:
        self._pending[participant_id] = datetime.now(UTC)

    async def socket_opened(self, participant_id: UUID) -> None:
        """The participant opened a socket: a beat, and one more connection to count."""
        self._pending[participant_id] = datetime.now(UTC)
        self._opened[participant_id] += 1

    async def flush(self) -> int:
        """Write every pending beat in one statement; returns how many were written."""
        async with self._lock:
            if not self._pending:
                return 0
            batch, self._pending = self._pending, {}
            opened, self._opened = self._opened, Counter()
            try:
                async with self._pool.acquire() as conn:
                    counts = [opened[p] for p in batch] if opened else [0] * len(batch)
                    await conn.execute(FLUSH_SQL, list(batch), list(batch.values()), counts)
                metrics.HEARTBEATS_FLUSHED.inc(len(batch))
            except UNAVAILABLE_ERRORS:
                # Keep the beats for the next flush, unless newer ones came meanwhile, and
                # every socket still to count.
                for participant_id, at in batch.items():
                    self._pending.setdefault(participant_id, at)
                self._opened.update(opened)
                raise
            return len(batch)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        """Stop the loop and write what is still buffered: a graceful stop loses no beat."""
        await self._loop.stop()
        try:
            await self.flush()
        except UNAVAILABLE_ERRORS:
            log.warning("could not write %d buffered heartbeats at stop", len(self._pending))
