"""One of three `rollcall serve` processes is killed (SIGKILL) under 1,000 phones and a host.

The phones and the host reconnect to the other two, as the pages do (backoff with jitter;
here the phones try the three ports in turn, as a load balancer would send them on). Nobody
is shown offline wrongly, and the host's stream, resumed with `since`, has no gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import resource
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from rollcall.protocol import ClientMessage, HostMessage, ServerMessage
from tests.factories import create_event
from tests.faults.conftest import bounded
from tests.pg import PgServer
from tests.polling import eventually
from tests.servers import RollcallServer, rollcall_server

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

PHONES = 1_000
IN_FLIGHT = 32
# The default timings: beats every 10 s, offline after 30 s without one, flush and sweep each second.
TIMINGS = {
    "heartbeat_interval_s": 10,
    "presence_timeout_s": 30,
    "heartbeat_flush_s": 1,
    "presence_sweep_s": 1,
}
RECONNECT_DEADLINE_S = 30


def backoff_s(attempt: int) -> float:
    """live.js's backoff: 0.5 s doubling up to 15 s, the upper half of it at random."""
    ceiling = min(15.0, 0.5 * 2**attempt)
    return ceiling / 2 + random.random() * ceiling / 2


@dataclass
class Phone:
    token: str
    welcomes: list[int] = field(default_factory=list)  # the port of each welcome
    closed_by_server: list[int] = field(default_factory=list)

    async def live(self, ports: list[int], stop: asyncio.Event) -> None:
        """Stay connected until `stop`, moving to the next port whenever a connection is lost."""
        turn, attempt = 0, 0
        while not stop.is_set():
            port = ports[turn % len(ports)]
            try:
                async with websockets.connect(
                    f"ws://127.0.0.1:{port}/ws", open_timeout=10, max_size=2**20
                ) as ws:
                    await ws.send(json.dumps({"type": ClientMessage.HELLO, "token": self.token}))
                    welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    assert welcome["type"] == ServerMessage.WELCOME, welcome
                    self.welcomes.append(port)
                    attempt = 0
                    while not stop.is_set():
                        await ws.send(json.dumps({"type": ClientMessage.HEARTBEAT}))
                        beat_at = time.monotonic() + TIMINGS["heartbeat_interval_s"]
                        while (left := beat_at - time.monotonic()) > 0 and not stop.is_set():
                            with contextlib.suppress(TimeoutError):  # recv() may be cancelled
                                await asyncio.wait_for(ws.recv(), min(left, 0.5))
            except (ConnectionClosed, InvalidHandshake, OSError, TimeoutError) as lost:
                if isinstance(lost, ConnectionClosed) and lost.rcvd is not None:
                    self.closed_by_server.append(lost.rcvd.code)
                if stop.is_set():
                    return
                turn += 1
                with contextlib.suppress(TimeoutError):  # the backoff, cut short by `stop`
                    await asyncio.wait_for(stop.wait(), backoff_s(attempt))
                attempt += 1


@dataclass
class Host:
    code: str
    token: str
    seqs: list[int] = field(default_factory=list)
    welcomes: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    first_seq: int | None = None

    @property
    def last_seq(self) -> int:
        return self.seqs[-1] if self.seqs else (self.first_seq or 0)

    async def live(self, ports: list[int], stop: asyncio.Event) -> None:
        turn, attempt = 0, 0
        while not stop.is_set():
            port = ports[turn % len(ports)]
            hello: dict[str, Any] = {
                "type": ClientMessage.HELLO,
                "role": "host",
                "event": self.code,
                "token": self.token,
            }
            if self.first_seq is not None:
                hello["since"] = self.last_seq
            try:
                async with websockets.connect(
                    f"ws://127.0.0.1:{port}/ws", open_timeout=10, max_size=2**22
                ) as ws:
                    await ws.send(json.dumps(hello))
                    welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    assert welcome["type"] == ServerMessage.WELCOME, welcome
                    self.welcomes.append({**welcome, "participants": None, "port": port})
                    if self.first_seq is None:
                        self.first_seq = welcome["seq"]
                    attempt = 0
                    while not stop.is_set():
                        try:
                            message = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                        except TimeoutError:
                            continue
                        if "seq" in message:
                            self.seqs.append(message["seq"])
                            self.messages.append(message)
            except (ConnectionClosed, InvalidHandshake, OSError, TimeoutError):
                if stop.is_set():
                    return
                turn += 1
                with contextlib.suppress(TimeoutError):  # the backoff, cut short by `stop`
                    await asyncio.wait_for(stop.wait(), backoff_s(attempt))
                attempt += 1


async def _wait_for(condition: Any, timeout: float, what: str) -> None:
    async def holds() -> bool:
        return bool(condition())

    await eventually(holds, timeout=timeout, interval=0.1, what=what)


async def test_a_killed_process_costs_no_one_their_presence_and_the_host_no_message(
    pg: PgServer, tmp_path: Path
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    with (
        pg.fresh_database(migrated=True) as url,
        rollcall_server(url, tmp_path, **TIMINGS) as victim,
        rollcall_server(url, tmp_path, **TIMINGS) as second,
        rollcall_server(url, tmp_path, **TIMINGS) as third,
    ):
        servers: list[RollcallServer] = [victim, second, third]
        # Until the kill, everyone (re)connects to the victim only; then to any of the three.
        ports = [victim.port]
        limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=0)
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:
            try:
                result = await _drill(http, servers, ports, url, stop, tasks)
            finally:
                stop.set()
                await asyncio.gather(*tasks, return_exceptions=True)
        survivors_log = second.log() + third.log()

    phones, host, seq_at_kill, final_seq, offline_logged, roster, reconnected_s = result
    print(
        f"\n{PHONES} phones reconnected in {reconnected_s:.1f} s; host resumed "
        f"{[w['resumed'] for w in host.welcomes]}; {len(host.seqs)} messages"
    )
    # Every phone came back, on a living process.
    assert all(phone.welcomes[-1] != victim.port for phone in phones)
    # Nobody was shown offline: not in the log, not on the host's stream, not in the roster.
    assert offline_logged == 0
    assert not [
        m for m in host.messages if m.get("presence") == "offline" and m["seq"] > seq_at_kill
    ]
    presence = [entry["presence"] for entry in roster]
    assert presence.count("online") == PHONES, {p: presence.count(p) for p in set(presence)}
    # The host's stream: resumed with `since`, every seq from its first welcome on, once, in order.
    assert len(host.welcomes) >= 2 and all(w["resumed"] for w in host.welcomes[1:])
    assert host.first_seq is not None
    assert host.seqs == list(range(host.first_seq + 1, final_seq + 1))
    assert "Traceback" not in survivors_log, survivors_log[-3000:]


async def _drill(
    http: httpx.AsyncClient,
    servers: list[RollcallServer],
    ports: list[int],
    url: str,
    stop: asyncio.Event,
    tasks: list[asyncio.Task[None]],
) -> tuple[list[Phone], Host, int, int, int, list[dict[str, Any]], float]:
    victim, second, third = servers
    began = time.monotonic()

    def progress(what: str) -> None:
        print(f"  {time.monotonic() - began:6.1f} s  {what}", flush=True)

    async with httpx.AsyncClient(base_url=second.base_url) as api:
        event = await create_event(api, capacity=PHONES)

    async def join(i: int) -> dict[str, Any]:
        response = await http.post(
            f"{servers[i % 3].base_url}/api/events/{event.code}/join",
            json={"device_id": str(uuid.uuid4()), "display_name": f"P{i}"},
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    joined = await bounded(IN_FLIGHT, [join(i) for i in range(PHONES)])
    phones = [Phone(body["session_token"]) for body in joined]
    ids = [body["participant"]["id"] for body in joined]
    progress(f"{PHONES} phones joined")

    host = Host(event.code, event.host_token)
    tasks.append(asyncio.create_task(host.live(ports, stop)))
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def start(phone: Phone) -> None:
        async with gate:
            tasks.append(asyncio.create_task(phone.live(ports, stop)))
            await _wait_for(lambda: bool(phone.welcomes), 30, "a phone's welcome")

    await asyncio.gather(*(start(phone) for phone in phones))
    await _wait_for(lambda: bool(host.welcomes), 10, "the host's welcome")
    progress("every phone and the host connected to the victim")

    async def roster() -> list[dict[str, Any]]:
        answer = await http.get(
            f"{second.base_url}/api/events/{event.code}/participants", headers=event.host_headers
        )
        participants: list[dict[str, Any]] = answer.json()["participants"]
        return participants

    # Before the kill, everyone is online (joined, connected, and no longer silent).
    async def everyone_online() -> bool:
        return all(p["presence"] == "online" for p in await roster())

    await eventually(everyone_online, timeout=30, interval=0.2, what="everyone online")

    progress("everyone online")
    # Changes keep coming through another process while the victim dies: the host must get
    # every one of them, in order, across its reconnect.
    changing = asyncio.Event()
    changing.set()

    async def keep_changing() -> None:
        n = 0
        while changing.is_set() and not stop.is_set():
            n += 1
            await http.patch(
                f"{third.base_url}/api/events/{event.code}/participants/{ids[n % PHONES]}",
                json={"state": {"round": n}},
                headers=event.host_headers,
            )
            await asyncio.sleep(0.05)

    changer = asyncio.create_task(keep_changing())
    tasks.append(changer)
    await _wait_for(lambda: len(host.seqs) >= 5, 10, "changes reach the host")

    with psycopg.connect(url) as conn:
        seq_at_kill = _one(conn, "SELECT seq FROM events WHERE code = %s", (event.code,))
    assert all(set(phone.welcomes) == {victim.port} for phone in phones)
    ports[:] = [server.port for server in servers]
    victim.process.kill()  # SIGKILL: no goodbye, no flush, no close frames
    killed_at = time.monotonic()
    victim.process.wait()
    progress("victim killed")

    await _wait_for(
        lambda: all(len(phone.welcomes) >= 2 for phone in phones),
        RECONNECT_DEADLINE_S,
        "every phone reconnected elsewhere",
    )
    reconnected_s = time.monotonic() - killed_at
    progress("every phone reconnected")
    await _wait_for(lambda: len(host.welcomes) >= 2, 10, "the host reconnected")
    # Past the presence timeout (plus a sweep and a flush) since the kill: anyone who was to be
    # shown offline wrongly would have been by now.
    quiet_until = killed_at + TIMINGS["presence_timeout_s"] + 3
    await _wait_for(lambda: time.monotonic() > quiet_until, 60, "the presence timeout")

    progress("presence timeout passed")
    changing.clear()
    await changer
    with psycopg.connect(url) as conn:
        final_seq = _one(conn, "SELECT seq FROM events WHERE code = %s", (event.code,))
        offline_logged = _one(
            conn,
            """SELECT count(*) FROM event_log AS l JOIN events AS e ON e.id = l.event_id
            WHERE e.code = %s AND l.message->>'type' = %s
              AND l.message->>'presence' = 'offline' AND l.seq > %s""",
            (event.code, HostMessage.PRESENCE.value, seq_at_kill),
        )
    # The host reads to the end of the log before it stops.
    await _wait_for(lambda: host.last_seq >= final_seq, 10, "the host caught up")
    return phones, host, seq_at_kill, final_seq, offline_logged, await roster(), reconnected_s


def _one(conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...]) -> int:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return int(row[0])
