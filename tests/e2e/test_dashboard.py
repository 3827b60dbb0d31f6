"""The host dashboard with phones joining: live roster, presence, kick, score, reconnects."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, WebSocket, expect

from tests.e2e.pages import Host, HostedEvent, Phone
from tests.servers import RollcallServer

pytestmark = pytest.mark.e2e

# Offline shows at most timeout + sweep after the last beat (2 s + 0.2 s here); leave room.
OFFLINE_WITHIN_MS = 6_000


def test_two_phones_show_up_live_and_a_closed_one_goes_offline(
    host: Callable[..., Host], phone: Callable[..., Phone], event: HostedEvent
) -> None:
    dashboard = host(event)
    expect(dashboard.page.get_by_text("Nobody here yet")).to_be_visible()
    ana, bo = phone(), phone()
    ana.join_as(event.code, "Ana")
    bo.join_as(event.code, "Bo")

    expect(dashboard.cards).to_have_count(2, timeout=1_000)
    expect(dashboard.presence("Ana")).to_have_text("Online", timeout=1_000)
    expect(dashboard.presence("Bo")).to_have_text("Online", timeout=1_000)
    expect(dashboard.count("online")).to_have_text("2")
    expect(dashboard.page.get_by_test_id("seats")).to_have_text("2 of 10,000 seats taken")

    # Closing says `away` on its way out (visibilitychange, the pagehide beacon); silence after
    # it turns that into offline once the timeout passes.
    bo.context.close()
    expect(dashboard.presence("Bo")).to_have_text("Offline", timeout=OFFLINE_WITHIN_MS)
    expect(dashboard.count("offline")).to_have_text("1")
    expect(dashboard.presence("Ana")).to_have_text("Online")
    expect(dashboard.cards).to_have_count(2)


def test_a_kicked_phone_is_told_and_stays_out(
    host: Callable[..., Host], phone: Callable[..., Phone], event: HostedEvent
) -> None:
    dashboard = host(event)
    ana = phone()
    ana.join_as(event.code, "Ana")
    expect(ana.connection).to_have_text("Connected")

    dashboard.kick("Ana")
    expect(ana.heading("You were removed from this event")).to_be_visible()
    expect(dashboard.presence("Ana")).to_have_text("Removed")

    ana.page.reload()
    expect(ana.heading("You were removed from this event")).to_be_visible()
    expect(ana.name_field).to_have_count(0)


def test_a_point_from_the_host_reaches_the_phone_within_a_second(
    host: Callable[..., Host], phone: Callable[..., Phone], event: HostedEvent
) -> None:
    dashboard = host(event)
    ana = phone()
    ana.join_as(event.code, "Ana")
    expect(ana.connection).to_have_text("Connected")
    expect(ana.score).to_have_text("0")

    dashboard.give_point("Ana")
    expect(ana.score).to_have_text("1", timeout=1_000)
    dashboard.give_point("Ana")
    dashboard.give_point("Ana")
    expect(ana.score).to_have_text("3", timeout=1_000)
    dashboard.page.get_by_role("button", name="Take a point from Ana").click()
    expect(ana.score).to_have_text("2", timeout=1_000)
    expect(dashboard.card("Ana").get_by_test_id("score")).to_have_text("2")


def test_a_phone_that_loses_the_network_comes_back_as_itself(
    host: Callable[..., Host], phone: Callable[..., Phone], event: HostedEvent
) -> None:
    dashboard = host(event)
    ana, bo = phone(), phone()
    ana.join_as(event.code, "Ana")
    bo.join_as(event.code, "Bo")
    expect(dashboard.cards).to_have_count(2)
    before = sorted(dashboard.participant_ids())

    ana.context.set_offline(True)
    expect(ana.connection).to_have_text("Offline")
    expect(dashboard.presence("Ana")).to_have_text("Offline", timeout=OFFLINE_WITHIN_MS)
    ana.context.set_offline(False)

    expect(ana.connection).to_have_text("Connected")
    expect(dashboard.presence("Ana")).to_have_text("Online")
    expect(dashboard.cards).to_have_count(2)
    assert sorted(dashboard.participant_ids()) == before
    expect(ana.joined_heading("Ana")).to_be_visible()


def test_the_dashboard_resumes_from_the_last_seq_after_losing_the_network(
    host: Callable[..., Host], phone: Callable[..., Phone], event: HostedEvent
) -> None:
    dashboard = host(event)
    hellos: list[dict[str, Any]] = []
    welcomes: list[dict[str, Any]] = []

    def watch(socket: WebSocket) -> None:
        socket.on("framesent", lambda frame: _collect(frame, "hello", hellos))
        socket.on("framereceived", lambda frame: _collect(frame, "welcome", welcomes))

    dashboard.page.on("websocket", watch)
    ana = phone()
    ana.join_as(event.code, "Ana")
    expect(dashboard.cards).to_have_count(1)

    _lose_network(dashboard.page.context)
    phone().join_as(event.code, "Bo")
    dashboard.page.context.set_offline(False)

    expect(dashboard.connection).to_have_text("Connected")
    expect(dashboard.cards).to_have_count(2)
    expect(dashboard.presence("Bo")).to_have_text("Online")
    assert hellos and hellos[-1].get("since", 0) >= 1
    assert welcomes and welcomes[-1]["resumed"] is True


def test_the_host_link_token_is_kept_and_taken_out_of_the_address(
    host: Callable[..., Host], event: HostedEvent, contexts: Callable[..., BrowserContext]
) -> None:
    dashboard = host(event)
    page = dashboard.page
    assert "#" not in page.url
    assert page.evaluate(f"localStorage.getItem('rollcall.host.{event.code}')") == event.host_token
    page.reload()
    expect(dashboard.connection).to_have_text("Connected")
    expect(page.get_by_test_id("event-code")).to_have_text(event.code)

    elsewhere = contexts().new_page()
    elsewhere.goto(f"{dashboard.base_url}/host/{event.code}")
    expect(
        elsewhere.get_by_role("heading", name="This browser has no host key for this event")
    ).to_be_visible()
    elsewhere.get_by_label("Host token").fill("not-the-token")
    elsewhere.get_by_role("button", name="Open the dashboard").click()
    expect(
        elsewhere.get_by_role("heading", name="This host key doesn't open this event")
    ).to_be_visible()
    elsewhere.get_by_label("Host token").fill(event.host_token)
    elsewhere.get_by_role("button", name="Open the dashboard").click()
    expect(elsewhere.get_by_test_id("connection")).to_have_text("Connected")


def test_the_host_link_opened_over_the_no_key_screen_opens_the_dashboard(
    event: HostedEvent, contexts: Callable[..., BrowserContext], server: RollcallServer
) -> None:
    """Only the fragment changes then: the same page has to notice it."""
    page = contexts().new_page()
    page.goto(f"{server.base_url}/host/{event.code}")
    expect(
        page.get_by_role("heading", name="This browser has no host key for this event")
    ).to_be_visible()
    page.goto(f"{server.base_url}/host/{event.code}#host_token={event.host_token}")
    expect(page.get_by_test_id("connection")).to_have_text("Connected")
    assert "#" not in page.url


def test_creating_an_event_opens_its_dashboard(
    contexts: Callable[..., BrowserContext], phone: Callable[..., Phone], api: httpx.Client
) -> None:
    page = contexts(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(f"{str(api.base_url).rstrip('/')}/")
    page.get_by_label("Event name").fill("Team offsite")
    page.get_by_label("Seats").fill("12")
    page.get_by_role("button", name="Create event").click()
    expect(page.get_by_test_id("connection")).to_have_text("Connected")
    expect(page.get_by_role("heading", level=1)).to_have_text("Team offsite")
    expect(page.get_by_test_id("seats")).to_have_text("0 of 12 seats taken")
    code = str(page.get_by_test_id("event-code").text_content())
    expect(page.locator("img.qr")).to_have_attribute("src", f"/api/events/{code}/qr.svg")

    page.get_by_role("button", name="Lock").click()
    expect(page.locator("#status-badge")).to_have_text("Locked")
    locked_out = phone()
    locked_out.open(code)
    expect(locked_out.heading("This event is locked")).to_be_visible()
    page.get_by_role("button", name="Unlock").click()
    expect(page.locator("#status-badge")).to_have_text("Open")

    page.get_by_role("button", name="End event").click()
    page.get_by_role("dialog").get_by_role("button", name="End event").click()
    expect(page.locator("#status-badge")).to_have_text("Ended")
    expect(page.get_by_text("This event has ended.")).to_be_visible()


def _lose_network(context: BrowserContext) -> None:
    context.set_offline(True)
    for page in context.pages:
        expect(page.get_by_test_id("connection")).to_have_text("Offline")


def _collect(frame: str | bytes, kind: str, into: list[dict[str, Any]]) -> None:
    try:
        message = json.loads(frame)
    except ValueError:
        return
    if isinstance(message, dict) and message.get("type") == kind:
        into.append(message)


def test_a_hidden_page_shows_away_until_it_is_shown_again(
    host: Callable[..., Host], phone: Callable[..., Phone], event: HostedEvent
) -> None:
    dashboard = host(event)
    ana = phone()
    ana.join_as(event.code, "Ana")
    expect(ana.connection).to_have_text("Connected")
    expect(dashboard.presence("Ana")).to_have_text("Online")

    _set_visibility(ana, "hidden")
    expect(dashboard.presence("Ana")).to_have_text("Away", timeout=1_000)
    expect(dashboard.count("away")).to_have_text("1")
    _set_visibility(ana, "visible")
    expect(dashboard.presence("Ana")).to_have_text("Online", timeout=1_000)


def test_a_page_going_away_sends_a_last_beacon_saying_away(
    host: Callable[..., Host], phone: Callable[..., Phone], event: HostedEvent
) -> None:
    dashboard = host(event)
    ana = phone()
    ana.join_as(event.code, "Ana")
    expect(ana.connection).to_have_text("Connected")
    expect(dashboard.presence("Ana")).to_have_text("Online")
    with ana.page.expect_request_finished(
        lambda request: request.url.endswith("/api/session/heartbeat")
    ) as finished:
        # The event as the browser fires it when the page goes; the page stays to watch the beacon.
        ana.page.evaluate("dispatchEvent(new PageTransitionEvent('pagehide', {persisted: false}))")
    beacon = finished.value
    assert beacon.method == "POST"
    assert beacon.headers["content-type"] == "application/json"
    response = beacon.response()
    assert response is not None and response.status == 200
    # Playwright does not show a Blob body; the server does: nothing else said away.
    expect(dashboard.presence("Ana")).to_have_text("Away", timeout=1_000)


def _set_visibility(phone: Phone, state: str) -> None:
    """Headless Chromium keeps every page visible; say otherwise, as a locked phone would."""
    phone.page.evaluate(
        """state => {
            Object.defineProperty(document, "visibilityState", { value: state, configurable: true });
            Object.defineProperty(document, "hidden", { value: state === "hidden", configurable: true });
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        state,
    )


def test_joining_and_removing_work_from_the_keyboard(
    host: Callable[..., Host], phone: Callable[..., Phone], event: HostedEvent
) -> None:
    dashboard = host(event)
    ana = phone()
    ana.open(event.code)
    expect(ana.name_field).to_be_focused()
    ana.page.keyboard.type("Ana")
    ana.page.keyboard.press("Enter")
    expect(ana.joined_heading("Ana")).to_be_visible()

    page = dashboard.page
    remove = page.get_by_role("button", name="Remove Ana")
    remove.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(remove).to_be_focused()
    expect(dashboard.presence("Ana")).to_have_text("Online")

    page.keyboard.press("Enter")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Tab")  # Remove (may come back)
    page.keyboard.press("Tab")  # Ban
    expect(dialog.get_by_role("button", name="Ban", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect(dashboard.presence("Ana")).to_have_text("Removed")
    expect(ana.heading("You were removed from this event")).to_be_visible()


def attendance(api: httpx.Client, event: HostedEvent) -> list[dict[str, Any]]:
    answer = api.get(f"/api/events/{event.code}/attendance", headers=event.host_headers)
    answer.raise_for_status()
    participants: list[dict[str, Any]] = answer.json()["participants"]
    return participants


def test_download_attendance_saves_the_roll_call_and_works_after_the_end(
    host: Callable[..., Host],
    phone: Callable[..., Phone],
    event: HostedEvent,
    api: httpx.Client,
) -> None:
    dashboard = host(event)
    ana, formula = phone(), phone()
    ana.join_as(event.code, "Ana")
    formula.join_as(event.code, "=SUM(A1)")
    expect(dashboard.cards).to_have_count(2)
    expect(ana.connection).to_have_text("Connected")
    expect(formula.connection).to_have_text("Connected")
    # Sockets are counted with the next heartbeat flush (0.2 s here): wait for it.
    deadline = time.monotonic() + 5
    while min(p["connections"] for p in attendance(api, event)) < 1:
        assert time.monotonic() < deadline, "the sockets were not counted within 5 s"
        time.sleep(0.05)

    def download() -> list[dict[str, str]]:
        with dashboard.page.expect_download() as saving:
            dashboard.page.get_by_role("button", name="Download attendance").click()
        saved = saving.value
        assert saved.suggested_filename == f"attendance-{event.code}.csv"
        text = Path(saved.path()).read_text(encoding="utf-8")
        return list(csv.DictReader(io.StringIO(text, newline="")))

    rows = download()
    expect(dashboard.page.get_by_text("Attendance saved to a file.")).to_be_visible()
    assert [row["display_name"] for row in rows] == ["Ana", "'=SUM(A1)"]
    assert all(row["status"] == "active" and int(row["connections"]) >= 1 for row in rows)
    api.patch(
        f"/api/events/{event.code}", json={"status": "closed"}, headers=event.host_headers
    ).raise_for_status()
    expect(dashboard.page.get_by_test_id("ended")).to_be_visible()
    assert [row["id"] for row in download()] == [row["id"] for row in rows]
