"""Who may come in: the room check, the waiting room, remove or ban, unban."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest

from tests.factories import HostedEvent, bearer, create_event, join, new_device


async def room_check_code(database_url: str, code: str, windows_ago: int) -> str:
    """The room check code of an earlier time window, as the server would have shown it then."""
    conn = await asyncpg.connect(database_url)
    try:
        value: str = await conn.fetchval(
            """
            SELECT rollcall_room_check(hmac_key, floor(extract(epoch FROM now()) / 30)::bigint - $2)
            FROM events WHERE code = $1
            """,
            code,
            windows_ago,
        )
    finally:
        await conn.close()
    return value


async def roster(client: httpx.AsyncClient, event: HostedEvent) -> list[dict[str, object]]:
    response = await client.get(
        f"/api/events/{event.code}/participants", headers=event.host_headers
    )
    assert response.status_code == 200
    entries: list[dict[str, object]] = response.json()["participants"]
    return entries


async def post(
    client: httpx.AsyncClient, event: HostedEvent, path: str, **kwargs: object
) -> httpx.Response:
    return await client.post(
        f"/api/events/{event.code}{path}", headers=event.host_headers, **kwargs
    )  # type: ignore[arg-type]


# Room check


async def test_with_room_check_on_a_newcomer_needs_the_current_or_the_previous_code(
    client: httpx.AsyncClient, database_url: str
) -> None:
    event = await create_event(client, room_check=True)
    assert event.body["event"]["room_check"] is True
    shown = await client.get(f"/api/events/{event.code}/room-check", headers=event.host_headers)
    assert shown.status_code == 200
    current = shown.json()["code"]
    assert len(current) == 4 and current.isdigit()
    assert shown.json()["join_url"] == f"http://rollcall.test/j/{event.code}?rc={current}"

    for refused in ({}, {"room_check": "0000" if current != "0000" else "1111"}):
        response = await join(client, event.code, **refused)
        assert response.status_code == 403, refused
        assert response.json()["code"] == "room_check_failed"
    previous = await room_check_code(database_url, event.code, 1)
    older = await room_check_code(database_url, event.code, 2)
    assert (await join(client, event.code, room_check=current)).status_code == 201
    assert (await join(client, event.code, room_check=previous)).status_code == 201
    if older not in (current, previous):  # one in 10,000: the old code happens to equal a new one
        stale = await join(client, event.code, room_check=older)
        assert stale.status_code == 403 and stale.json()["code"] == "room_check_failed"


async def test_a_rejoin_never_needs_the_room_check(client: httpx.AsyncClient) -> None:
    event = await create_event(client)
    device = new_device()
    first = await join(client, event.code, device_id=device)
    assert first.status_code == 201
    await client.patch(
        f"/api/events/{event.code}", json={"room_check": True}, headers=event.host_headers
    )
    again = await join(client, event.code, device_id=device)
    assert again.status_code == 200
    assert again.json()["participant"]["id"] == first.json()["participant"]["id"]


@pytest.mark.parametrize("value", ["123", "12345", "abcd", "١٢٣٤", " 1234", 1234])
async def test_a_room_check_that_is_not_four_digits_is_a_validation_error(
    client: httpx.AsyncClient, value: object
) -> None:
    event = await create_event(client, room_check=True)
    response = await join(client, event.code, room_check=value)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "room_check"


async def test_the_room_check_belongs_to_the_host(client: httpx.AsyncClient) -> None:
    event = await create_event(client, room_check=True)
    assert (await client.get(f"/api/events/{event.code}/room-check")).status_code == 401
    assert (await client.get("/api/events/ZZZZZZ/room-check")).json()["code"] == "event_not_found"


# The waiting room


async def test_twenty_phones_wait_the_host_admits_five_then_all(client: httpx.AsyncClient) -> None:
    event = await create_event(client, admission="approval")
    waiting = await asyncio.gather(
        *(join(client, event.code, name=f"Guest {i}") for i in range(20))
    )
    assert [r.status_code for r in waiting] == [202] * 20
    assert {r.json()["participant"]["status"] for r in waiting} == {"pending"}
    read = (await client.get(f"/api/events/{event.code}")).json()
    assert read["counts"]["pending"] == 20 and read["counts"]["seats_taken"] == 0

    # A waiting phone restores its page like any other.
    client.cookies.clear()
    session = await client.get("/api/session", headers=bearer(waiting[0].json()["session_token"]))
    assert session.status_code == 200
    assert session.json()["participant"]["status"] == "pending"

    first_five = [r.json()["participant"]["id"] for r in waiting[:5]]
    admitted = await post(client, event, "/admit", json={"participant_ids": first_five})
    assert admitted.status_code == 200 and admitted.json() == {"admitted": 5}
    rest = await post(client, event, "/admit", json={"all": True})
    assert rest.status_code == 200 and rest.json() == {"admitted": 15}
    entries = await roster(client, event)
    assert len(entries) == 20 and {e["status"] for e in entries} == {"active"}
    assert (await client.get(f"/api/events/{event.code}")).json()["counts"]["seats_taken"] == 20


async def test_admit_all_from_two_hosts_at_once_never_passes_the_capacity(
    client: httpx.AsyncClient,
) -> None:
    event = await create_event(client, capacity=10, admission="approval")
    await asyncio.gather(*(join(client, event.code) for _ in range(25)))
    answers = await asyncio.gather(
        *(post(client, event, "/admit", json={"all": True}) for _ in range(2))
    )
    admitted = [a.json()["admitted"] for a in answers if a.status_code == 200]
    assert sum(admitted) == 10
    assert all(a.json()["code"] == "event_full" for a in answers if a.status_code != 200)
    entries = await roster(client, event)
    assert sum(e["status"] == "active" for e in entries) == 10
    assert sum(e["status"] == "pending" for e in entries) == 15
    # The first to arrive were let in.
    by_join = sorted(entries, key=lambda e: str(e["joined_at"]))
    assert {e["status"] for e in by_join[:10]} == {"active"}
    single = await post(client, event, f"/participants/{by_join[-1]['id']}/admit")
    assert single.status_code == 409 and single.json()["code"] == "event_full"


async def test_admit_one_and_the_wrong_status_or_event_are_clear_problems(
    client: httpx.AsyncClient,
) -> None:
    event = await create_event(client, admission="approval")
    other = await create_event(client)
    pid = (await join(client, event.code)).json()["participant"]["id"]
    admitted = await post(client, event, f"/participants/{pid}/admit")
    assert admitted.status_code == 200 and admitted.json()["status"] == "active"
    again = await post(client, event, f"/participants/{pid}/admit")
    assert again.status_code == 409 and again.json()["code"] == "participant_not_pending"
    denied = await post(client, event, f"/participants/{pid}/deny")
    assert denied.status_code == 409 and denied.json()["code"] == "participant_not_pending"
    unbanned = await post(client, event, f"/participants/{pid}/unban")
    assert unbanned.status_code == 409 and unbanned.json()["code"] == "participant_not_kicked"
    for path in ("admit", "deny", "unban", "kick"):
        foreign = await post(client, other, f"/participants/{pid}/{path}")
        assert foreign.status_code == 404, path
        assert foreign.json()["code"] == "participant_not_found"
    bad = await post(client, event, "/admit", json={"all": True, "participant_ids": [pid]})
    assert bad.status_code == 422


async def test_a_denied_phone_stays_out_and_a_waiting_one_keeps_waiting(
    client: httpx.AsyncClient,
) -> None:
    event = await create_event(client, admission="approval")
    denied_device, waiting_device = new_device(), new_device()
    denied = (await join(client, event.code, device_id=denied_device, name="Bot")).json()
    waiting = (await join(client, event.code, device_id=waiting_device, name="Ana")).json()
    response = await post(client, event, f"/participants/{denied['participant']['id']}/deny")
    assert response.status_code == 200 and response.json()["status"] == "kicked"
    for name in ("Bot", "Someone else"):
        refused = await join(client, event.code, device_id=denied_device, name=name)
        assert refused.status_code == 403 and refused.json()["code"] == "device_banned"
    back = await join(client, event.code, device_id=waiting_device, name="Ana")
    assert back.status_code == 200
    assert back.json()["participant"]["id"] == waiting["participant"]["id"]
    assert back.json()["participant"]["status"] == "pending"
    # Name rules apply to waiting participants too; a denied one's name is free.
    taken = await join(client, event.code, name="ana")
    assert taken.status_code == 409 and taken.json()["code"] == "name_taken"
    assert (await join(client, event.code, name="Bot")).status_code == 202


async def test_a_waiting_participant_holds_no_seat(client: httpx.AsyncClient) -> None:
    event = await create_event(client, capacity=1, admission="approval")
    waiting = [(await join(client, event.code)).json()["participant"]["id"] for _ in range(3)]
    assert (await post(client, event, f"/participants/{waiting[0]}/admit")).status_code == 200
    full = await post(client, event, f"/participants/{waiting[1]}/admit")
    assert full.status_code == 409 and full.json()["code"] == "event_full"
    await client.patch(
        f"/api/events/{event.code}", json={"capacity": 3}, headers=event.host_headers
    )
    assert (await post(client, event, "/admit", json={"all": True})).json() == {"admitted": 2}


# Remove or ban, unban


async def test_remove_without_ban_lets_the_device_back_as_the_same_participant(
    client: httpx.AsyncClient,
) -> None:
    event = await create_event(client, capacity=1)
    device = new_device()
    joined = (await join(client, event.code, device_id=device, name="Ana")).json()
    pid = joined["participant"]["id"]
    await client.patch(
        f"/api/events/{event.code}/participants/{pid}",
        json={"state": {"score": 4}},
        headers=event.host_headers,
    )
    removed = await post(client, event, f"/participants/{pid}/kick", json={"ban": False})
    assert removed.status_code == 200 and removed.json()["status"] == "left"
    client.cookies.clear()
    assert (
        await client.get("/api/session", headers=bearer(joined["session_token"]))
    ).status_code == 401
    back = await join(client, event.code, device_id=device, name="Ana")
    assert back.status_code == 200
    assert back.json()["participant"]["id"] == pid
    assert back.json()["participant"]["state"] == {"score": 4}


async def test_a_ban_keeps_the_device_out_unban_lets_it_back_and_a_kick_frees_the_name(
    client: httpx.AsyncClient,
) -> None:
    event = await create_event(client)
    device = new_device()
    pid = (await join(client, event.code, device_id=device, name="Alice")).json()["participant"][
        "id"
    ]
    banned = await post(client, event, f"/participants/{pid}/kick", json={"ban": True})
    assert banned.status_code == 200 and banned.json()["status"] == "kicked"
    assert (await join(client, event.code, device_id=device)).json()["code"] == "device_banned"
    # The real Alice takes the name at once.
    real = await join(client, event.code, name="alice")
    assert real.status_code == 201
    # Let back while the name is taken: refused, clearly; once it is free, let back.
    refused = await post(client, event, f"/participants/{pid}/unban")
    assert refused.status_code == 409 and refused.json()["code"] == "name_taken"
    await post(client, event, f"/participants/{real.json()['participant']['id']}/kick")
    unbanned = await post(client, event, f"/participants/{pid}/unban")
    assert unbanned.status_code == 200 and unbanned.json()["status"] == "left"
    back = await join(client, event.code, device_id=device)
    assert back.status_code == 200 and back.json()["participant"]["id"] == pid


async def test_kick_with_an_empty_body_still_bans(client: httpx.AsyncClient) -> None:
    event = await create_event(client)
    device = new_device()
    pid = (await join(client, event.code, device_id=device)).json()["participant"]["id"]
    response = await post(client, event, f"/participants/{pid}/kick")
    assert response.status_code == 200 and response.json()["status"] == "kicked"
    bad = await post(client, event, f"/participants/{pid}/kick", json={"ban": "maybe"})
    assert bad.status_code == 422


async def test_remove_everyone_who_joined_in_the_last_minutes(
    client: httpx.AsyncClient, database_url: str
) -> None:
    event = await create_event(client)
    early = (await join(client, event.code, name="Early")).json()["participant"]["id"]
    conn = await asyncpg.connect(database_url)
    try:  # the early joiner came ten minutes before the flood
        await conn.execute(
            "UPDATE event_participants SET join_timestamp = join_timestamp - interval '10 min'"
            " WHERE id = $1",
            early,
        )
    finally:
        await conn.close()
    flood = await asyncio.gather(*(join(client, event.code) for _ in range(30)))
    removed = await post(client, event, "/kick", json={"joined_within_s": 300})
    assert removed.status_code == 200 and removed.json() == {"removed": 30}
    statuses = {e["id"]: e["status"] for e in await roster(client, event)}
    assert statuses[early] == "active"
    assert {statuses[f.json()["participant"]["id"]] for f in flood} == {"kicked"}
    bad = await post(client, event, "/kick", json={"joined_within_s": 0})
    assert bad.status_code == 422
