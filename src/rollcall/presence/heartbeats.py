"""Heartbeats, buffered: each process collects them and writes them in one statement a flush.

A thousand phones beating every second cost one UPDATE a second, not a thousand. The buffer
keeps only the latest beat per participant, and how many sockets it opened since the last
flush (the attendance's connections); a graceful stop flushes what is left.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple
from uuid import UUID

import asyncpg

from rollcall import metrics
from rollcall.background import WriteBuffer
from rollcall.db.pool import DB

FLUSH_SQL = """
UPDATE event_participants AS p
SET last_heartbeat = greatest(p.last_heartbeat, b.at), connections = p.connections + b.opened
FROM unnest($1::uuid[], $2::timestamptz[], $3::bigint[]) AS b(id, at, opened)
WHERE p.id = b.id AND (p.last_heartbeat < b.at OR b.opened > 0)
"""


class Beat(NamedTuple):
    at: datetime
    opened: int = 0  # sockets the participant opened since the last flush


class HeartbeatBuffer(WriteBuffer[Beat]):
    def __init__(self, pool: asyncpg.Pool[Any], *, flush_interval_s: float) -> None:
        super().__init__(pool, name="heartbeat flush", flush_interval_s=flush_interval_s)

    def beat(self, participant_id: UUID) -> None:
        self.put(participant_id, Beat(datetime.now(UTC)))

    def socket_opened(self, participant_id: UUID) -> None:
        """The participant opened a socket: a beat, and one more connection to count."""
        self.put(participant_id, Beat(datetime.now(UTC), 1))

    def merge(self, old: Beat, new: Beat) -> Beat:
        """The newest beat, and every socket opened: none is lost to a later beat."""
        return Beat(max(old.at, new.at), old.opened + new.opened)

    async def write(self, conn: DB, batch: dict[UUID, Beat]) -> None:
        beats = batch.values()
        await conn.execute(FLUSH_SQL, list(batch), [b.at for b in beats], [b.opened for b in beats])
        metrics.HEARTBEATS_FLUSHED.inc(len(batch))
