"""Screenshots of the three pages at a phone's size and a projector's, into artifacts/screenshots/.

The room is a realistic one: people online, away, offline, one who left and one removed, with
scores. Two of them are real phones; the others join through the API and beat over HTTP.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.pages import PHONE, PROJECTOR, Host, HostedEvent, Phone, create_event
from tests.factories import new_device
from tests.servers import RollcallServer

pytestmark = pytest.mark.e2e

BEAT_EVERY_S = 0.3  # faster than the server's 0.5 s heartbeat interval in these tests
SCORES = {"Ana": 12, "Bruno": 9, "Chen Wei": 15, "Dara": 4, "Emil": 7, "Farah": 10, "Gus": 3}


def test_screenshots_of_every_page(
    server: RollcallServer,
    api: httpx.Client,
    contexts: Callable[..., BrowserContext],
    phone: Callable[..., Phone],
    host: Callable[..., Host],
    screenshots: Path,
) -> None:
    start = contexts(**PHONE, device_scale_factor=2).new_page()
    start.goto(f"{server.base_url}/")
    _shoot(start, screenshots / "create-phone.png")
    start = contexts(**PROJECTOR).new_page()
    start.goto(f"{server.base_url}/")
    _shoot(start, screenshots / "create-projector.png")

    event = create_event(api, title="Friday quiz night", capacity=40)
    dashboard = host(event)
    tokens = {name: _join(server, event, name) for name in SCORES}

    maya = phone(device_scale_factor=2)
    maya.open(event.code)
    expect(maya.name_field).to_be_visible()
    maya.page.get_by_label("Your name").fill("Maya")
    _shoot(maya.page, screenshots / "join-name-phone.png")
    maya.page.get_by_role("button", name="Join", exact=True).click()
    expect(maya.joined_heading("Maya")).to_be_visible()
    noah = phone(**PROJECTOR)
    noah.join_as(event.code, "Noah")

    with _beating(server, [tokens[name] for name in ("Ana", "Bruno", "Chen Wei", "Dara", "Farah")]):
        _beat(server, tokens["Dara"], away=True)
        api.delete("/api/session", headers=_bearer(tokens["Gus"])).raise_for_status()
        _join(server, event, "Ivo")
        roster = api.get(f"/api/events/{event.code}/participants", headers=event.host_headers)
        for participant in roster.json()["participants"]:
            name = participant["display_name"]
            if name == "Ivo":
                api.post(
                    f"/api/events/{event.code}/participants/{participant['id']}/kick",
                    headers=event.host_headers,
                ).raise_for_status()
            elif name in SCORES:
                _set_score(api, event, participant["id"], SCORES[name])
        for _ in range(7):
            dashboard.give_point("Maya")
        expect(maya.score).to_have_text("7")
        dashboard.give_point("Noah")
        expect(noah.score).to_have_text("1")

        expect(dashboard.count("online")).to_have_text("6", timeout=8_000)
        expect(dashboard.count("away")).to_have_text("1")
        expect(dashboard.count("offline")).to_have_text("1", timeout=8_000)
        expect(dashboard.count("left")).to_have_text("1")
        expect(maya.connection).to_have_text("Connected")
        expect(noah.connection).to_have_text("Connected")
        _shoot(dashboard.page, screenshots / "host-projector.png")
        small = contexts(**PHONE, device_scale_factor=2).new_page()
        Host(small, server.base_url, event).open_with_link()
        expect(small.get_by_test_id("count-online")).to_have_text("6")
        _shoot(small, screenshots / "host-phone.png")
        _shoot(maya.page, screenshots / "join-phone.png")
        _shoot(noah.page, screenshots / "join-projector.png")

    dashboard.kick("Noah")
    expect(noah.heading("You were removed from this event")).to_be_visible()
    _shoot(noah.page, screenshots / "kicked-projector.png")


def _shoot(page: Page, path: Path) -> None:
    page.mouse.move(0, 0)  # no hover state in the picture
    page.screenshot(path=str(path), animations="disabled", caret="hide")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _join(server: RollcallServer, event: HostedEvent, name: str) -> str:
    """A participant on a device of its own; returns its session token."""
    response = httpx.post(
        f"{server.base_url}/api/events/{event.code}/join",
        json={"device_id": new_device(), "display_name": name},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["session_token"]
    return token


def _beat(server: RollcallServer, token: str, *, away: bool | None = None) -> None:
    body = None if away is None else {"away": away}
    response = httpx.post(
        f"{server.base_url}/api/session/heartbeat", json=body, headers=_bearer(token), timeout=10
    )
    response.raise_for_status()


def _set_score(api: httpx.Client, event: HostedEvent, participant_id: str, score: int) -> None:
    api.patch(
        f"/api/events/{event.code}/participants/{participant_id}",
        json={"state": {"score": score}},
        headers=event.host_headers,
    ).raise_for_status()


@contextmanager
def _beating(server: RollcallServer, tokens: list[str]) -> Iterator[None]:
    """Phones that stay online: each token beats over HTTP until the block ends."""
    stop = threading.Event()

    def beat_all() -> None:
        while not stop.is_set():
            for token in tokens:
                _beat(server, token)
            stop.wait(BEAT_EVERY_S)

    thread = threading.Thread(target=beat_all, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)
