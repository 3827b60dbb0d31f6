"""Events: create, read, update, the QR code, and who may do what."""

from __future__ import annotations

import io

import httpx
import pytest
import segno

from rollcall.app import create_app
from rollcall.settings import Settings
from tests.factories import create_event, join


async def test_create_returns_the_links_and_a_host_token_once(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/events", json={"title": "  Pub quiz ", "capacity": 40})
    assert response.status_code == 201
    data = response.json()
    code = data["event"]["code"]
    assert len(code) == 6 and set(code) <= set("23456789ABCDEFGHJKMNPQRSTVWXYZ")
    assert data["event"]["title"] == "Pub quiz"
    assert data["event"]["capacity"] == 40
    assert data["event"]["status"] == "open"
    assert data["join_url"] == f"http://rollcall.test/j/{code}"
    assert data["host_url"] == f"http://rollcall.test/host/{code}"
    public = (await client.get(f"/api/events/{code}")).json()
    assert "host_token" not in public and public["counts"]["seats_taken"] == 0


async def test_titles_and_team_names_lose_format_characters(client: httpx.AsyncClient) -> None:
    """A bidi override or a zero-width character would make a title show other than it reads."""
    response = await client.post(
        "/api/events",
        json={
            "title": "\u202eQuiz\u200b night\u2066 ",
            "teams": [{"id": "red", "name": "Red\u200d\u202e team"}],
        },
    )
    assert response.status_code == 201, response.text
    event = response.json()["event"]
    assert event["title"] == "Quiz night"
    assert [team["name"] for team in event["teams"]] == ["Red team"]
    code, host = event["code"], {"authorization": f"Bearer {response.json()['host_token']}"}
    renamed = await client.patch(
        f"/api/events/{code}", json={"title": "\ufeffFinal\u200e round"}, headers=host
    )
    assert renamed.json()["title"] == "Final round"
    for invisible in ("\u200b\u200b", "\u202e \u2066"):
        refused = await client.post("/api/events", json={"title": invisible})
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "title"


async def test_the_qr_code_is_an_svg(client: httpx.AsyncClient) -> None:
    event = await create_event(client)
    response = await client.get(f"/api/events/{event.code}/qr.svg")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.text.lstrip().startswith("<svg")


async def test_the_qr_code_with_a_room_check_draws_the_link_that_carries_it(
    client: httpx.AsyncClient,
) -> None:
    event = await create_event(client)
    response = await client.get(f"/api/events/{event.code}/qr.svg?rc=0427")
    assert response.status_code == 200
    drawn = io.BytesIO()
    segno.make(f"http://rollcall.test/j/{event.code}?rc=0427", error="m").save(
        drawn, kind="svg", scale=10, border=2, xmldecl=False, title="Join Friday quiz"
    )
    assert response.text == drawn.getvalue().decode()
    for bad in ["427", "04270", "abcd", "０４２７"]:
        refused = await client.get(f"/api/events/{event.code}/qr.svg", params={"rc": bad})
        assert refused.status_code == 422, bad


async def test_counts_follow_the_roster(client: httpx.AsyncClient) -> None:
    event = await create_event(client)
    for _ in range(3):
        await join(client, event.code)
    counts = (await client.get(f"/api/events/{event.code}")).json()["counts"]
    assert counts["active"] == 3 and counts["online"] == 3 and counts["seats_taken"] == 3


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "/api/events/{code}", {"title": "Mine now"}),
        ("GET", "/api/events/{code}/participants", None),
        ("PATCH", "/api/events/{code}/participants/{pid}", {"state": {"score": 100}}),
        ("POST", "/api/events/{code}/participants/{pid}/kick", None),
    ],
)
async def test_host_routes_need_this_events_host_token(
    client: httpx.AsyncClient, method: str, path: str, body: dict[str, object] | None
) -> None:
    event = await create_event(client)
    other = await create_event(client, title="Another event")
    pid = (await join(client, event.code)).json()["participant"]["id"]
    url = path.format(code=event.code, pid=pid)
    client.cookies.clear()
    for headers in (
        {},
        {"Authorization": "Bearer not-a-real-token"},
        {"Authorization": f"Basic {event.host_token}"},
        other.host_headers,
    ):
        response = await client.request(method, url, json=body, headers=headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.json()["code"] == "invalid_token"
        assert response.headers["content-type"] == "application/problem+json"
    allowed = await client.request(method, url, json=body, headers=event.host_headers)
    assert allowed.status_code == 200


async def test_creating_events_can_be_reserved_to_an_admin_token(
    settings: Settings, database_url: str
) -> None:
    admin = "a-long-admin-token-for-tests"
    app = create_app(settings.model_copy(update={"admin_token": admin}), database_url=database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://rollcall.test"
        ) as client:
            refused = await client.post("/api/events", json={"title": "x"})
            wrong = await client.post(
                "/api/events", json={"title": "x"}, headers={"Authorization": "Bearer nope"}
            )
            allowed = await client.post(
                "/api/events", json={"title": "x"}, headers={"Authorization": f"Bearer {admin}"}
            )
    assert refused.status_code == 401 and wrong.status_code == 401
    assert allowed.status_code == 201


def test_settings_refuse_a_weak_admin_token() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        Settings(admin_token="short")


def test_settings_refuse_a_timeout_shorter_than_the_heartbeat() -> None:
    with pytest.raises(ValueError, match="longer than"):
        Settings(heartbeat_interval_s=10, presence_timeout_s=5)


async def test_the_event_says_when_every_seat_is_taken(client: httpx.AsyncClient) -> None:
    event = await create_event(client, title="Full", capacity=1)

    async def full() -> bool:
        return bool((await client.get(f"/api/events/{event.code}")).json()["counts"]["full"])

    assert not await full()
    assert (await join(client, event.code, name="Ana")).status_code == 201
    assert await full()
    switched = await client.patch(
        f"/api/events/{event.code}", json={"admission": "approval"}, headers=event.host_headers
    )
    assert switched.status_code == 200
    # Full still: a newcomer may wait for a seat now, and holds none while waiting.
    assert (await join(client, event.code, name="Bo")).status_code == 202
    assert await full()
    raised = await client.patch(
        f"/api/events/{event.code}", json={"capacity": 2}, headers=event.host_headers
    )
    assert raised.status_code == 200
    assert not await full()
