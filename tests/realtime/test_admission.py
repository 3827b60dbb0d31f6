"""Admission and seat reclaim on /ws, against real servers: what hosts and phones are told."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from rollcall.protocol import Close, HostMessage, ServerMessage
from rollcall.settings import Settings
from tests.factories import bearer, create_event, join, new_device
from tests.realtime.client import Socket, host_socket, of_type, participant_socket, room
from tests.servers import FAST, RollcallServer, rollcall_server

DEFAULT_LIMITS = {
    name: Settings.model_fields[name].default
    for name in ("limit_joins", "limit_events", "limit_guesses", "limit_ws_messages")
}


@pytest.fixture(scope="module")
def guarded(module_db: str, logs: Path) -> Iterator[RollcallServer]:
    """A server with the default rate limits and a short room check period."""
    with rollcall_server(module_db, logs, **FAST, **DEFAULT_LIMITS, room_check_s=5) as server:
        yield server


@pytest.fixture
async def http_guarded(guarded: RollcallServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=guarded.base_url, timeout=10) as client:
        yield client


# Room check


async def test_the_host_gets_the_room_check_at_welcome_and_at_each_rotation(
    guarded: RollcallServer, http_guarded: httpx.AsyncClient
) -> None:
    event = await create_event(http_guarded, room_check=True)
    host = await host_socket(guarded, event.code, event.host_token)
    first = await host.until(of_type(ServerMessage.ROOM_CHECK), timeout=2)
    assert len(first["code"]) == 4 and first["code"].isdigit()
    shown = (
        await http_guarded.get(f"/api/events/{event.code}/room-check", headers=event.host_headers)
    ).json()
    assert shown["code"] == first["code"] and shown["join_url"].endswith(f"?rc={first['code']}")
    second = await host.until(of_type(ServerMessage.ROOM_CHECK), timeout=6)
    assert second["expires_at"] > first["expires_at"]
    joined = await join(http_guarded, event.code, room_check=second["code"])
    assert joined.status_code == 201
    await host.close()


async def test_turning_the_room_check_on_shows_the_code_at_once(
    guarded: RollcallServer, http_guarded: httpx.AsyncClient
) -> None:
    event = await create_event(http_guarded)
    host = await host_socket(guarded, event.code, event.host_token)
    assert not [m for m in await host.drain(0.5) if m["type"] == ServerMessage.ROOM_CHECK]
    await http_guarded.patch(
        f"/api/events/{event.code}", json={"room_check": True}, headers=event.host_headers
    )
    assert (await host.until(of_type(ServerMessage.ROOM_CHECK), timeout=2))["code"]
    await host.close()


# The waiting room


async def test_a_waiting_phone_is_let_in_live(
    server_a: RollcallServer, server_b: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    event = await create_event(http_a, admission="approval")
    host = await host_socket(server_a, event.code, event.host_token)
    waiting = await join(http_a, event.code, name="Guest")
    assert waiting.status_code == 202
    pid = waiting.json()["participant"]["id"]
    pending = await host.until(of_type(HostMessage.PENDING))
    assert pending["participant"]["id"] == pid and pending["participant"]["status"] == "pending"
    phone, welcome = await participant_socket(server_b, waiting.json()["session_token"])
    assert welcome["participant"]["status"] == "pending"  # type: ignore[index]

    await http_a.post(
        f"/api/events/{event.code}/participants/{pid}/admit", headers=event.host_headers
    )
    admitted = await phone.until(of_type(ServerMessage.ADMITTED), timeout=2)
    assert admitted["participant"]["status"] == "active"
    joined = await host.until(of_type(HostMessage.JOINED))
    assert joined["participant"]["id"] == pid and joined["participant"]["status"] == "active"
    await phone.send({"type": "heartbeat"})
    assert await phone.until(of_type(ServerMessage.ACK))
    await phone.close()
    await host.close()


async def test_remove_without_ban_closes_the_socket_as_a_session_that_ended(
    server_a: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    event = await create_event(http_a)
    joined = (await join(http_a, event.code)).json()
    phone, _ = await participant_socket(server_a, joined["session_token"])
    await http_a.post(
        f"/api/events/{event.code}/participants/{joined['participant']['id']}/kick",
        json={"ban": False},
        headers=event.host_headers,
    )
    assert await phone.closed() == Close.INVALID_TOKEN


# Seat reclaim


async def test_the_old_phone_is_told_it_moved_within_a_second(
    server_a: RollcallServer, server_b: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    event = await create_event(http_a)
    host = await host_socket(server_a, event.code, event.host_token)
    old_device = new_device()
    maya = (await join(http_a, event.code, device_id=old_device, name="Maya")).json()
    pid = maya["participant"]["id"]
    old_phone, _ = await participant_socket(server_b, maya["session_token"])
    await host.until(of_type(HostMessage.JOINED))

    started = time.monotonic()
    moved = await join(http_a, event.code, recovery_code=maya["recovery_code"])
    assert moved.status_code == 200
    assert (await old_phone.until(of_type(ServerMessage.MOVED), timeout=1))["type"] == "moved"
    assert await old_phone.closed(timeout=1) == Close.MOVED
    assert time.monotonic() - started < 1

    rejoined = await host.until(of_type(HostMessage.REJOINED))
    assert rejoined["participant"]["id"] == pid and rejoined["reclaimed"] is True
    new_phone, welcome = await participant_socket(server_a, moved.json()["session_token"])
    assert welcome["participant"]["id"] == pid  # type: ignore[index]
    # The old phone, reloaded, is a stranger.
    again = await Socket.open(server_b.ws_url, {"type": "hello", "token": maya["session_token"]})
    assert await again.closed() == Close.INVALID_TOKEN
    stranger = await join(http_a, event.code, device_id=old_device, name="Old phone")
    assert stranger.status_code == 201 and stranger.json()["participant"]["id"] != pid
    # The host's roster: one Maya.
    after = [m for m in await host.drain(1.0) if m.get("participant", {}).get("id") == pid]
    assert all(m["type"] == HostMessage.PRESENCE or m["participant"]["id"] == pid for m in after)
    await new_phone.close()
    await host.close()


async def test_an_approved_seat_move_hands_the_socket_over(
    server_a: RollcallServer, server_b: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    event = await create_event(http_a, reclaim="approval")
    host = await host_socket(server_a, event.code, event.host_token)
    maya = (await join(http_a, event.code, name="Maya")).json()
    pid = maya["participant"]["id"]
    old_phone, _ = await participant_socket(server_a, maya["session_token"])
    asked = await join(http_a, event.code, recovery_code=maya["recovery_code"])
    assert asked.status_code == 202
    request_id = asked.json()["participant"]["id"]
    requested = await host.until(of_type(HostMessage.RECLAIM_REQUESTED))
    assert requested["participant_id"] == pid and requested["participant"]["id"] == request_id
    new_phone, welcome = await participant_socket(server_b, asked.json()["session_token"])
    assert welcome["participant"]["status"] == "pending"  # type: ignore[index]

    await http_a.post(
        f"/api/events/{event.code}/participants/{request_id}/admit", headers=event.host_headers
    )
    admitted = await new_phone.until(of_type(ServerMessage.ADMITTED), timeout=2)
    assert admitted["participant"]["id"] == pid
    assert await old_phone.closed(timeout=2) == Close.MOVED
    moved = await host.until(of_type(HostMessage.REJOINED))
    assert moved["participant"]["id"] == pid and moved["request_id"] == request_id
    # The handed-over socket now speaks for Maya: her state reaches it.
    await http_a.patch(
        f"/api/events/{event.code}/participants/{pid}",
        json={"state": {"score": 8}},
        headers=event.host_headers,
    )
    assert (await new_phone.until(of_type(ServerMessage.STATE), timeout=2))["state"] == {"score": 8}
    await new_phone.close()
    await host.close()


# Floods


async def test_a_socket_flooding_messages_is_closed_and_others_are_untouched(
    guarded: RollcallServer, http_guarded: httpx.AsyncClient
) -> None:
    event = await create_event(http_guarded)
    flooder_token = (await join(http_guarded, event.code)).json()["session_token"]
    quiet_token = (await join(http_guarded, event.code)).json()["session_token"]
    flooder, _ = await participant_socket(guarded, flooder_token)
    quiet, _ = await participant_socket(guarded, quiet_token)

    async def flood() -> None:
        for _ in range(200):  # 200 messages within a second
            try:
                await flooder.send({"type": "heartbeat"})
            except Exception:
                return
            await asyncio.sleep(0.005)

    flooding = asyncio.create_task(flood())
    assert await flooder.closed(timeout=3) == Close.RATE_LIMITED
    await flooding
    for _ in range(3):
        await quiet.send({"type": "heartbeat"})
        assert await quiet.until(of_type(ServerMessage.ACK))
    await quiet.close()


async def test_flipping_away_and_back_a_hundred_times_costs_hosts_two_messages(
    server_a: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    started = await room(http_a, server_a)
    host, phone = started.host, started.phone
    await host.until(of_type(HostMessage.JOINED))
    await host.drain(0.3)
    started = time.monotonic()
    for i in range(100):
        await phone.send({"type": "away" if i % 2 == 0 else "back"})
    await phone.send({"type": "heartbeat"})
    await phone.until(of_type(ServerMessage.ACK), timeout=5)  # the server has read every flip
    # Within a second (on a machine this loaded the server may take longer, and the pace then
    # allows one more message for each second beyond the first).
    flipping_s = time.monotonic() - started

    async def beat() -> None:  # the page keeps beating meanwhile, as a real one does
        while True:
            await phone.send({"type": "heartbeat"})
            await asyncio.sleep(0.3)

    beating = asyncio.create_task(beat())
    presence = [m for m in await host.drain(2.5) if m["type"] == HostMessage.PRESENCE]
    beating.cancel()
    assert 1 <= len(presence) <= 2 + math.floor(flipping_s)
    assert presence[-1]["presence"] == "online"  # where the flips ended
    await phone.close()
    await host.close()


async def test_flipping_over_http_is_held_to_the_same_pace(
    server_a: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    event = await create_event(http_a)
    host = await host_socket(server_a, event.code, event.host_token)
    joined = (await join(http_a, event.code)).json()
    await host.until(of_type(HostMessage.JOINED))
    started = time.monotonic()
    for i in range(100):
        await http_a.post(
            "/api/session/heartbeat",
            json={"away": i % 2 == 0},
            headers=bearer(joined["session_token"]),
        )
    elapsed = time.monotonic() - started

    async def beat() -> None:
        while True:
            await http_a.post("/api/session/heartbeat", headers=bearer(joined["session_token"]))
            await asyncio.sleep(0.3)

    beating = asyncio.create_task(beat())
    presence = [m for m in await host.drain(2.5) if m["type"] == HostMessage.PRESENCE]
    beating.cancel()
    # Two at once, then one a second at most, and the last one says where the flips ended.
    assert 1 <= len(presence) <= math.ceil(elapsed) + 2
    assert presence[-1]["presence"] == "online"
    await host.close()
