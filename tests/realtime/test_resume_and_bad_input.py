"""Host resume with `since`, bad input on the socket, and the listener coming back by itself."""

from __future__ import annotations

import json

import asyncpg
import httpx
import psycopg

from rollcall import event_log
from tests.factories import create_event, join
from tests.realtime.client import Socket, host_socket, of_type, room
from tests.servers import RollcallServer


async def _changes(
    http: httpx.AsyncClient, code: str, host_headers: dict[str, str], n: int
) -> None:
    for _ in range(n):
        pid = (await join(http, code)).json()["participant"]["id"]
        await http.patch(
            f"/api/events/{code}/participants/{pid}", json={"state": {"x": 1}}, headers=host_headers
        )


async def test_a_reconnecting_host_gets_exactly_what_it_missed_in_order(
    server_a: RollcallServer, server_b: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    event = await create_event(http_a)
    host = await host_socket(server_a, event.code, event.host_token)
    await _changes(http_a, event.code, event.host_headers, 3)
    seen = [await host.next() for _ in range(6)]
    assert [m["seq"] for m in seen] == [1, 2, 3, 4, 5, 6]
    await host.close()

    await _changes(http_a, event.code, event.host_headers, 4)  # seq 7..14 happen while away

    resumed = await Socket.open(
        server_b.ws_url,
        {
            "type": "hello",
            "role": "host",
            "event": event.code,
            "token": event.host_token,
            "since": 6,
        },
    )
    welcome = await resumed.next()
    assert welcome["resumed"] is True and "participants" not in welcome
    missed = [await resumed.next() for _ in range(8)]
    assert [m["seq"] for m in missed] == list(range(7, 15))
    assert [m["type"] for m in missed] == ["participant.joined", "participant.state"] * 4
    await _changes(http_a, event.code, event.host_headers, 1)
    live = [await resumed.next() for _ in range(2)]
    assert [m["seq"] for m in live] == [15, 16]
    assert not await resumed.drain(0.5), "no duplicate"
    await resumed.close()


async def test_a_since_the_server_no_longer_has_or_from_the_future_gets_a_fresh_welcome(
    server_a: RollcallServer, http_a: httpx.AsyncClient, module_db: str
) -> None:
    event = await create_event(http_a)
    await _changes(http_a, event.code, event.host_headers, 60)  # 120 messages
    conn = await asyncpg.connect(module_db)
    try:
        # 120 changes, plus whatever presence changes the sweeper announced meanwhile (on a
        # slow machine, phones that never beat go offline before the changes are done).
        trimmed = await event_log.trim(conn, keep=100)  # what the sweeper does every minute
        seq = await conn.fetchval("SELECT seq FROM events WHERE code = $1", event.code)
    finally:
        await conn.close()
    assert seq >= 120
    assert trimmed >= 20
    for since in (3, seq + 380):
        socket = await Socket.open(
            server_a.ws_url,
            {
                "type": "hello",
                "role": "host",
                "event": event.code,
                "token": event.host_token,
                "since": since,
            },
        )
        welcome = await socket.next()
        assert welcome["resumed"] is False
        assert welcome["seq"] >= seq
        assert len(welcome["participants"]) == 60
        await socket.close()
    kept = await Socket.open(
        server_a.ws_url,
        {
            "type": "hello",
            "role": "host",
            "event": event.code,
            "token": event.host_token,
            "since": seq - 20,
        },
    )
    assert (await kept.next())["resumed"] is True
    assert [(await kept.next())["seq"] for _ in range(20)] == list(range(seq - 19, seq + 1))
    await kept.close()


async def test_bad_input_closes_only_that_socket(
    server_a: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    started = await room(http_a, server_a)
    event, host, phone = started.event, started.host, started.phone
    other = await create_event(http_a, title="Other")

    async def close_code(*frames: str | bytes, hello: dict[str, object] | None = None) -> int:
        socket = await Socket.open(server_a.ws_url, hello)
        for frame in frames:
            await socket.ws.send(frame)
        return await socket.closed(timeout=8)

    assert await close_code() == 4408  # says nothing for 5 s
    assert await close_code("{not json") == 4400
    assert await close_code(json.dumps({"type": "dance"})) == 4400
    assert await close_code(json.dumps([1, 2])) == 4400
    assert await close_code(b"\x00\x01") == 4400
    assert await close_code(json.dumps({"type": "hello", "token": "nope"})) == 4401
    assert await close_code(json.dumps({"type": "hello"})) == 4401
    assert await close_code("x" * 70_000) == 1009
    stolen = {"type": "hello", "role": "host", "event": event.code, "token": other.host_token}
    assert await close_code(hello=stolen) == 4401
    assert (
        await close_code(hello={"type": "hello", "role": "host", "event": "ZZZZZZ", "token": "x"})
        == 4404
    )
    rude = (await join(http_a, event.code)).json()
    rude_hello = {"type": "hello", "token": rude["session_token"]}
    assert await close_code(json.dumps({"type": "jump"}), hello=rude_hello) == 4400
    assert await close_code("[]", hello=rude_hello) == 4400

    # Everyone else is untouched: the phone still beats and the host still hears.
    await phone.send({"type": "heartbeat"})
    assert (await phone.until(of_type("ack")))["type"] == "ack"
    await host.drain(0.3)
    await join(http_a, event.code, name="Still here")
    assert (await host.until(of_type("participant.joined")))["participant"][
        "display_name"
    ] == "Still here"
    await phone.close()
    await host.close()


async def test_the_listener_reconnects_by_itself(
    server_a: RollcallServer, http_a: httpx.AsyncClient, module_db: str
) -> None:
    event = await create_event(http_a)
    host = await host_socket(server_a, event.code, event.host_token)
    with psycopg.connect(module_db, autocommit=True) as conn:
        killed = conn.execute(
            # With a timeout, pg_terminate_backend returns once the backend has exited.
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
            " WHERE application_name = 'rollcall-listener'"
        ).fetchone()
    assert killed is not None and killed[0] >= 1
    await join(http_a, event.code, name="After the drop")
    message = await host.until(of_type("participant.joined"), timeout=8)
    assert message["participant"]["display_name"] == "After the drop"
    await host.close()
