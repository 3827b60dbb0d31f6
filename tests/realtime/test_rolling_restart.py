"""A rolling restart: two `rollcall serve` on one database, each stopped (SIGTERM) and started
again in turn, with phones and a host connected.

Each stop closes its sockets with 1012; the phones reconnect to the other instance (as a load
balancer would send them on) and beat again at once, so the host never sees one of them go
offline or leave, and every phone is back within the reconnect window.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from rollcall.protocol import Close, HostMessage
from tests.factories import create_event
from tests.faults.conftest import bounded
from tests.faults.test_process_killed import TIMINGS, Host, Phone
from tests.pg import PgServer
from tests.polling import eventually
from tests.servers import RollcallServer, rollcall_server

# Four process starts on a shared machine and a presence timeout to wait out: tens of seconds
# even for a few phones.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

IN_FLIGHT = 32
RECONNECT_WINDOW_S = 30.0
"""From an instance's stop until every phone it held has a welcome from the other, as the
fault drill allows after a kill (tests/faults/test_process_killed.py): the pages' backoff
starts at half a second and doubles up to 15 s, and a thousand phones arrive at once."""


async def _wait_for(condition: Callable[..., object], timeout: float, what: str) -> None:
    """Until `condition()` holds: a plain check, asked between the phones' own work."""

    async def check() -> object:
        return condition()

    await eventually(check, timeout=timeout, what=what)


@pytest.mark.parametrize("phones", [pytest.param(20, id="20"), pytest.param(1_000, id="1000")])
async def test_a_rolling_restart_shows_nobody_offline_or_gone(
    pg: PgServer, tmp_path: Path, phones: int
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    with pg.fresh_database(migrated=True) as url, contextlib.ExitStack() as stack:
        first = stack.enter_context(rollcall_server(url, tmp_path, **TIMINGS))
        second = stack.enter_context(rollcall_server(url, tmp_path, **TIMINGS))
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:
            try:
                await _roll(url, tmp_path, [first, second], http, phones, stop, tasks, stack)
            finally:
                stop.set()
                await asyncio.gather(*tasks, return_exceptions=True)


async def _roll(
    url: str,
    tmp_path: Path,
    servers: list[RollcallServer],
    http: httpx.AsyncClient,
    count: int,
    stop: asyncio.Event,
    tasks: list[asyncio.Task[None]],
    stack: contextlib.ExitStack,
) -> None:
    ports = [server.port for server in servers]
    async with httpx.AsyncClient(base_url=servers[0].base_url) as api:
        event = await create_event(api, capacity=count)

    async def join(i: int) -> str:
        answer = await http.post(
            f"{servers[i % 2].base_url}/api/events/{event.code}/join",
            json={"device_id": str(uuid.uuid4()), "display_name": f"P{i}"},
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["session_token"])

    tokens = await bounded(IN_FLIGHT, [join(i) for i in range(count)])
    phones = [Phone(token) for token in tokens]  # the default timings, as the fault drill's
    host = Host(event.code, event.host_token)
    tasks.append(asyncio.create_task(host.live(ports, stop)))
    for n, phone in enumerate(phones):  # half on each instance: each phone starts at its own
        tasks.append(asyncio.create_task(phone.live(ports[n % 2 :] + ports[: n % 2], stop)))
    await _wait_for(lambda: all(phone.welcomes for phone in phones), 60, "every phone's welcome")
    await _wait_for(lambda: bool(host.welcomes), 10, "the host's welcome")
    await _wait_for_everyone_online(http, servers[1], event.code, event.host_headers, count)
    with psycopg.connect(url) as conn:
        seq_before = _seq(conn, event.code)

    for turn in range(2):
        victim = servers[turn]
        held = [phone for phone in phones if phone.welcomes[-1] == victim.port]
        welcomes = {id(phone): len(phone.welcomes) for phone in held}
        stopped_at = time.monotonic()
        await asyncio.to_thread(victim.stop)  # SIGTERM: sockets closed with 1012, beats written
        await _wait_for(
            lambda held=held, welcomes=welcomes: all(
                len(p.welcomes) > welcomes[id(p)] for p in held
            ),
            RECONNECT_WINDOW_S,
            f"the {len(held)} phones of the stopped instance back on the other",
        )
        print(
            f"  instance {turn + 1} stopped: {len(held)} phones back in"
            f" {time.monotonic() - stopped_at:.1f} s",
            flush=True,
        )
        assert all(Close.SERVICE_RESTART in p.closed_by_server for p in held)
        servers[turn] = await asyncio.to_thread(
            stack.enter_context, rollcall_server(url, tmp_path, port=victim.port, **TIMINGS)
        )

    # Past the presence timeout since the last stop (and a sweep): a phone that lost its
    # presence in the restarts would have been announced by now.
    quiet_until = stopped_at + TIMINGS["presence_timeout_s"] + 3
    await _wait_for(lambda: time.monotonic() > quiet_until, 60, "the presence timeout")
    with psycopg.connect(url) as conn:
        final_seq = _seq(conn, event.code)
        gone = conn.execute(
            "SELECT l.message->>'type', l.message->>'presence', count(*) FROM event_log AS l"
            " JOIN events AS e ON e.id = l.event_id WHERE e.code = %s AND l.seq > %s"
            " AND (l.message->>'type' IN (%s, %s) OR l.message->>'presence' = 'offline')"
            " GROUP BY 1, 2",
            (event.code, seq_before, HostMessage.LEFT.value, HostMessage.KICKED.value),
        ).fetchall()
    assert gone == [], "nobody went offline or left at the host"
    await _wait_for(lambda: host.last_seq >= final_seq, 10, "the host caught up")
    told = [m for m in host.messages if m["seq"] > seq_before]
    assert not [m for m in told if m.get("presence") == "offline"]
    assert not [m for m in told if m["type"] in (HostMessage.LEFT, HostMessage.KICKED)]
    await _wait_for_everyone_online(http, servers[0], event.code, event.host_headers, count)


async def _wait_for_everyone_online(
    http: httpx.AsyncClient, server: RollcallServer, code: str, headers: dict[str, str], count: int
) -> None:
    deadline = time.monotonic() + 60
    while True:
        answer = await http.get(
            f"{server.base_url}/api/events/{code}/participants", headers=headers
        )
        presence = [p["presence"] for p in answer.json()["participants"]]
        if presence.count("online") == count:
            return
        assert time.monotonic() < deadline, {p: presence.count(p) for p in set(presence)}
        await asyncio.sleep(0.2)


def _seq(conn: psycopg.Connection[Any], code: str) -> int:
    row = conn.execute("SELECT seq FROM events WHERE code = %s", (code,)).fetchone()
    assert row is not None
    return int(row[0])
