"""The join page on a phone: join once, then come back as the same participant without a prompt."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.pages import HostedEvent, Phone, create_event, roster

pytestmark = pytest.mark.e2e


def test_join_reload_and_scan_again_keep_the_same_participant(
    phone: Callable[..., Phone], event: HostedEvent, api: httpx.Client
) -> None:
    ana = phone()
    ana.join_as(event.code, "Ana")
    expect(ana.connection).to_have_text("Connected")
    [first] = roster(api, event)
    api.patch(
        f"/api/events/{event.code}/participants/{first['id']}",
        json={"state": {"score": 3}},
        headers=event.host_headers,
    ).raise_for_status()
    expect(ana.score).to_have_text("3")

    ana.page.reload()
    expect(ana.joined_heading("Ana")).to_be_visible()
    expect(ana.name_field).to_have_count(0)
    expect(ana.score).to_have_text("3")
    expect(ana.connection).to_have_text("Connected")

    ana.new_page().goto(event.join_url)
    expect(ana.joined_heading("Ana")).to_be_visible()
    expect(ana.score).to_have_text("3")
    expect(ana.connection).to_have_text("Connected")

    [again] = roster(api, event)
    assert again["id"] == first["id"]
    assert again["status"] == "active"


def test_the_device_id_survives_cleared_storage_through_its_cookie(
    phone: Callable[..., Phone], event: HostedEvent, api: httpx.Client
) -> None:
    ana = phone()
    ana.join_as(event.code, "Ana")
    device = ana.page.evaluate("localStorage.getItem('rollcall.device')")
    assert {"name": "rollcall_device", "value": device} in [
        {"name": c["name"], "value": c["value"]} for c in ana.context.cookies()
    ]

    ana.page.evaluate("localStorage.clear()")
    ana.page.reload()
    expect(ana.joined_heading("Ana")).to_be_visible()
    assert ana.page.evaluate("localStorage.getItem('rollcall.device')") == device
    assert len(roster(api, event)) == 1


def test_a_device_id_is_a_v4_uuid_even_without_crypto_random_uuid(
    phone: Callable[..., Phone], event: HostedEvent
) -> None:
    """crypto.randomUUID exists only in secure contexts; phones on a LAN address get http."""
    ana = phone()
    ana.open(event.code)
    made = ana.page.evaluate(
        """async () => {
            const { newUuid } = await import("/static/shared/device.js");
            const original = Crypto.prototype.randomUUID;
            Crypto.prototype.randomUUID = undefined;
            try { return [newUuid(), newUuid()]; }
            finally { Crypto.prototype.randomUUID = original; }
        }"""
    )
    v4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
    assert all(v4.match(uuid) for uuid in made)
    assert made[0] != made[1]


def test_a_taken_name_lets_the_person_pick_another(
    phone: Callable[..., Phone], event: HostedEvent
) -> None:
    phone().join_as(event.code, "Ana")
    second = phone()
    second.open(event.code)
    second.type_name(" ana ")
    expect(second.page.get_by_role("alert")).to_contain_text("already goes by")
    expect(second.name_field).to_be_focused()
    second.type_name("Ana B")
    expect(second.joined_heading("Ana B")).to_be_visible()


def test_locked_full_and_unknown_events_say_so(
    phone: Callable[..., Phone], api: httpx.Client
) -> None:
    small = create_event(api, title="Two seats", capacity=1)
    phone().join_as(small.code, "Ana")
    late = phone()
    late.open(small.code)
    expect(late.heading("This event is full")).to_be_visible()

    locked = create_event(api, title="Locked")
    regular = phone()
    regular.join_as(locked.code, "Ana")
    api.patch(
        f"/api/events/{locked.code}", json={"status": "locked"}, headers=locked.host_headers
    ).raise_for_status()
    newcomer = phone()
    newcomer.open(locked.code)
    expect(newcomer.heading("This event is locked")).to_be_visible()
    # Whoever is in already comes back: a lock refuses only newcomers.
    regular.page.reload()
    expect(regular.joined_heading("Ana")).to_be_visible()
    api.patch(
        f"/api/events/{locked.code}", json={"status": "open"}, headers=locked.host_headers
    ).raise_for_status()
    newcomer.page.get_by_role("button", name="Try again").click()
    newcomer.type_name("Bo")
    expect(newcomer.joined_heading("Bo")).to_be_visible()

    lost = phone()
    lost.open("ZZZZZZ")
    expect(lost.heading("No event with this code")).to_be_visible()


def test_closing_the_event_ends_the_phone_session(
    phone: Callable[..., Phone], event: HostedEvent, api: httpx.Client
) -> None:
    ana = phone()
    ana.join_as(event.code, "Ana")
    expect(ana.connection).to_have_text("Connected")
    api.patch(
        f"/api/events/{event.code}", json={"status": "closed"}, headers=event.host_headers
    ).raise_for_status()
    expect(ana.heading("This event has ended")).to_be_visible()
    ana.page.reload()
    expect(ana.heading("This event has ended")).to_be_visible()


def test_a_second_tab_takes_over_and_the_first_can_take_it_back(
    phone: Callable[..., Phone], event: HostedEvent, api: httpx.Client
) -> None:
    ana = phone()
    ana.join_as(event.code, "Ana")
    expect(ana.connection).to_have_text("Connected")
    first = ana.page
    second = ana.context.new_page()
    second.goto(event.join_url)
    expect(second.get_by_role("heading", name="You're in as Ana")).to_be_visible()
    expect(second.get_by_test_id("connection")).to_have_text("Connected")
    expect(first.get_by_role("heading", name="Open in another tab")).to_be_visible()

    first.get_by_role("button", name="Use this tab").click()
    expect(first.get_by_test_id("connection")).to_have_text("Connected")
    expect(second.get_by_role("heading", name="Open in another tab")).to_be_visible()
    expect(first.get_by_role("heading", name="You're in as Ana")).to_be_visible()
    assert len(roster(api, event)) == 1


def test_leave_asks_first_then_says_so_and_lets_the_person_back(
    phone: Callable[..., Phone], event: HostedEvent, api: httpx.Client
) -> None:
    ana = phone()
    ana.join_as(event.code, "Ana")
    expect(ana.connection).to_have_text("Connected")
    leave = ana.page.get_by_role("button", name="Leave event")

    leave.click()
    ana.page.get_by_role("dialog").get_by_role("button", name="Stay").click()
    expect(ana.joined_heading("Ana")).to_be_visible()
    assert roster(api, event)[0]["status"] == "active"

    leave.click()
    ana.page.get_by_role("dialog").get_by_role("button", name="Leave", exact=True).click()
    expect(ana.heading("You left the event")).to_be_visible()
    expect(ana.connection).to_be_hidden()
    [left] = roster(api, event)
    assert left["status"] == "left"

    # A reload does not join again by itself; the name is there to join with one tap.
    ana.page.reload()
    expect(ana.name_field).to_have_value("Ana")
    assert roster(api, event)[0]["status"] == "left"
    ana.page.get_by_role("button", name="Join", exact=True).click()
    expect(ana.joined_heading("Ana")).to_be_visible()
    expect(ana.connection).to_have_text("Connected")

    leave.click()
    ana.page.get_by_role("dialog").get_by_role("button", name="Leave", exact=True).click()
    ana.page.get_by_role("button", name="Join again").click()
    expect(ana.joined_heading("Ana")).to_be_visible()
    [back] = roster(api, event)
    assert back["id"] == left["id"]
    assert back["status"] == "active"


def test_a_session_ended_elsewhere_is_not_taken_back(
    phone: Callable[..., Phone], event: HostedEvent, api: httpx.Client
) -> None:
    """Left from another tab (its DELETE /api/session with this browser's cookie): the socket
    closes with 4401; the page asks why, and shows it instead of joining again by itself."""
    ana = phone()
    ana.join_as(event.code, "Ana")
    expect(ana.connection).to_have_text("Connected")

    gone = ana.context.request.delete(f"{ana.base_url}/api/session")
    assert gone.status == 204
    expect(ana.heading("You're no longer in this event")).to_be_visible()
    expect(ana.connection).to_be_hidden()
    assert roster(api, event)[0]["status"] == "left"

    ana.page.get_by_role("button", name="Join again").click()
    expect(ana.joined_heading("Ana")).to_be_visible()
    expect(ana.connection).to_have_text("Connected")
    assert roster(api, event)[0]["status"] == "active"
