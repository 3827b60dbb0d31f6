"""A slow crowd: 200 sockets trickle headers and bodies, byte by byte, reconnecting whenever
they are cut off, while 500 phones join and beat. Every phone gets in, nothing answers 503.

Half the crowd sends its header blocks slowly, the other half its bodies: heartbeats of an
approval event's pending participant, and joins. The deadlines are 3 s here, so each slow
socket is cut off and comes back several times during the drill.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.factories import bearer, create_event, join
from tests.faults.conftest import Phone, bounded
from tests.pg import PgServer
from tests.polling import eventually
from tests.rawhttp import Raw, head
from tests.servers import RollcallServer, rollcall_server

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

SLOW_SOCKETS = 200
PHONES = 500
BEATS = 2
IN_FLIGHT = 50
DEADLINE_S = 3


@pytest.fixture
def server(pg: PgServer, tmp_path: Path) -> Iterator[RollcallServer]:
    with (
        pg.fresh_database(migrated=True) as url,
        rollcall_server(
            url, tmp_path, header_timeout_s=DEADLINE_S, body_timeout_s=DEADLINE_S
        ) as running,
    ):
        yield running


class Crowd:
    """The slow sockets: how many are open now (and at most), how often they were cut off."""

    def __init__(self) -> None:
        self.open = 0
        self.most_open = 0
        self.cut = Counter[str]()
        self.stop = asyncio.Event()

    async def hold(self, server: RollcallServer, kind: str, request: bytes, at_once: int) -> None:
        """Send `at_once` bytes, then a byte every 0.5 s; when cut off, connect again."""
        while not self.stop.is_set():
            raw = await Raw.open(server)
            closed = asyncio.ensure_future(raw.reader.read(-1))
            self.open += 1
            self.most_open = max(self.most_open, self.open)
            try:
                await raw.send(request[:at_once])
                for byte in request[at_once:]:
                    await asyncio.wait({closed}, timeout=0.5)
                    if closed.done() or self.stop.is_set():
                        break
                    await raw.send(bytes([byte]))
            except ConnectionError:
                pass
            finally:
                self.open -= 1
                if closed.done():
                    self.cut[kind] += 1
                closed.cancel()
                raw.close()


async def _phone(client: httpx.AsyncClient, server: RollcallServer, code: str) -> list[int]:
    """A phone joins and beats; the statuses it got (0 for a request that failed)."""
    joined = await Phone().join(client, server.base_url, code)
    statuses = [joined.status or 0]
    token = joined.body.get("session_token")
    for _ in range(BEATS if token else 0):
        try:
            beat = await client.post(
                f"{server.base_url}/api/session/heartbeat", json={}, headers=bearer(token)
            )
            statuses.append(beat.status_code)
        except httpx.HTTPError:
            statuses.append(0)
    return statuses


async def _probe(
    client: httpx.AsyncClient, server: RollcallServer, stop: asyncio.Event
) -> Counter[int]:
    """/healthz twice a second while the phones come in."""
    seen = Counter[int]()
    while not stop.is_set():
        seen[(await client.get(f"{server.base_url}/healthz")).status_code] += 1
        await asyncio.wait({asyncio.ensure_future(stop.wait())}, timeout=0.5)
    return seen


async def test_a_slow_crowd_leaves_every_phone_in(server: RollcallServer) -> None:
    async with httpx.AsyncClient(
        base_url=server.base_url,
        timeout=30,
        limits=httpx.Limits(max_connections=IN_FLIGHT + 2),
    ) as client:
        lobby = await create_event(client, admission="approval")
        pending = (await join(client, lobby.code)).json()["session_token"]
        event = await create_event(client, capacity=PHONES)
        slow_headers = (
            f"GET /api/events/{event.code} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            "User-Agent: a slow crowd\r\n\r\n"
        ).encode()
        slow_beat = head(server, "/api/session/heartbeat", length=40, token=pending)
        slow_join = head(server, f"/api/events/{event.code}/join", length=40)
        crowd = Crowd()
        holders = [
            asyncio.create_task(crowd.hold(server, "headers", slow_headers, 10))
            for _ in range(SLOW_SOCKETS // 2)
        ]
        holders += [
            asyncio.create_task(
                crowd.hold(server, "bodies", body + b"{" + b" " * 39, len(body) + 1)
            )
            for number in range(SLOW_SOCKETS // 2)
            for body in [slow_beat if number % 2 else slow_join]
        ]

        async def crowd_connected() -> bool:
            return crowd.open >= SLOW_SOCKETS

        # Every slow socket connected before the phones come.
        await eventually(crowd_connected, timeout=30, what=f"{SLOW_SOCKETS} slow sockets open")
        probes_stop = asyncio.Event()
        probes = asyncio.create_task(_probe(client, server, probes_stop))
        started = time.monotonic()
        phones = await bounded(
            IN_FLIGHT, [_phone(client, server, event.code) for _ in range(PHONES)]
        )
        seconds = time.monotonic() - started
        probes_stop.set()
        health = await probes
        crowd.stop.set()
        await asyncio.gather(*holders)
        read = await client.get(f"/api/events/{event.code}")

    joins = Counter(statuses[0] for statuses in phones)
    beats = Counter(status for statuses in phones for status in statuses[1:])
    assert joins == {201: PHONES}, joins
    assert beats == {200: PHONES * BEATS}, beats
    assert set(health) == {200}, health
    assert crowd.most_open >= SLOW_SOCKETS, crowd.most_open
    if seconds > DEADLINE_S + 1:  # long enough for the deadlines to have cut the crowd off
        assert crowd.cut["headers"] > 0 and crowd.cut["bodies"] > 0, crowd.cut
    assert read.json()["counts"]["active"] == PHONES, read.json()
    assert "Traceback" not in server.log(), server.log()[-3000:]
