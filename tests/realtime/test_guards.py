"""Sockets that must not get in, or must not crowd out others: other sites, floods, bad JSON."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections import Counter
from pathlib import Path

import httpx
import psycopg
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from rollcall.db.pool import POOL_MAX_SIZE
from rollcall.exposure import lan_addresses
from rollcall.protocol import Close
from rollcall.realtime.gate import HELLO_WAIT_S
from tests.factories import create_event, join
from tests.polling import eventually
from tests.realtime.client import Socket, of_type
from tests.servers import FAST, RollcallServer, rollcall_server

UPGRADE = {
    "connection": "Upgrade",
    "upgrade": "websocket",
    "sec-websocket-version": "13",
    "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
}


async def test_a_socket_from_another_site_is_refused_and_the_own_site_is_not(
    server_a: RollcallServer,
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await Socket.open(server_a.ws_url, origin="https://evil.example")  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403

    async with httpx.AsyncClient(base_url=server_a.base_url) as http:
        event = await create_event(http)
        phone = (await join(http, event.code)).json()
    own = await Socket.open(
        server_a.ws_url,
        {"type": "hello", "token": phone["session_token"]},
        origin=server_a.base_url,  # type: ignore[arg-type]
    )
    assert (await own.until(of_type("welcome")))["participant"]["id"]
    await own.close()


async def test_a_rebound_host_name_is_refused_when_the_public_url_is_set(
    module_db: str, logs: Path
) -> None:
    with rollcall_server(module_db, logs, public_url="http://rollcall.example", **FAST) as server:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            rebound = await http.get("/api/events/ABCDEF", headers={"host": "evil.example"})
            assert rebound.status_code == 421
            assert rebound.json()["code"] == "misdirected_request"
            served = await http.get("/healthz", headers={"host": "rollcall.example"})
            assert served.status_code == 200
            assert (await http.get("/healthz")).status_code == 200  # 127.0.0.1 on the machine
            upgrade = await http.get(
                "/ws", headers={**UPGRADE, "host": "evil.example", "origin": "http://evil.example"}
            )
            assert upgrade.status_code == 403


async def test_a_rebound_host_name_is_refused_on_the_loopback_default(
    server_a: RollcallServer,
) -> None:
    """No ROLLCALL_PUBLIC_URL: a page that rebinds its own name to 127.0.0.1 gets nothing."""
    async with httpx.AsyncClient(base_url=server_a.base_url) as http:
        event = await create_event(http)
        rebound = {"host": f"attacker.example:{server_a.port}"}
        created = await http.post("/api/events", json={"title": "x"}, headers=rebound)
        assert created.status_code == 421
        assert created.headers["content-type"] == "application/problem+json"
        assert created.json()["code"] == "misdirected_request"
        read = await http.get(f"/api/events/{event.code}", headers=rebound)
        assert read.status_code == 421
        assert (await http.get("/", headers={"host": "127.0.0.1.nip.io"})).status_code == 421
        upgrade = await http.get(
            "/ws", headers={**UPGRADE, **rebound, "origin": "http://attacker.example"}
        )
        assert upgrade.status_code == 403
        for name in ("localhost", "127.0.0.1", "[::1]", "app.localhost", "127.0.0.2"):
            served = await http.get(f"/api/events/{event.code}", headers={"host": name})
            assert served.status_code == 200, name


async def test_serving_all_interfaces_answers_the_lan_address_it_prints(
    module_db: str, logs: Path
) -> None:
    lan = lan_addresses()
    if not lan:
        pytest.skip("this machine has no LAN address to dial")
    token = "a-long-enough-admin-token"
    with rollcall_server(
        module_db, logs, args=["--host", "0.0.0.0"], admin_token=token, **FAST
    ) as server:
        assert f"phones will use http://{lan[0]}:{server.port}" in server.log()
        base = f"http://{lan[0]}:{server.port}"
        async with httpx.AsyncClient(base_url=base) as http:
            created = await http.post(
                "/api/events", json={"title": "LAN"}, headers={"authorization": f"Bearer {token}"}
            )
            assert created.status_code == 201, created.text
            code = created.json()["event"]["code"]
            joined = await join(http, code)
            assert joined.status_code == 201
            for host in ("attacker.example", "192.0.2.250", "[2001:db8::1]"):
                refused = await http.get(f"/api/events/{code}", headers={"host": host})
                assert refused.status_code == 421, host
                assert refused.json()["code"] == "misdirected_request"
        phone = await Socket.open(
            f"ws://{lan[0]}:{server.port}/ws",
            {"type": "hello", "token": joined.json()["session_token"]},
            origin=base,
        )
        assert (await phone.until(of_type("welcome")))["participant"]["id"]
        await phone.close()


async def test_sockets_past_the_cap_per_address_are_closed_with_4429(
    module_db: str, logs: Path
) -> None:
    with rollcall_server(module_db, logs, max_sockets_per_address=5, **FAST) as server:
        held = [await Socket.open(server.ws_url) for _ in range(5)]
        extra = await Socket.open(server.ws_url)
        assert await extra.closed() == Close.RATE_LIMITED
        await held.pop().close()
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            event = await create_event(http)
            phone = (await join(http, event.code)).json()

        async def welcomed() -> Socket | None:
            socket = await Socket.open(
                server.ws_url, {"type": "hello", "token": phone["session_token"]}
            )
            try:
                await socket.until(of_type("welcome"), timeout=2)
            except Exception:
                return None
            return socket

        # The closed socket's slot comes free as soon as the server sees the close.
        again = await eventually(welcomed, timeout=5, what="the slot coming free")
        await again.close()
        for socket in held:
            await socket.close()


async def test_a_flood_of_hellos_leaves_the_http_routes_a_connection(
    module_db: str, logs: Path
) -> None:
    """Hellos whose lookups hang (the table is locked) hold at most half the pool."""
    with rollcall_server(module_db, logs, **FAST) as server:
        with psycopg.connect(module_db) as locker:
            locker.execute("LOCK TABLE event_participants IN ACCESS EXCLUSIVE MODE")
            flood = [await Socket.open(server.ws_url) for _ in range(30)]
            await asyncio.gather(
                *(s.send({"type": "hello", "token": secrets.token_urlsafe(32)}) for s in flood)
            )
            slots = POOL_MAX_SIZE // 2

            def lookups_on_the_lock() -> bool:
                with psycopg.connect(module_db) as watcher:
                    row = watcher.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'rollcall'"
                        " AND wait_event_type = 'Lock' AND datname = current_database()"
                    ).fetchone()
                return row is not None and row[0] >= slots

            # Every lookup slot is taken by a hello waiting on the lock; the rest wait for one.
            await eventually(
                lambda: asyncio.to_thread(lookups_on_the_lock), what="hellos holding the slots"
            )
            async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
                health = await http.get("/healthz")
            closing = [asyncio.ensure_future(s.closed(timeout=20)) for s in flood]
            # Those without a slot are told to try again once their wait for one is over.
            await asyncio.wait(closing, timeout=HELLO_WAIT_S + 3)
            locker.rollback()
        # The few with a slot then find their made-up tokens unknown.
        codes = Counter(await asyncio.gather(*closing))
        assert health.status_code == 200
        assert codes[Close.TRY_AGAIN_LATER] >= len(flood) - slots, codes
        assert set(codes) <= {Close.TRY_AGAIN_LATER, Close.INVALID_TOKEN, Close.INTERNAL_ERROR}
        for socket in flood:
            await socket.close()


async def test_deeply_nested_json_closes_only_that_socket_with_4400(
    server_a: RollcallServer,
) -> None:
    nested = await Socket.open(server_a.ws_url)
    await nested.ws.send("[" * 20_000 + "]" * 20_000)
    assert await nested.closed() == Close.BAD_MESSAGE
    async with httpx.AsyncClient(base_url=server_a.base_url) as http:
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get(f"/api/events/{uuid.uuid4().hex[:6]}")).status_code == 404


async def test_host_sockets_past_the_cap_are_closed_4429_and_a_freed_slot_is_reused(
    module_db: str, logs: Path
) -> None:
    with rollcall_server(module_db, logs, max_host_sockets_per_event=2, **FAST) as server:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            event, other = await create_event(http), await create_event(http)
        hello = {"type": "hello", "role": "host", "event": event.code, "token": event.host_token}
        first = await Socket.open(server.ws_url, hello)
        second = await Socket.open(server.ws_url, hello)
        for host in (first, second):
            assert (await host.next())["type"] == "welcome"
        third = await Socket.open(server.ws_url, hello)
        assert await third.closed() == Close.RATE_LIMITED
        other_host = await Socket.open(
            server.ws_url,
            {"type": "hello", "role": "host", "event": other.code, "token": other.host_token},
        )
        assert (await other_host.next())["type"] == "welcome", "the cap is per event"
        await first.close()
        again = None
        for _ in range(50):  # the server notices the close a moment later
            again = await Socket.open(server.ws_url, hello)
            try:
                await again.next()
                break
            except ConnectionClosed:
                await asyncio.sleep(0.05)
        assert again is not None and again.seen[-1]["type"] == "welcome"
        for host in (second, again, other_host):
            await host.close()
