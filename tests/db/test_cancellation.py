"""Every kind of task that holds a pooled connection, cancelled at many points of its life,
leaves the pool clean (docs/decisions.md, "A task interrupted while it holds a connection").

For each kind, a seeded loop cancels it after a drawn number of event-loop turns or a drawn
time (its statements in flight, a transaction open between two statements), sometimes twice,
while other work borrows from the pool and the driver now and then slows a statement down.
Then no connection is idle in a transaction, every pooled connection answers, and the next
host hello, join and heartbeat flush succeed.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from pydantic import SecretStr
from starlette.routing import WebSocketRoute

from rollcall.db.pool import borrow
from rollcall.protocol import Role
from rollcall.realtime.connection import Connection
from rollcall.realtime.ws import _settle
from rollcall.settings import Settings
from rollcall.webhooks.service import new_secret
from tests.db.pooltools import (
    AsgiSocket,
    Borrowers,
    Served,
    assert_clean,
    interrupt,
    served,
    slow_driver,
)
from tests.factories import HostedEvent, create_event, join
from tests.polling import eventually
from tests.servers import UNLIMITED
from tests.webhooks.receiver import Receiver

SEED = 20261207
ROUNDS = 25
LIFE_S = 0.3
"""A socket lives until it is closed: its first moments (hello, welcome, the first messages)."""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver("slow", delay_s=0.01).start()
    yield started
    started.stop()


@pytest.fixture
def cancel_settings(tmp_path: Path, receiver: Receiver) -> Settings:
    return Settings(
        database_url=None,
        data_dir=tmp_path,
        public_url="http://rollcall.test",
        heartbeat_interval_s=0.5,
        presence_timeout_s=2,
        heartbeat_flush_s=0.2,
        presence_sweep_s=0.2,
        receipt_flush_s=0.2,
        webhook_url=receiver.url,  # every event's messages go to it: the deliverer has work
        webhook_secret=SecretStr(new_secret()),
        **UNLIMITED,
    )


@pytest.fixture
async def app(cancel_settings: Settings, database_url: str) -> AsyncIterator[Served]:
    async with served(cancel_settings, database_url) as running:
        yield running


async def _participant(app: Served, event: HostedEvent) -> tuple[uuid.UUID, str]:
    joined = await join(app.http, event.code)
    assert joined.status_code == 201, joined.text
    body = joined.json()
    return uuid.UUID(body["participant"]["id"]), body["session_token"]


async def _until_cancelled(socket: AsgiSocket, handler: asyncio.Task[None]) -> None:
    """Wait on the socket's handler; a cancellation of this wait is passed on to it.

    Python 3.11's wait_for may swallow a cancellation that lands as what it waits for
    completes (the hello already received): the handler then goes on reading. The client
    hangs up afterwards, as it would, so that the handler ends either way.
    """
    try:
        await asyncio.wait([handler])
    except asyncio.CancelledError:
        handler.cancel()
        raise
    finally:
        socket.hang_up()
        await asyncio.wait_for(asyncio.shield(handler), 10)


# -- the kinds of task, each a coroutine to start and cancel ---------------------------------


async def _http_join(app: Served, event: HostedEvent) -> Callable[[], Awaitable[object]]:
    """A phone's join whose request is abandoned, and the batcher's sends cancelled with it
    (as at a shutdown)."""

    async def work() -> None:
        try:
            await join(app.http, event.code)
        finally:
            for task in list(app.runtime.joins._tasks):
                task.cancel()

    return work


async def _http_state(app: Served, event: HostedEvent) -> Callable[[], Awaitable[object]]:
    """A route on the Conn dependency that writes in a transaction: the event state."""
    counter = iter(range(1_000_000))

    async def work() -> None:
        await app.http.patch(
            f"/api/events/{event.code}/state",
            json={"round": next(counter)},
            headers=event.host_headers,
        )

    return work


async def _host_socket(app: Served, event: HostedEvent) -> Callable[[], Awaitable[object]]:
    """A host socket: its hello (the lookup in a transaction), its room checks, the registry."""

    async def work() -> None:
        socket = AsgiSocket(app.app)
        hello = {"type": "hello", "role": "host", "event": event.code, "token": event.host_token}
        await _until_cancelled(socket, socket.run(hello))

    return work


async def _participant_socket(app: Served, event: HostedEvent) -> Callable[[], Awaitable[object]]:
    """A phone's socket: hello, away and back (a settling task), a receipt and an action."""
    _, token = await _participant(app, event)
    counter = iter(range(1_000_000))

    async def work() -> None:
        socket = AsgiSocket(app.app)
        task = socket.run({"type": "hello", "token": token})
        for kind in ("away", "back", "away", "back", "heartbeat"):
            socket.say({"type": kind})
        socket.say({"type": "seen", "event_version": 1})
        socket.say({"type": "action", "id": f"a{next(counter)}", "name": "tap"})
        await _until_cancelled(socket, task)

    return work


async def _settling(app: Served, event: HostedEvent) -> Callable[[], Awaitable[object]]:
    """The settling task alone (what a closing socket cancels), around its presence write."""
    participant_id, _ = await _participant(app, event)
    async with borrow(app.pool) as conn:
        event_id = await conn.fetchval("SELECT id FROM events WHERE code = $1", event.code)

    async def work() -> None:
        connection = Connection(
            websocket=None,  # type: ignore[arg-type]
            role=Role.PARTICIPANT,
            event_id=event_id,
            participant_id=participant_id,
        )
        connection.away = not connection.away
        await _settle(app.runtime, connection, 0.0)

    return work


async def _heartbeat_flush(app: Served, event: HostedEvent) -> Callable[[], Awaitable[object]]:
    ids = [(await _participant(app, event))[0] for _ in range(3)]

    async def work() -> None:
        for participant_id in ids:
            app.runtime.heartbeats.socket_opened(participant_id)
        await app.runtime.heartbeats.flush()

    return work


async def _receipt_flush(app: Served, event: HostedEvent) -> Callable[[], Awaitable[object]]:
    ids = [(await _participant(app, event))[0] for _ in range(3)]

    async def work() -> None:
        for participant_id in ids:
            app.runtime.receipts.seen(participant_id, event_version=0, version=0)
        await app.runtime.receipts.flush()

    return work


async def _sweeper(app: Served, event: HostedEvent) -> Callable[[], Awaitable[object]]:
    await _participant(app, event)
    return app.runtime.sweeper.run_once


async def _retention(app: Served, event: HostedEvent) -> Callable[[], Awaitable[object]]:
    return app.runtime.retention.run_once


async def _webhook_deliverer(app: Served, event: HostedEvent) -> Callable[[], Awaitable[object]]:
    """The deliverer's lead task and its streams, cancelled as a stop cancels them."""
    deliverer = app.runtime.webhooks

    async def work() -> None:
        if deliverer._task is not None:
            deliverer._task.cancel()
            with suppress(asyncio.CancelledError):
                await deliverer._task
        deliverer.start()
        await join(app.http, event.code)
        await asyncio.sleep(0.05)
        assert deliverer._task is not None
        deliverer._task.cancel()
        await asyncio.gather(deliverer._task, return_exceptions=True)

    return work


async def _fanout_reads(app: Served, event: HostedEvent) -> Callable[[], Awaitable[object]]:
    """Fan-out's reads of the log for a host, cancelled wherever they are (as a stop does)."""
    sockets = next(
        route.endpoint.__self__  # type: ignore[attr-defined]
        for route in app.app.router.routes
        if isinstance(route, WebSocketRoute)
    )
    fanout = sockets._hub._fanout
    host = AsgiSocket(app.app)
    host.run({"type": "hello", "role": "host", "event": event.code, "token": event.host_token})
    await host.first("welcome")

    async def work() -> None:
        try:
            await join(app.http, event.code)  # a message the host's process reads at once
            await asyncio.sleep(0.05)
        finally:
            for task in list(fanout._tasks):
                task.cancel()

    return work


KINDS: dict[str, Callable[[Served, HostedEvent], Awaitable[Callable[[], Awaitable[object]]]]] = {
    "http join": _http_join,
    "http event state": _http_state,
    "host socket": _host_socket,
    "participant socket": _participant_socket,
    "settling": _settling,
    "heartbeat flush": _heartbeat_flush,
    "receipt flush": _receipt_flush,
    "sweeper": _sweeper,
    "retention": _retention,
    "webhook deliverer": _webhook_deliverer,
    "fan-out reads": _fanout_reads,
}


@pytest.mark.parametrize("kind", list(KINDS))
async def test_a_task_cancelled_anywhere_leaves_the_pool_clean(
    app: Served, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(f"{SEED}:{kind}")
    event = await create_event(
        app.http, title=f"Cancelled {kind}", room_check=kind == "host socket"
    )
    work = await KINDS[kind](app, event)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with suppress(Exception):  # once whole (a socket: its first moments)
        await asyncio.wait_for(work(), LIFE_S)
    life_s = min(max(loop.time() - started, 0.005), LIFE_S)
    slow_driver(monkeypatch, rng)
    others = Borrowers(app.pool)
    for _ in range(ROUNDS):
        await interrupt(work, rng, within_s=1.5 * life_s)
    failures = await others.stop()
    monkeypatch.undo()
    assert others.done > 0
    assert not failures, f"other work failed beside the cancellations: {failures[:5]}"
    await assert_clean(app)


async def test_a_graceful_stop_lets_a_flush_under_way_finish(app: Served) -> None:
    """A stop that comes while a heartbeat flush waits on a row lock waits for that flush,
    instead of cancelling its statement and losing the beats it carried."""
    event = await create_event(app.http, title="Stop mid-flush")
    participant_id, _ = await _participant(app, event)
    heartbeats = app.runtime.heartbeats
    await heartbeats.flush()  # the join's own beat out of the way
    holder = await asyncpg.connect(app.database_url)
    count = "SELECT connections FROM event_participants WHERE id = $1"
    try:
        before = await holder.fetchval(count, participant_id)
        locking = holder.transaction()
        await locking.start()
        await holder.execute(
            "SELECT 1 FROM event_participants WHERE id = $1 FOR UPDATE", participant_id
        )
        heartbeats.socket_opened(participant_id)
        await _until_waiting_on_a_lock(holder)  # the periodic flush is in its UPDATE
        stopping = asyncio.create_task(heartbeats.stop())
        # Cancelled, the flush would let go of its statement and stop would end at once.
        await asyncio.wait([stopping], timeout=0.5)
        await locking.rollback()
        await asyncio.wait_for(stopping, 10)
        after = await holder.fetchval(count, participant_id)
    finally:
        await holder.close()
    assert after == before + 1, "the socket opened during the stop was written"


async def _until_waiting_on_a_lock(observer: asyncpg.Connection[Any]) -> None:
    async def waiting() -> int:
        return int(
            await observer.fetchval(
                """SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
                AND application_name = 'rollcall' AND wait_event_type = 'Lock'"""
            )
        )

    await eventually(waiting, timeout=5, interval=0.01, what="a statement waiting on the lock")
