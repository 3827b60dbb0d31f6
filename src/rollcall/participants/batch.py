"""Joins, batched: many phones' joins in one transaction, so that a stampede costs one commit.

A join locks its event row until its commit is flushed, so joins of one event are serial and
each waits for a disk flush. The batcher sends whatever joins have arrived as one call of
rollcall_join_many; while that call runs, the next batch gathers. An idle server sends a lone
join at once; a busy one sends hundreds per flush.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from rollcall.db.pool import CONNECT_TIMEOUT_S, borrow

MAX_BATCH = 256
MAX_IN_FLIGHT = 2
GATHER_S = 0.002
"""How long a batch may wait for the joins the last batch's answers will bring back."""
JOIN_WAIT_S = 4.0
"""A join that has not settled by then fails with TimeoutError (503, Retry-After): a phone
waiting on a database that is restarting or overwhelmed hears "try again", not silence.
Its batch may still commit it; the phone's retry is then a rejoin of the same participant."""


@dataclass(frozen=True)
class BatchedJoin:
    """One join, as rollcall_join takes it (its parameters, in order)."""

    code: str
    device_id: UUID
    display_name: str
    name_key: str
    name_skeleton: str
    token_hash: bytes
    room_check: str | None = None  # the 4 digits the phone gave, if any
    recovery_digest: bytes | None = None  # SHA-256 of the recovery code: a seat reclaim
    may_join: bool = True  # False: this address's join limit is reached (rejoins still pass)
    may_guess: bool = True  # False: its guess limit is (no room check, no recovery code)
    generated: bool = False  # the server drew the name (the event's names are generated)
    name_forms: str | None = None  # the name folded for the word filter (wordfilter.name_forms)
    name_listed: bool = False  # the built-in list refuses the name (the default filter)
    team: str | None = None  # the team the phone chose (the event's team_mode is choose)


class JoinBatcher:
    def __init__(self, pool: asyncpg.Pool[Any], *, room_check_s: float = 30.0) -> None:
        self._pool = pool
        self._room_check_s = room_check_s
        self._waiting: list[tuple[BatchedJoin, asyncio.Future[asyncpg.Record]]] = []
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._expected = 1  # the size of the last batch answered
        self._gathering: asyncio.TimerHandle | None = None

    async def join(self, request: BatchedJoin) -> asyncpg.Record:
        """The row rollcall_join returns for this request (its `outcome` says what happened)."""
        future: asyncio.Future[asyncpg.Record] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, future))
        self._send_more()
        return await asyncio.wait_for(future, JOIN_WAIT_S)

    def _send_more(self, *, gathered: bool = False) -> None:
        """Send what waits, in batches, while fewer than MAX_IN_FLIGHT are in flight.

        Clients whose joins were just answered send their next ones a moment later, one by
        one: sent at once, the first would go alone and the rest wait for it. So a batch waits
        until as many joins as the last batch had have arrived, or GATHER_S has passed. An
        idle server's last batch was one join: a lone join goes at once.
        """
        if gathered:
            self._gathering = None
        # Phones that stopped waiting (JOIN_WAIT_S) are not sent: under overload, no work for them.
        self._waiting = [
            (request, future) for request, future in self._waiting if not future.done()
        ]
        if self._gathering is not None:
            if len(self._waiting) < self._expected:
                return
            self._gathering.cancel()
            self._gathering = None
        if self._waiting and len(self._waiting) < self._expected and not gathered:
            if self._in_flight < MAX_IN_FLIGHT:
                self._gathering = asyncio.get_running_loop().call_later(
                    GATHER_S, lambda: self._send_more(gathered=True)
                )
            return
        while self._waiting and self._in_flight < MAX_IN_FLIGHT:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            self._in_flight += 1
            task = asyncio.create_task(self._send(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[tuple[BatchedJoin, asyncio.Future[asyncpg.Record]]]) -> None:
        try:
            requests = [request for request, _ in batch]
            async with borrow(self._pool, wait_s=CONNECT_TIMEOUT_S) as conn:
                rows = await conn.fetch(
                    "SELECT * FROM rollcall_join_many($1::text[], $2::uuid[], $3::text[],"
                    " $4::text[], $5::text[], $6::bytea[], $7::text[], $8::bytea[],"
                    " $9::boolean[], $10::boolean[], $11::double precision, $12::boolean[],"
                    " $13::text[], $14::boolean[], $15::text[])",
                    [r.code for r in requests],
                    [r.device_id for r in requests],
                    [r.display_name for r in requests],
                    [r.name_key for r in requests],
                    [r.name_skeleton for r in requests],
                    [r.token_hash for r in requests],
                    [r.room_check for r in requests],
                    [r.recovery_digest for r in requests],
                    [r.may_join for r in requests],
                    [r.may_guess for r in requests],
                    self._room_check_s,
                    [r.generated for r in requests],
                    [r.name_forms for r in requests],
                    [r.name_listed for r in requests],
                    [r.team for r in requests],
                )
            self._expected = min(MAX_BATCH, len(batch))
            by_position = {row["ord"]: row for row in rows}
            for position, (_, future) in enumerate(batch, start=1):
                if not future.done():
                    future.set_result(by_position[position])
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
        finally:
            self._in_flight -= 1
            self._send_more()
