"""A phone that joins on the socket itself: its hello carries the join, the welcome the token."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rollcall.protocol import Close, HostMessage, ServerMessage
from tests.factories import bearer, create_event, join, new_device
from tests.realtime.client import Socket, host_socket, of_type, participant_socket
from tests.servers import FAST, RollcallServer, rollcall_server


def hello_join(code: str, *, device_id: str | None = None, **fields: Any) -> dict[str, Any]:
    body = {"event": code, "device_id": device_id or new_device(), **fields}
    if "generated_name" not in fields:
        body.setdefault("display_name", f"Phone {body['device_id'][:8]}")
    return {"type": "hello", "join": body}


async def welcomed(server: RollcallServer, hello: dict[str, Any]) -> tuple[Socket, dict[str, Any]]:
    socket = await Socket.open(server.ws_url, hello)
    welcome = await socket.next()
    assert welcome["type"] == ServerMessage.WELCOME, welcome
    return socket, welcome


async def refused(server: RollcallServer, hello: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The one `error` a refused hello-join gets, and the code its socket closes with."""
    socket = await Socket.open(server.ws_url, hello)
    error = await socket.next()
    return error, await socket.closed()


async def test_a_join_on_hello_is_welcomed_with_the_token_that_then_works_everywhere(
    server_a: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    event = await create_event(http_a)
    phone, welcome = await welcomed(server_a, hello_join(event.code, display_name="Ana"))
    assert welcome["participant"]["display_name"] == "Ana"
    assert welcome["participant"]["status"] == "active"
    assert welcome["event"]["code"] == event.code
    assert welcome["rejoined"] is False and welcome["reclaimed"] is False
    assert len(welcome["recovery_code"]) == 9 and welcome["heartbeat_interval_s"] == 0.5
    token = welcome["session_token"]
    await phone.send({"type": "heartbeat"})
    assert (await phone.until(of_type(ServerMessage.ACK)))["server_time"]
    await phone.close()

    again, plain = await participant_socket(server_a, token)
    assert plain["participant"]["id"] == welcome["participant"]["id"]  # type: ignore[index]
    assert "session_token" not in plain
    await again.close()
    http_a.cookies.clear()
    session = await http_a.get("/api/session", headers=bearer(token))
    assert session.status_code == 200
    assert session.json()["participant"]["id"] == welcome["participant"]["id"]
    assert session.json()["recovery_code"] == welcome["recovery_code"]


async def test_one_device_is_one_participant_however_it_joins(
    server_a: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    event = await create_event(http_a)
    device = new_device()
    first, welcome = await welcomed(server_a, hello_join(event.code, device_id=device))
    await first.close()
    second, again = await welcomed(server_a, hello_join(event.code, device_id=device))
    assert again["participant"]["id"] == welcome["participant"]["id"]
    assert again["rejoined"] is True and again["session_token"] != welcome["session_token"]
    await second.close()
    http_a.cookies.clear()
    old = await http_a.get("/api/session", headers=bearer(welcome["session_token"]))
    assert old.status_code == 401  # the newer join's token revoked the one before

    other = new_device()
    over_http = (await join(http_a, event.code, device_id=other, name="Bo")).json()
    third, joined = await welcomed(server_a, hello_join(event.code, device_id=other))
    assert joined["participant"]["id"] == over_http["participant"]["id"]
    assert joined["rejoined"] is True and joined["participant"]["display_name"] == "Bo"

    # A new phone with the recovery code takes the seat; the old phone's socket is told.
    code = joined["recovery_code"]
    fourth, moved = await welcomed(server_a, hello_join(event.code, recovery_code=code))
    assert moved["participant"]["id"] == joined["participant"]["id"]
    assert moved["rejoined"] is True and moved["reclaimed"] is True
    assert (await third.until(of_type(ServerMessage.MOVED), timeout=2))["type"] == "moved"
    assert await third.closed() == Close.MOVED
    await fourth.close()


async def test_the_host_sees_a_hello_join_arrive_online(
    server_a: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    event = await create_event(http_a)
    host = await host_socket(server_a, event.code, event.host_token)
    phone, welcome = await welcomed(server_a, hello_join(event.code))
    joined = await host.until(of_type(HostMessage.JOINED), timeout=2)
    assert joined["participant"]["id"] == welcome["participant"]["id"]
    assert joined["participant"]["presence"] == "online"
    roster = await http_a.get(f"/api/events/{event.code}/participants", headers=event.host_headers)
    (entry,) = roster.json()["participants"]
    assert entry["presence"] == "online"
    await phone.close()
    await host.close()


async def test_a_newcomer_of_an_approval_event_waits_on_its_socket(
    server_a: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    event = await create_event(http_a, admission="approval")
    phone, welcome = await welcomed(server_a, hello_join(event.code))
    assert welcome["participant"]["status"] == "pending"
    pid = welcome["participant"]["id"]
    admitted = await http_a.post(
        f"/api/events/{event.code}/participants/{pid}/admit", headers=event.host_headers
    )
    assert admitted.status_code == 200
    assert (await phone.until(of_type(ServerMessage.ADMITTED), timeout=2))["participant"]["id"]
    await phone.close()


async def test_each_refusal_is_the_http_joins_problem_then_a_close(
    server_a: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    event = await create_event(http_a, capacity=2, blocked_words=["badword"])
    await join(http_a, event.code, name="Ana")
    taken, code = await refused(server_a, hello_join(event.code, display_name="ANA"))
    assert (taken["type"], taken["code"], taken["status"], code) == (
        "error",
        "name_taken",
        409,
        Close.BAD_MESSAGE,
    )
    banned_word, code = await refused(server_a, hello_join(event.code, display_name="badword"))
    assert (banned_word["code"], banned_word["status"], code) == (
        "name_not_allowed",
        422,
        Close.BAD_MESSAGE,
    )
    invalid, code = await refused(server_a, hello_join(event.code, device_id="not-a-uuid"))
    assert (invalid["code"], invalid["status"], code) == ("validation_error", 422, 4400)
    assert [e["field"] for e in invalid["errors"]] == ["device_id"]
    nameless, code = await refused(server_a, {"type": "hello", "join": {"event": event.code}})
    assert (nameless["code"], code) == ("validation_error", Close.BAD_MESSAGE)
    no_event, code = await refused(server_a, {"type": "hello", "join": {}})
    assert (no_event["code"], no_event["errors"][0]["field"], code) == (
        "validation_error",
        "event",
        Close.BAD_MESSAGE,
    )
    unknown, code = await refused(server_a, hello_join("ZZZZZZ"))
    assert (unknown["code"], unknown["status"], code) == (
        "event_not_found",
        404,
        Close.EVENT_NOT_FOUND,
    )

    bea = (await join(http_a, event.code, name="Bea")).json()
    full, code = await refused(server_a, hello_join(event.code))
    assert (full["code"], full["status"], code) == ("event_full", 409, Close.BAD_MESSAGE)
    kicked = await http_a.post(
        f"/api/events/{event.code}/participants/{bea['participant']['id']}/kick",
        headers=event.host_headers,
    )
    assert kicked.status_code == 200
    device = await http_a.get("/api/session", headers=bearer(bea["session_token"]))
    assert device.status_code == 401
    closed = await http_a.patch(
        f"/api/events/{event.code}", json={"status": "closed"}, headers=event.host_headers
    )
    assert closed.status_code == 200
    over, code = await refused(server_a, hello_join(event.code))
    assert (over["code"], over["status"], code) == ("event_closed", 410, Close.EVENT_CLOSED)


async def test_a_banned_device_is_refused_with_4403(
    server_a: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    event = await create_event(http_a)
    device = new_device()
    joined = (await join(http_a, event.code, device_id=device)).json()
    await http_a.post(
        f"/api/events/{event.code}/participants/{joined['participant']['id']}/kick",
        headers=event.host_headers,
    )
    banned, code = await refused(server_a, hello_join(event.code, device_id=device))
    assert (banned["code"], banned["status"], code) == ("device_banned", 403, Close.KICKED)


@pytest.fixture(scope="module")
def strict(module_db: str, logs: Path) -> Iterator[RollcallServer]:
    """A server whose join limit is reached after four newcomers."""
    with rollcall_server(module_db, logs, **FAST, limit_joins="4/minute") as server:
        yield server


@pytest.fixture
async def http_strict(strict: RollcallServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=strict.base_url, timeout=10) as client:
        yield client


async def test_hello_joins_and_http_joins_spend_one_join_budget(
    strict: RollcallServer, http_strict: httpx.AsyncClient
) -> None:
    event = await create_event(http_strict)
    device = new_device()
    assert (await join(http_strict, event.code, device_id=device)).status_code == 201
    assert (await join(http_strict, event.code)).status_code == 201
    for _ in range(2):
        phone, _welcome = await welcomed(strict, hello_join(event.code))
        await phone.close()
    limited, code = await refused(strict, hello_join(event.code))
    assert (limited["code"], limited["status"], code) == ("rate_limited", 429, Close.RATE_LIMITED)
    assert limited["retry_after_s"] >= 1
    assert (await join(http_strict, event.code)).status_code == 429
    # A rejoin is never limited, on either path.
    phone, back = await welcomed(strict, hello_join(event.code, device_id=device))
    assert back["rejoined"] is True
    await phone.close()
