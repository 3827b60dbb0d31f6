"""Seats without a phone, and the host's rename."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import HostedEvent, bearer, create_event, join, new_device

TEAMS = [{"id": "red", "name": "Red"}, {"id": "blue", "name": "Blue"}]


async def add_seat(client: httpx.AsyncClient, event: HostedEvent, **body: Any) -> httpx.Response:
    return await client.post(
        f"/api/events/{event.code}/participants", json=body, headers=event.host_headers
    )


async def roster(client: httpx.AsyncClient, event: HostedEvent) -> list[dict[str, Any]]:
    answer = await client.get(f"/api/events/{event.code}/participants", headers=event.host_headers)
    participants: list[dict[str, Any]] = answer.json()["participants"]
    return participants


@pytest.mark.parametrize("reclaim", ["auto", "approval", "off"])
async def test_a_seat_without_a_phone_is_taken_by_a_phone(
    client: httpx.AsyncClient, reclaim: str
) -> None:
    """The seat keeps its id, team and state; the event's reclaim switch does not hold it."""
    event = await create_event(client, capacity=3, teams=TEAMS, reclaim=reclaim)
    seated = await add_seat(client, event, display_name="Grandpa Joe", team="blue")
    assert seated.status_code == 201, seated.text
    participant, code = seated.json()["participant"], seated.json()["recovery_code"]
    assert participant["has_phone"] is False and participant["team"] == "blue"
    pid = participant["id"]
    await client.patch(
        f"/api/events/{event.code}/participants/{pid}",
        json={"state": {"score": 3}},
        headers=event.host_headers,
    )
    [entry] = await roster(client, event)
    assert (entry["presence"], entry["has_phone"], entry["status"]) == ("offline", False, "active")
    described = (await client.get(f"/api/events/{event.code}")).json()
    assert described["counts"]["seats_taken"] == 1

    taken = await join(client, event.code, name="Ignored", recovery_code=code)
    assert taken.status_code == 200, taken.text
    now = taken.json()["participant"]
    assert (now["id"], now["team"], now["state"], now["display_name"]) == (
        pid,
        "blue",
        {"score": 3},
        "Grandpa Joe",
    )
    assert now["has_phone"] is True and taken.json()["reclaimed"] is True
    [entry] = await roster(client, event)
    assert (entry["presence"], entry["has_phone"]) == ("online", True)
    client.cookies.clear()
    session = await client.get("/api/session", headers=bearer(taken.json()["session_token"]))
    assert session.json()["participant"]["id"] == pid
    # The roll call: the seat's team, and a phone taking a seat that had none is no move.
    attendance = await client.get(
        f"/api/events/{event.code}/attendance", headers=event.host_headers
    )
    [row] = attendance.json()["participants"]
    assert (row["id"], row["team"], row["reclaims"]) == (pid, "blue", 0)
    # The code was used up; the seat is a phone's now, and the usual reclaim rules apply.
    again = await join(client, event.code, name="Someone", recovery_code=code)
    assert again.status_code == 403


async def test_a_seat_without_a_phone_follows_the_name_rules_and_capacity(
    client: httpx.AsyncClient,
) -> None:
    event = await create_event(client, capacity=2, teams=TEAMS, blocked_words=["badword"])
    await join(client, event.code, name="Ann")
    taken = await add_seat(client, event, display_name="ANN")
    assert (taken.status_code, taken.json()["code"]) == (409, "name_taken")
    refused = await add_seat(client, event, display_name="b4dw0rd")
    assert (refused.status_code, refused.json()["code"]) == (422, "name_not_allowed")
    unknown = await add_seat(client, event, display_name="Bo", team="green")
    assert (unknown.status_code, unknown.json()["code"]) == (422, "team_not_found")
    assert (await add_seat(client, event, display_name="Bo")).status_code == 201
    full = await add_seat(client, event, display_name="Cy")
    assert (full.status_code, full.json()["code"]) == (409, "event_full")
    assert (await add_seat(client, event)).status_code == 422
    assert (await client.post(f"/api/events/{event.code}/participants", json={})).status_code == 401


async def test_the_recovery_qr_is_the_hosts(client: httpx.AsyncClient) -> None:
    event = await create_event(client)
    pid = (await add_seat(client, event, display_name="Nan")).json()["participant"]["id"]
    path = f"/api/events/{event.code}/participants/{pid}/recovery-qr.svg"
    assert (await client.get(path)).status_code == 401
    qr = await client.get(path, headers=event.host_headers)
    assert qr.status_code == 200 and qr.headers["content-type"].startswith("image/svg+xml")
    assert qr.headers["cache-control"] == "no-store"
    missing = await client.get(
        f"/api/events/{event.code}/participants/{new_device()}/recovery-qr.svg",
        headers=event.host_headers,
    )
    assert missing.status_code == 404


async def test_rename_and_its_409(client: httpx.AsyncClient) -> None:
    event = await create_event(client, blocked_words=["badword"])
    ann = (await join(client, event.code, name="Ann")).json()
    await join(client, event.code, name="Bob")
    path = f"/api/events/{event.code}/participants/{ann['participant']['id']}"
    renamed = await client.patch(path, json={"display_name": " Annie "}, headers=event.host_headers)
    assert renamed.status_code == 200 and renamed.json()["display_name"] == "Annie"
    client.cookies.clear()
    session = await client.get("/api/session", headers=bearer(ann["session_token"]))
    assert session.json()["participant"]["display_name"] == "Annie"
    # The old name is free again; the new one is taken, look-alikes included.
    assert (await join(client, event.code, name="Ann")).status_code == 201
    assert (await join(client, event.code, name="ANNIE")).status_code == 409
    for name, code in [("bob", "name_taken"), ("B\u043eb", "name_taken")]:
        taken = await client.patch(path, json={"display_name": name}, headers=event.host_headers)
        assert (taken.status_code, taken.json()["code"]) == (409, code)
    refused = await client.patch(
        path, json={"display_name": "B a d w o r d"}, headers=event.host_headers
    )
    assert (refused.status_code, refused.json()["code"]) == (422, "name_not_allowed")
    for bad in ["", "x" * 33, "A\tB", None]:
        invalid = await client.patch(path, json={"display_name": bad}, headers=event.host_headers)
        assert (invalid.status_code, invalid.json()["code"]) == (422, "validation_error")
    nothing = await client.patch(path, json={}, headers=event.host_headers)
    assert nothing.status_code == 422
    # All or nothing: a refused name leaves the state as it was.
    both = await client.patch(
        path, json={"display_name": "Bob", "state": {"score": 1}}, headers=event.host_headers
    )
    assert both.status_code == 409
    names = {p["display_name"]: p["state"] for p in await roster(client, event)}
    assert names["Annie"] == {}


async def test_a_renamed_participant_keeps_the_new_name_through_a_rejoin(
    client: httpx.AsyncClient,
) -> None:
    event = await create_event(client)
    device = new_device()
    pid = (await join(client, event.code, device_id=device, name="Kid")).json()["participant"]["id"]
    await client.patch(
        f"/api/events/{event.code}/participants/{pid}",
        json={"display_name": "Kim"},
        headers=event.host_headers,
    )
    again = await join(client, event.code, device_id=device, name="Kid")
    assert again.status_code == 200 and again.json()["participant"]["display_name"] == "Kim"
