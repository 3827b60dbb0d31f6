"""Fan-out keeps each socket's stream whole and in order, whatever the timing of its arrival.

A socket that arrives while a read of its event's log is under way, with an older last seq than
that read starts from (a host resuming after its process died), must get what it missed before
anything newer: never the newest messages first and the missed ones not at all. The read is held
open here so that the socket arrives exactly then; the log is a list in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any, cast
from uuid import UUID, uuid4

import pytest

from rollcall import event_log
from rollcall.protocol import HostMessage, Role
from rollcall.realtime.connection import Connection, Encoded
from rollcall.realtime.fanout import Fanout
from rollcall.realtime.registry import Registry

EVENT = uuid4()
LOG: list[dict[str, Any]] = [
    {"type": HostMessage.EVENT_UPDATED, "seq": seq, "event": {"status": "open"}}
    for seq in range(1, 17)
]


class HeldLog:
    """event_log.messages_after over LOG; the first read waits until it is let go."""

    def __init__(self) -> None:
        self.first_read_started = asyncio.Event()
        self.let_go = asyncio.Event()
        self.reads: list[int] = []

    async def messages_after(
        self, conn: object, *, event_id: UUID, since: int, limit: int = 1000
    ) -> list[dict[str, Any]]:
        self.reads.append(since)
        if len(self.reads) == 1:
            self.first_read_started.set()
            await self.let_go.wait()
        return [m for m in LOG if m["seq"] > since][:limit]


class NoPool:
    @contextlib.asynccontextmanager
    async def acquire(self, **_: object) -> AsyncIterator[None]:
        yield None


def _host(last_seq: int) -> Connection:
    return Connection(websocket=cast(Any, None), role=Role.HOST, event_id=EVENT, last_seq=last_seq)


def _seqs(connection: Connection) -> list[int]:
    seqs = []
    while not connection.queue.empty():
        item = connection.queue.get_nowait()
        assert isinstance(item, Encoded)
        seqs.append(json.loads(item.text)["seq"])
    return seqs


async def test_a_host_arriving_behind_a_read_under_way_gets_every_message_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    held = HeldLog()
    monkeypatch.setattr(event_log, "messages_after", held.messages_after)
    pool = cast(Any, NoPool())
    registry = Registry(pool)
    fanout = Fanout(pool, registry)

    current = _host(last_seq=10)  # has seen through seq 10
    registry.add(current)
    fanout.register(current)
    await asyncio.wait_for(held.first_read_started.wait(), 5)  # reading after 10, held open

    resuming = _host(last_seq=5)  # arrives behind that read
    registry.add(resuming)
    fanout.register(resuming)
    held.let_go.set()

    async with asyncio.timeout(5):
        while resuming.last_seq < 16 or current.last_seq < 16:
            await asyncio.sleep(0.01)
    assert _seqs(current) == list(range(11, 17))
    assert _seqs(resuming) == list(range(6, 17))
    fanout.stop()
