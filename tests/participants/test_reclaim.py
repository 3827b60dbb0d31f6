"""Seat reclaim: a participant moves to another phone with their recovery code."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from rollcall.app import create_app
from rollcall.settings import Settings
from tests.factories import HostedEvent, bearer, create_event, join, new_device

CODE_SHAPE = re.compile(r"^[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}$")


async def maya_with_seven(client: httpx.AsyncClient, event: HostedEvent) -> dict[str, object]:
    joined = await join(client, event.code, device_id=new_device(), name="Maya")
    assert joined.status_code == 201
    data: dict[str, object] = joined.json()
    pid = data["participant"]["id"]  # type: ignore[index]
    await client.patch(
        f"/api/events/{event.code}/participants/{pid}",
        json={"state": {"score": 7}},
        headers=event.host_headers,
    )
    return data


async def test_the_code_is_in_the_join_answer_and_the_session(client: httpx.AsyncClient) -> None:
    event = await create_event(client)
    maya = await maya_with_seven(client, event)
    code = maya["recovery_code"]
    assert isinstance(code, str) and CODE_SHAPE.match(code)
    client.cookies.clear()
    session = await client.get("/api/session", headers=bearer(str(maya["session_token"])))
    assert session.json()["recovery_code"] == code


@pytest.mark.parametrize("spelling", ["as shown", "lower case", "no dash"])
async def test_a_new_phone_takes_the_seat_along(client: httpx.AsyncClient, spelling: str) -> None:
    event = await create_event(client)
    maya = await maya_with_seven(client, event)
    code = str(maya["recovery_code"])
    typed = {"as shown": code, "lower case": code.lower(), "no dash": code.replace("-", "")}[
        spelling
    ]
    moved = await join(client, event.code, name="Whatever", recovery_code=typed)
    assert moved.status_code == 200
    data = moved.json()
    assert data["rejoined"] is True and data["reclaimed"] is True
    assert data["participant"]["id"] == maya["participant"]["id"]  # type: ignore[index]
    assert data["participant"]["display_name"] == "Maya"
    assert data["participant"]["state"] == {"score": 7}
    assert data["session_token"] != maya["session_token"]
    assert data["recovery_code"] != code  # a used code is used up
    client.cookies.clear()
    old = await client.get("/api/session", headers=bearer(str(maya["session_token"])))
    assert old.status_code == 401
    assert (
        await client.get("/api/session", headers=bearer(data["session_token"]))
    ).status_code == 200
    roster = await client.get(f"/api/events/{event.code}/participants", headers=event.host_headers)
    assert [p["display_name"] for p in roster.json()["participants"]] == ["Maya"]


async def test_the_old_phone_is_a_stranger_afterwards(client: httpx.AsyncClient) -> None:
    event = await create_event(client)
    old_device = new_device()
    maya = (await join(client, event.code, device_id=old_device, name="Maya")).json()
    await join(client, event.code, recovery_code=maya["recovery_code"])
    again = await join(client, event.code, device_id=old_device, name="Maya")
    assert again.status_code == 409 and again.json()["code"] == "name_taken"
    stranger = await join(client, event.code, device_id=old_device, name="Maya's old phone")
    assert stranger.status_code == 201
    assert stranger.json()["participant"]["id"] != maya["participant"]["id"]


async def test_wrong_codes_other_events_and_kicked_participants(client: httpx.AsyncClient) -> None:
    event = await create_event(client)
    other = await create_event(client)
    maya = (await join(client, event.code, name="Maya")).json()
    elsewhere = (await join(client, other.code, name="Maya")).json()
    wrong = await join(client, event.code, recovery_code="2222-2222")
    assert wrong.status_code == 403 and wrong.json()["code"] == "recovery_code_invalid"
    foreign = await join(client, event.code, recovery_code=elsewhere["recovery_code"])
    assert foreign.status_code == 403 and foreign.json()["code"] == "recovery_code_invalid"
    malformed = await join(client, event.code, recovery_code="ABCD-EFG1")
    assert malformed.status_code == 422
    await client.post(
        f"/api/events/{event.code}/participants/{maya['participant']['id']}/kick",
        headers=event.host_headers,
    )
    kicked = await join(client, event.code, recovery_code=maya["recovery_code"])
    assert kicked.status_code == 403 and kicked.json()["code"] == "device_banned"


async def test_two_new_phones_reclaiming_at_once_one_wins(client: httpx.AsyncClient) -> None:
    event = await create_event(client)
    maya = (await join(client, event.code, name="Maya")).json()
    devices = [new_device() for _ in range(2)]
    answers = await asyncio.gather(
        *(
            join(client, event.code, device_id=d, recovery_code=maya["recovery_code"])
            for d in devices
        )
    )
    assert sorted(a.status_code for a in answers) == [200, 403]
    winner = next(a for a in answers if a.status_code == 200)
    loser_device = devices[[a.status_code for a in answers].index(403)]
    # The seat is on the winner's device only: the loser is a stranger.
    assert (await join(client, event.code, device_id=loser_device, name="Late")).status_code == 201
    client.cookies.clear()
    session = await client.get("/api/session", headers=bearer(winner.json()["session_token"]))
    assert session.json()["participant"]["id"] == maya["participant"]["id"]


async def test_reclaim_into_a_locked_or_full_event_works(client: httpx.AsyncClient) -> None:
    event = await create_event(client, capacity=1)
    maya = (await join(client, event.code, name="Maya")).json()
    assert (await join(client, event.code)).json()["code"] == "event_full"
    full = await join(client, event.code, recovery_code=maya["recovery_code"])
    assert full.status_code == 200
    await client.patch(
        f"/api/events/{event.code}", json={"status": "locked"}, headers=event.host_headers
    )
    locked = await join(client, event.code, recovery_code=full.json()["recovery_code"])
    assert locked.status_code == 200
    assert locked.json()["participant"]["id"] == maya["participant"]["id"]


async def test_reclaim_off_and_with_approval(client: httpx.AsyncClient) -> None:
    event = await create_event(client, reclaim="off")
    maya = (await join(client, event.code, name="Maya")).json()
    off = await join(client, event.code, recovery_code=maya["recovery_code"])
    assert off.status_code == 403 and off.json()["code"] == "reclaim_disabled"

    await client.patch(
        f"/api/events/{event.code}", json={"reclaim": "approval"}, headers=event.host_headers
    )
    asked = await join(client, event.code, recovery_code=maya["recovery_code"])
    assert asked.status_code == 202
    request = asked.json()["participant"]
    assert request["status"] == "pending" and request["reclaims"] == maya["participant"]["id"]
    assert request["display_name"] == "Maya" and request["id"] != maya["participant"]["id"]
    client.cookies.clear()
    # Until the host admits it, the old phone keeps the seat.
    assert (
        await client.get("/api/session", headers=bearer(maya["session_token"]))
    ).status_code == 200
    admitted = await client.post(
        f"/api/events/{event.code}/participants/{request['id']}/admit", headers=event.host_headers
    )
    assert admitted.status_code == 200 and admitted.json()["id"] == maya["participant"]["id"]
    assert (
        await client.get("/api/session", headers=bearer(maya["session_token"]))
    ).status_code == 401
    moved = await client.get("/api/session", headers=bearer(asked.json()["session_token"]))
    assert moved.json()["participant"]["id"] == maya["participant"]["id"]
    roster = await client.get(f"/api/events/{event.code}/participants", headers=event.host_headers)
    assert [p["id"] for p in roster.json()["participants"]] == [maya["participant"]["id"]]


async def test_the_host_resets_one_participants_code(client: httpx.AsyncClient) -> None:
    event = await create_event(client)
    maya = (await join(client, event.code, name="Maya")).json()
    reset = await client.post(
        f"/api/events/{event.code}/participants/{maya['participant']['id']}/recovery-code",
        headers=event.host_headers,
    )
    assert reset.status_code == 200
    fresh = reset.json()["recovery_code"]
    assert CODE_SHAPE.match(fresh) and fresh != maya["recovery_code"]
    stale = await join(client, event.code, recovery_code=maya["recovery_code"])
    assert stale.json()["code"] == "recovery_code_invalid"
    assert (await join(client, event.code, recovery_code=fresh)).status_code == 200


@pytest.fixture
async def guarded(settings: Settings, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app with the default guess limit (every request here comes from one address)."""
    defaults = Settings.model_fields["limit_guesses"].default
    app = create_app(
        settings.model_copy(update={"limit_guesses": defaults}), database_url=database_url
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rollcall.test") as c:
            yield c


async def test_a_thousand_guesses_from_one_address_are_stopped_long_before_any_success(
    guarded: httpx.AsyncClient,
) -> None:
    event = await create_event(guarded)
    maya = (await join(guarded, event.code, name="Maya")).json()
    alphabet = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
    guesses = ["".join(alphabet[(i * 7 + k * 13) % 30] for k in range(8)) for i in range(1000)]
    statuses = []
    for i in range(0, 1000, 100):  # in waves, as a script would send them
        answers = await asyncio.gather(
            *(join(guarded, event.code, recovery_code=g) for g in guesses[i : i + 100])
        )
        statuses += [a.status_code for a in answers]
        assert all(int(a.headers["retry-after"]) >= 1 for a in answers if a.status_code == 429)
    assert statuses.count(403) == 30 and statuses.count(429) == 970
    assert 200 not in statuses
    # Even the right code is refused from that address now; other joins are not guesses.
    right = await join(guarded, event.code, recovery_code=maya["recovery_code"])
    assert right.status_code == 429 and right.json()["code"] == "rate_limited"
    assert (await join(guarded, event.code)).status_code == 201
