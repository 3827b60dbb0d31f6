"""What the host does to participants: kick, lock, close, change state."""

from __future__ import annotations

import httpx

from tests.factories import bearer, create_event, join, new_device


async def test_kick_ends_the_session_and_keeps_the_device_out(client: httpx.AsyncClient) -> None:
    event = await create_event(client, capacity=2)
    device = new_device()
    kicked = (await join(client, event.code, device_id=device, name="Troll")).json()
    other = (await join(client, event.code, name="Nice")).json()
    pid = kicked["participant"]["id"]

    response = await client.post(
        f"/api/events/{event.code}/participants/{pid}/kick", headers=event.host_headers
    )
    assert response.status_code == 200
    assert response.json()["status"] == "kicked"

    client.cookies.clear()
    refused = await client.get("/api/session", headers=bearer(kicked["session_token"]))
    assert refused.status_code == 401
    for name in ("Troll", "A new name"):
        again = await join(client, event.code, device_id=device, name=name)
        assert again.status_code == 403
        assert again.json()["code"] == "device_banned"
    # The other participant is untouched, and the kicked seat is free for a newcomer.
    assert (
        await client.get("/api/session", headers=bearer(other["session_token"]))
    ).status_code == 200
    assert (await join(client, event.code)).status_code == 201
    roster = (
        await client.get(f"/api/events/{event.code}/participants", headers=event.host_headers)
    ).json()["participants"]
    assert {p["display_name"]: p["presence"] for p in roster}["Troll"] == "kicked"


async def test_a_banned_device_is_told_so_even_when_the_event_is_locked_or_full(
    client: httpx.AsyncClient,
) -> None:
    event = await create_event(client, capacity=1)
    device = new_device()
    pid = (await join(client, event.code, device_id=device)).json()["participant"]["id"]
    await client.post(
        f"/api/events/{event.code}/participants/{pid}/kick", headers=event.host_headers
    )
    await join(client, event.code)  # the freed seat is taken again: the event is full
    assert (await join(client, event.code, device_id=device)).json()["code"] == "device_banned"
    await client.patch(
        f"/api/events/{event.code}", json={"status": "locked"}, headers=event.host_headers
    )
    assert (await join(client, event.code, device_id=device)).json()["code"] == "device_banned"


async def test_locked_refuses_newcomers_and_lets_known_devices_back(
    client: httpx.AsyncClient,
) -> None:
    event = await create_event(client)
    device = new_device()
    pid = (await join(client, event.code, device_id=device)).json()["participant"]["id"]
    locked = await client.patch(
        f"/api/events/{event.code}", json={"status": "locked"}, headers=event.host_headers
    )
    assert locked.status_code == 200 and locked.json()["status"] == "locked"
    newcomer = await join(client, event.code)
    assert newcomer.status_code == 403
    assert newcomer.json()["code"] == "event_locked"
    known = await join(client, event.code, device_id=device)
    assert known.status_code == 200
    assert known.json()["participant"]["id"] == pid


async def test_closing_ends_every_session_and_every_join(client: httpx.AsyncClient) -> None:
    event = await create_event(client)
    device = new_device()
    tokens = [(await join(client, event.code, device_id=device)).json()["session_token"]]
    tokens += [(await join(client, event.code)).json()["session_token"] for _ in range(3)]
    closed = await client.patch(
        f"/api/events/{event.code}", json={"status": "closed"}, headers=event.host_headers
    )
    assert closed.status_code == 200
    client.cookies.clear()
    for token in tokens:
        assert (await client.get("/api/session", headers=bearer(token))).status_code == 401
        beat = await client.post("/api/session/heartbeat", headers=bearer(token))
        assert beat.status_code == 401
    for device_id in (device, new_device()):
        refused = await join(client, event.code, device_id=device_id)
        assert refused.status_code == 410
        assert refused.json()["code"] == "event_closed"
    reopen = await client.patch(
        f"/api/events/{event.code}", json={"status": "open"}, headers=event.host_headers
    )
    assert reopen.status_code == 410
    assert reopen.json()["code"] == "event_closed"


async def test_state_is_a_merge_patch_with_a_growing_version(client: httpx.AsyncClient) -> None:
    event = await create_event(client)
    joined = (await join(client, event.code)).json()
    path = f"/api/events/{event.code}/participants/{joined['participant']['id']}"
    first = await client.patch(
        path, json={"state": {"score": 1, "team": "red"}}, headers=event.host_headers
    )
    assert first.json()["state"] == {"score": 1, "team": "red"}
    second = await client.patch(
        path, json={"state": {"score": 2, "team": None}}, headers=event.host_headers
    )
    assert second.status_code == 200
    assert second.json()["state"] == {"score": 2}
    assert second.json()["version"] == first.json()["version"] + 1
    client.cookies.clear()
    mine = await client.get("/api/session", headers=bearer(joined["session_token"]))
    assert mine.json()["participant"]["state"] == {"score": 2}


async def test_lowering_capacity_removes_nobody(client: httpx.AsyncClient) -> None:
    event = await create_event(client, capacity=5)
    tokens = [(await join(client, event.code)).json()["session_token"] for _ in range(4)]
    lowered = await client.patch(
        f"/api/events/{event.code}", json={"capacity": 2}, headers=event.host_headers
    )
    assert lowered.status_code == 200 and lowered.json()["capacity"] == 2
    assert (await join(client, event.code)).json()["code"] == "event_full"
    client.cookies.clear()
    for token in tokens:
        assert (await client.get("/api/session", headers=bearer(token))).status_code == 200
