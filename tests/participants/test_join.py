"""Join and rejoin: one device is one participant, and comes back as itself."""

from __future__ import annotations

import asyncio

import httpx

from tests.factories import bearer, create_event, join, new_device


async def test_a_first_join_makes_a_participant(client: httpx.AsyncClient) -> None:
    event = await create_event(client)
    response = await join(client, event.code, name="  Ana   Lima ")
    assert response.status_code == 201
    data = response.json()
    assert data["rejoined"] is False
    assert data["participant"]["display_name"] == "Ana Lima"
    assert data["participant"]["status"] == "active"
    assert data["participant"]["state"] == {}
    assert data["heartbeat_interval_s"] == 10
    assert len(data["session_token"]) >= 43
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


async def test_rejoin_gives_back_the_same_participant_with_a_new_token(
    client: httpx.AsyncClient,
) -> None:
    event = await create_event(client)
    device = new_device()
    first = (await join(client, event.code, device_id=device, name="Ana")).json()
    pid = first["participant"]["id"]
    patched = await client.patch(
        f"/api/events/{event.code}/participants/{pid}",
        json={"state": {"score": 3, "team": "red"}},
        headers=event.host_headers,
    )
    assert patched.status_code == 200

    again = await join(client, event.code, device_id=device, name="Someone Else")
    assert again.status_code == 200
    data = again.json()
    assert data["rejoined"] is True
    assert data["participant"]["id"] == pid
    assert data["participant"]["display_name"] == "Ana"
    assert data["participant"]["state"] == {"score": 3, "team": "red"}
    assert data["session_token"] != first["session_token"]

    old, new = bearer(first["session_token"]), bearer(data["session_token"])
    client.cookies.clear()
    for method, path in [
        ("GET", "/api/session"),
        ("POST", "/api/session/heartbeat"),
        ("DELETE", "/api/session"),
    ]:
        refused = await client.request(method, path, headers=old)
        assert refused.status_code == 401, (method, path)
        assert refused.json()["code"] == "invalid_token"
    session = await client.get("/api/session", headers=new)
    assert session.status_code == 200
    assert session.json()["participant"]["id"] == pid
    assert session.json()["event"]["code"] == event.code


async def test_the_cookie_alone_restores_the_session(client: httpx.AsyncClient) -> None:
    event = await create_event(client)
    response = await join(client, event.code)
    client.cookies.set("rollcall_session", response.json()["session_token"])
    restored = await client.get("/api/session")
    assert restored.status_code == 200
    assert restored.json()["participant"]["id"] == response.json()["participant"]["id"]


async def test_the_code_is_accepted_in_any_case(client: httpx.AsyncClient) -> None:
    event = await create_event(client)
    response = await join(client, event.code.lower())
    assert response.status_code == 201
    read = await client.get(f"/api/events/{event.code.lower()}")
    assert read.status_code == 200 and read.json()["code"] == event.code


async def test_fifty_simultaneous_joins_from_one_device_make_one_participant(
    client: httpx.AsyncClient,
) -> None:
    event = await create_event(client)
    device = new_device()
    responses = await asyncio.gather(
        *(join(client, event.code, device_id=device, name=f"Tap {i}") for i in range(50))
    )
    assert sorted(r.status_code for r in responses) == [200] * 49 + [201]
    ids = {r.json()["participant"]["id"] for r in responses}
    assert len(ids) == 1
    roster = await client.get(f"/api/events/{event.code}/participants", headers=event.host_headers)
    assert [p["id"] for p in roster.json()["participants"]] == list(ids)
    # Only the newest token works: every older one was revoked by the next join.
    tokens = [r.json()["session_token"] for r in responses]
    client.cookies.clear()
    working = [
        t
        for t in tokens
        if (await client.get("/api/session", headers=bearer(t))).status_code == 200
    ]
    assert len(working) == 1


async def test_two_hundred_devices_racing_for_fifty_seats(client: httpx.AsyncClient) -> None:
    event = await create_event(client, capacity=50)
    responses = await asyncio.gather(*(join(client, event.code) for _ in range(200)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 50
    assert statuses.count(409) == 150
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"event_full"}
    roster = await client.get(f"/api/events/{event.code}/participants", headers=event.host_headers)
    assert len(roster.json()["participants"]) == 50
    read = await client.get(f"/api/events/{event.code}")
    assert read.json()["counts"]["seats_taken"] == 50


async def test_devices_racing_for_one_name_in_many_spellings(client: httpx.AsyncClient) -> None:
    event = await create_event(client)
    spellings = ["Ana", "ana", "Ａｎａ", " Ana ", "ANA", "Ana\u200b", "ａｎａ", "Ana  "] * 3
    responses = await asyncio.gather(*(join(client, event.code, name=n) for n in spellings))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (len(spellings) - 1)
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"name_taken"}


async def test_leave_then_join_again_brings_the_same_participant_back(
    client: httpx.AsyncClient,
) -> None:
    event = await create_event(client, capacity=1)
    device = new_device()
    first = (await join(client, event.code, device_id=device, name="Ana")).json()
    client.cookies.clear()
    left = await client.delete("/api/session", headers=bearer(first["session_token"]))
    assert left.status_code == 204
    gone = await client.get("/api/session", headers=bearer(first["session_token"]))
    assert gone.status_code == 401
    roster = await client.get(f"/api/events/{event.code}/participants", headers=event.host_headers)
    assert roster.json()["participants"][0]["presence"] == "left"
    # Whoever left keeps the seat: a newcomer cannot take it, the leaver can come back.
    assert (await join(client, event.code)).json()["code"] == "event_full"
    back = await join(client, event.code, device_id=device, name="Ana")
    assert back.status_code == 200
    assert back.json()["participant"]["id"] == first["participant"]["id"]
    assert back.json()["participant"]["status"] == "active"


async def test_a_name_stays_with_its_device(client: httpx.AsyncClient) -> None:
    event = await create_event(client)
    assert (await join(client, event.code, name="Bo")).status_code == 201
    taken = await join(client, event.code, name="bo")
    assert taken.status_code == 409
    assert taken.json()["code"] == "name_taken"
