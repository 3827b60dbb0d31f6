"""Who may come in, in Chromium: the dashboard's room check QR and the waiting room."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.pages import Host, HostedEvent, Phone, roster
from tests.pg import PgServer
from tests.servers import FAST, RollcallServer, rollcall_server

pytestmark = pytest.mark.e2e

ROOM_CHECK_S = 5  # the shortest rotation the settings allow, so a test sees one


@pytest.fixture(scope="module")
def server(pg: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RollcallServer]:
    """This module's server rotates the room check every few seconds."""
    with (
        pg.fresh_database(migrated=True) as url,
        rollcall_server(
            url, tmp_path_factory.mktemp("logs"), room_check_s=ROOM_CHECK_S, **FAST
        ) as running,
    ):
        yield running


def switch(api: httpx.Client, event: HostedEvent, **fields: Any) -> None:
    response = api.patch(f"/api/events/{event.code}", json=fields, headers=event.host_headers)
    assert response.status_code == 200, response.text


def test_scanning_the_dashboard_qr_joins_with_no_typing_and_follows_each_rotation(
    api: httpx.Client,
    event: HostedEvent,
    host: Callable[..., Host],
    phone: Callable[..., Phone],
) -> None:
    switch(api, event, room_check=True)
    dashboard = host(event)
    room_check = dashboard.page.get_by_test_id("room-check")
    link = dashboard.page.get_by_test_id("join-url")
    qr = dashboard.page.locator("img.qr")
    expect(room_check).to_have_text(re.compile(r"^[0-9]{4}$"))
    first = room_check.inner_text()
    scanned = f"{event.join_url}?rc={first}"
    expect(link).to_have_attribute("data-url", scanned)
    expect(link).to_contain_text(f"?rc={first}")
    expect(qr).to_have_attribute("src", f"/api/events/{event.code}/qr.svg?rc={first}")
    assert api.get(f"/api/events/{event.code}/qr.svg?rc={first}").status_code == 200

    # Without the code the door stays shut; the dashboard's link opens it with only a name.
    stranger = api.post(
        f"/api/events/{event.code}/join",
        json={"device_id": str(uuid.uuid4()), "display_name": "Eve"},
    )
    assert stranger.json()["code"] == "room_check_failed"
    ana = phone()
    ana.page.goto(scanned)
    ana.type_name("Ana")
    expect(ana.joined_heading("Ana")).to_be_visible()
    expect(dashboard.card("Ana")).to_have_count(1)

    # The next rotation redraws the QR and the link by themselves, with no reload.
    expect(room_check).not_to_have_text(first, timeout=(2 * ROOM_CHECK_S + 2) * 1000)
    second = room_check.inner_text()
    expect(qr).to_have_attribute("src", f"/api/events/{event.code}/qr.svg?rc={second}")
    expect(link).to_have_attribute("data-url", f"{event.join_url}?rc={second}")
    bo = phone()
    bo.page.goto(f"{event.join_url}?rc={second}")
    bo.type_name("Bo")
    expect(bo.joined_heading("Bo")).to_be_visible()


def test_phones_wait_until_the_host_admits_them_and_a_denied_one_stays_out(
    api: httpx.Client,
    event: HostedEvent,
    host: Callable[..., Host],
    phone: Callable[..., Phone],
) -> None:
    switch(api, event, admission="approval")
    dashboard = host(event)
    waiting = dashboard.page.get_by_test_id("waiting")
    names = ["Ana", "Bo", "Cy", "Dan"]
    phones = {name: phone() for name in names}
    for name, device in phones.items():
        device.open(event.code)
        device.type_name(name)
        expect(device.heading("Waiting for the host")).to_be_visible()
    expect(waiting.locator("li")).to_have_count(4)
    expect(dashboard.cards).to_have_count(0)

    page = dashboard.page
    page.get_by_role("button", name="Admit Ana", exact=True).click()
    expect(phones["Ana"].joined_heading("Ana")).to_be_visible()
    expect(dashboard.presence("Ana")).to_have_text("Online")
    expect(phones["Bo"].heading("Waiting for the host")).to_be_visible()

    page.get_by_role("button", name="Deny Dan", exact=True).click()
    expect(phones["Dan"].heading("You were removed from this event")).to_be_visible()
    expect(waiting.locator("li")).to_have_count(2)

    page.get_by_test_id("admit-all").click()
    for name in ["Bo", "Cy"]:
        expect(phones[name].joined_heading(name)).to_be_visible()
    expect(waiting).to_be_hidden()
    expect(dashboard.count("online")).to_have_text("3")

    # The denied phone stays out after a reload and a rescan.
    phones["Dan"].page.reload()
    expect(phones["Dan"].heading("You were removed from this event")).to_be_visible()
    phones["Dan"].new_page()
    phones["Dan"].open(event.code)
    expect(phones["Dan"].heading("You were removed from this event")).to_be_visible()


def test_maya_moves_to_a_new_phone_with_her_recovery_code_and_keeps_her_score(
    api: httpx.Client,
    event: HostedEvent,
    host: Callable[..., Host],
    phone: Callable[..., Phone],
) -> None:
    dashboard = host(event)
    old = phone()
    old.join_as(event.code, "Maya")
    (maya,) = roster(api, event)
    scored = api.patch(
        f"/api/events/{event.code}/participants/{maya['id']}",
        json={"state": {"score": 7}},
        headers=event.host_headers,
    )
    assert scored.status_code == 200, scored.text
    expect(old.score).to_have_text("7")

    # "Changing phones?" shows the code and what to do with it.
    old.page.get_by_text("Changing phones?").click()
    code = old.page.get_by_test_id("recovery-code")
    expect(code).to_have_text(re.compile(r"^[A-Z0-9]{4}-[A-Z0-9]{4}$"))
    recovery_code = code.inner_text()

    new = phone()
    new.open(event.code)
    new.page.get_by_text("Continue as someone already here").click()
    new.page.get_by_label("Recovery code").fill(recovery_code)
    new.page.get_by_role("button", name="Continue", exact=True).click()
    expect(new.joined_heading("Maya")).to_be_visible()
    expect(new.score).to_have_text("7")

    expect(old.heading("You continued on another phone")).to_be_visible()
    old.page.reload()
    expect(old.heading("You continued on another phone")).to_be_visible()

    expect(dashboard.cards).to_have_count(1)
    expect(dashboard.presence("Maya")).to_have_text("Online")
    assert [p["id"] for p in roster(api, event)] == [maya["id"]]


def test_a_wrong_recovery_code_is_said_next_to_its_field(
    event: HostedEvent, phone: Callable[..., Phone]
) -> None:
    stranger = phone()
    stranger.open(event.code)
    stranger.page.get_by_text("Continue as someone already here").click()
    stranger.page.get_by_label("Recovery code").fill("ABCD-EFGH")
    stranger.page.get_by_role("button", name="Continue", exact=True).click()
    expect(stranger.page.get_by_role("alert")).to_have_text(
        "That code doesn't match anyone here. Check it on your other phone."
    )


def test_remove_lets_a_phone_back_ban_keeps_it_out_until_unbanned(
    event: HostedEvent, host: Callable[..., Host], phone: Callable[..., Phone]
) -> None:
    dashboard = host(event)
    ana, bo = phone(), phone()
    ana.join_as(event.code, "Ana")
    bo.join_as(event.code, "Bo")

    dashboard.kick("Ana", ban=False)
    expect(dashboard.presence("Ana")).to_have_text("Left")
    ana.page.reload()  # removed, not banned: the same phone comes back as Ana
    expect(ana.joined_heading("Ana")).to_be_visible()
    expect(dashboard.presence("Ana")).to_have_text("Online")

    dashboard.kick("Bo")
    expect(bo.heading("You were removed from this event")).to_be_visible()
    bo.page.reload()
    expect(bo.heading("You were removed from this event")).to_be_visible()
    dashboard.page.get_by_role("button", name="Unban Bo", exact=True).click()
    expect(dashboard.presence("Bo")).to_have_text("Left")
    bo.page.reload()
    expect(bo.joined_heading("Bo")).to_be_visible()
    expect(dashboard.presence("Bo")).to_have_text("Online")


def test_removing_everyone_who_joined_in_the_last_minutes(
    event: HostedEvent, host: Callable[..., Host], phone: Callable[..., Phone]
) -> None:
    dashboard = host(event)
    bots = {name: phone() for name in ["Bot1", "Bot2"]}
    for name, device in bots.items():
        device.join_as(event.code, name)
    page = dashboard.page
    page.get_by_text("Remove recent joins").click()
    page.get_by_label("Everyone who joined in the last (minutes)").fill("1")
    page.get_by_role("button", name="Remove and ban", exact=True).click()
    page.get_by_role("dialog").get_by_role("button", name="Remove them", exact=True).click()
    expect(page.get_by_text("2 people removed.")).to_be_visible()
    for name, device in bots.items():
        expect(dashboard.presence(name)).to_have_text("Removed")
        expect(device.heading("You were removed from this event")).to_be_visible()


def test_with_reclaim_approval_the_host_approves_the_move_on_the_dashboard(
    api: httpx.Client,
    event: HostedEvent,
    host: Callable[..., Host],
    phone: Callable[..., Phone],
) -> None:
    switch(api, event, reclaim="approval")
    dashboard = host(event)
    old = phone()
    old.join_as(event.code, "Maya")
    old.page.get_by_text("Changing phones?").click()
    recovery_code = old.page.get_by_test_id("recovery-code").inner_text()

    new = phone()
    new.open(event.code)
    new.page.get_by_text("Continue as someone already here").click()
    new.page.get_by_label("Recovery code").fill(recovery_code)
    new.page.get_by_role("button", name="Continue", exact=True).click()
    expect(new.heading("Waiting for the host")).to_be_visible()
    waiting = dashboard.page.get_by_test_id("waiting")
    expect(waiting).to_contain_text("Maya wants to continue on a new phone")

    dashboard.page.get_by_role("button", name="Let Maya continue on the new phone").click()
    expect(new.joined_heading("Maya")).to_be_visible()
    expect(old.heading("You continued on another phone")).to_be_visible()
    expect(waiting).to_be_hidden()
    expect(dashboard.cards).to_have_count(1)
    expect(dashboard.presence("Maya")).to_have_text("Online")


@pytest.mark.parametrize("refusal", ["locked", "full"])
def test_a_new_phone_continues_a_seat_in_an_event_that_takes_no_one_new(
    api: httpx.Client,
    event: HostedEvent,
    phone: Callable[..., Phone],
    refusal: str,
) -> None:
    old = phone()
    old.join_as(event.code, "Maya")
    old.page.get_by_text("Changing phones?").click()
    recovery_code = old.page.get_by_test_id("recovery-code").inner_text()
    if refusal == "locked":
        switch(api, event, status="locked")
    else:
        switch(api, event, capacity=1)

    new = phone()
    new.open(event.code)
    title = "This event is locked" if refusal == "locked" else "This event is full"
    expect(new.heading(title)).to_be_visible()
    new.page.get_by_role("button", name="Continue as someone already here").click()
    expect(new.page.locator("#name")).to_be_hidden()  # no new names here, only a seat moved
    code_field = new.page.get_by_label("Recovery code")
    expect(code_field).to_be_focused()
    code_field.fill(recovery_code)
    new.page.get_by_role("button", name="Continue", exact=True).click()
    expect(new.joined_heading("Maya")).to_be_visible()
    expect(old.heading("You continued on another phone")).to_be_visible()


def test_a_full_event_that_lets_people_wait_says_so_and_takes_the_newcomer(
    api: httpx.Client,
    event: HostedEvent,
    phone: Callable[..., Phone],
) -> None:
    switch(api, event, capacity=1)
    phone().join_as(event.code, "Ana")
    switch(api, event, admission="approval")

    late = phone()
    late.open(event.code)
    expect(late.page.get_by_test_id("full-wait")).to_have_text(
        "Every seat is taken just now, but you can wait: join, and the host lets you in when"
        " a seat is free."
    )
    expect(late.heading("This event is full")).to_have_count(0)
    late.type_name("Bo")
    expect(late.heading("Waiting for the host")).to_be_visible()

    # With a seat more, the host lets Bo in.
    switch(api, event, capacity=2)
    admitted = api.post(
        f"/api/events/{event.code}/admit", json={"all": True}, headers=event.host_headers
    )
    assert admitted.json() == {"admitted": 1}, admitted.text
    expect(late.joined_heading("Bo")).to_be_visible()

    # Where admission is open, the same full event refuses a newcomer, as the join would.
    switch(api, event, admission="open")
    refused = phone()
    refused.open(event.code)
    expect(refused.heading("This event is full")).to_be_visible()
    expect(refused.page.get_by_test_id("full-wait")).to_have_count(0)
