"""Each screen of the join page, reached the way a person gets there, for the tests that walk them.

The steps use ids and roles, not English words, so that they work in any language.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.pages import HostedEvent, Phone, create_event, roster
from tests.factories import new_device

CATALOGS = (
    Path(__file__).resolve().parents[2] / "src" / "rollcall" / "web" / "static" / "i18n" / "join"
)
LOCALES = ["en", "de", "fr", "es", "it", "pt", "nl", "pl", "ar"]
TITLE = "Friday quiz"
NAME = "Ana"


def catalog(locale: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((CATALOGS / f"{locale}.json").read_text(encoding="utf-8"))
    return loaded


@dataclass
class Reached:
    """A phone on one screen, and the words on it that are data, not the page's own."""

    phone: Phone
    screen: str
    data: set[str]
    offline: bool = False  # the page is offline: it fetches another language's words online

    def switch_language(self, locale: str) -> None:
        """Choose `locale` in the page's language menu and wait until the page speaks it."""
        page = self.phone.page
        joined = page.locator("[data-screen='joined']")
        if self.offline:
            self.phone.context.set_offline(False)
            expect(joined).to_have_attribute("data-status", "connected")
        page.locator("#language").select_option(locale)
        expect(page.locator("html")).to_have_attribute("lang", locale)
        if self.offline:
            self.phone.context.set_offline(True)
            expect(joined).to_have_attribute("data-status", "lost")


def open_screen(phone: Phone, path: str, screen: str) -> None:
    phone.page.goto(f"{phone.base_url}{path}")
    expect(phone.page.locator(f"[data-screen='{screen}']")).to_be_visible()


def type_name(page: Page, name: str) -> None:
    page.locator("#name").fill(name)
    page.locator(".join-card form button[type=submit]").click()


def join(phone: Phone, event: HostedEvent, name: str = NAME) -> None:
    open_screen(phone, f"/j/{event.code}", "name")
    type_name(phone.page, name)
    expect(phone.page.locator("[data-screen='joined']")).to_be_visible()
    expect(phone.connection).to_have_attribute("data-status", "connected")


def join_over_http(api: httpx.Client, event: HostedEvent, name: str) -> None:
    response = api.post(
        f"/api/events/{event.code}/join", json={"device_id": new_device(), "display_name": name}
    )
    assert response.status_code == 201, response.text


def host_patch(api: httpx.Client, event: HostedEvent, body: dict[str, Any]) -> None:
    api.patch(f"/api/events/{event.code}", json=body, headers=event.host_headers).raise_for_status()


class ScreenMaker:
    """Brings a new phone to the screen asked for; `phone()` makes phones, `api` is the host."""

    def __init__(self, phone: Callable[..., Phone], api: httpx.Client) -> None:
        self.phone = phone
        self.api = api

    def reach(self, screen: str, **phone_options: object) -> Reached:
        return getattr(self, screen)(self.phone(**phone_options))  # type: ignore[no-any-return]

    def name(self, phone: Phone) -> Reached:
        event = create_event(self.api, title=TITLE)
        open_screen(phone, f"/j/{event.code}", "name")
        return Reached(phone, "name", {TITLE, event.code})

    def name_taken(self, phone: Phone) -> Reached:
        event = create_event(self.api, title=TITLE)
        join_over_http(self.api, event, NAME)
        open_screen(phone, f"/j/{event.code}", "name")
        type_name(phone.page, NAME)
        expect(phone.page.locator("#name-error")).to_be_visible()
        return Reached(phone, "name", {TITLE, event.code, NAME})

    def joined(self, phone: Phone) -> Reached:
        event = create_event(self.api, title=TITLE)
        join(phone, event)
        return Reached(phone, "joined", {TITLE, event.code, NAME, "A"})

    def away(self, phone: Phone) -> Reached:
        """Joined, then the phone loses the network: its place is kept while it reconnects."""
        reached = self.joined(phone)
        phone.context.set_offline(True)
        expect(phone.page.locator("[data-screen='joined']")).to_have_attribute(
            "data-status", "lost"
        )
        return Reached(phone, "away", reached.data, offline=True)

    def left(self, phone: Phone) -> Reached:
        reached = self.joined(phone)
        phone.page.locator(".leave-button").click()
        phone.page.locator("dialog button[value=ok]").click()
        expect(phone.page.locator("[data-screen='left']")).to_be_visible()
        return Reached(phone, "left", reached.data)

    def removed(self, phone: Phone) -> Reached:
        event = create_event(self.api, title=TITLE)
        join(phone, event)
        [ana] = roster(self.api, event)
        self.api.post(
            f"/api/events/{event.code}/participants/{ana['id']}/kick", headers=event.host_headers
        ).raise_for_status()
        expect(phone.page.locator("[data-screen='kicked']")).to_be_visible()
        return Reached(phone, "kicked", {TITLE, event.code, NAME})

    def locked(self, phone: Phone) -> Reached:
        event = create_event(self.api, title=TITLE)
        host_patch(self.api, event, {"status": "locked"})
        open_screen(phone, f"/j/{event.code}", "locked")
        return Reached(phone, "locked", {TITLE, event.code})

    def full(self, phone: Phone) -> Reached:
        event = create_event(self.api, title=TITLE, capacity=3)
        for name in ("Bo", "Chen", "Dara"):
            join_over_http(self.api, event, name)
        open_screen(phone, f"/j/{event.code}", "full")
        return Reached(phone, "full", {TITLE, event.code})

    def ended(self, phone: Phone) -> Reached:
        event = create_event(self.api, title=TITLE)
        join(phone, event)
        host_patch(self.api, event, {"status": "closed"})
        expect(phone.page.locator("[data-screen='closed']")).to_be_visible()
        return Reached(phone, "closed", {TITLE, event.code, NAME})

    def unknown(self, phone: Phone) -> Reached:
        open_screen(phone, "/j/ZZZZZZ", "unknown")
        return Reached(phone, "unknown", {"ZZZZZZ"})

    def replaced(self, phone: Phone) -> Reached:
        event = create_event(self.api, title=TITLE)
        join(phone, event)
        other = phone.context.new_page()
        other.goto(f"{phone.base_url}/j/{event.code}")
        expect(other.locator("[data-screen='joined']")).to_be_visible()
        expect(phone.page.locator("[data-screen='replaced']")).to_be_visible()
        return Reached(phone, "replaced", {TITLE, event.code, NAME})

    def waiting(self, phone: Phone) -> Reached:
        """The host lets people in one by one: a new phone waits on a screen that says so."""
        event = create_event(self.api, title=TITLE)
        host_patch(self.api, event, {"admission": "approval"})
        open_screen(phone, f"/j/{event.code}", "name")
        type_name(phone.page, NAME)
        expect(phone.page.locator("[data-screen='waiting']")).to_be_visible()
        return Reached(phone, "waiting", {TITLE, event.code, NAME})

    def moved(self, phone: Phone) -> Reached:
        """Joined, then the seat moves to another phone with the recovery code shown here."""
        event = create_event(self.api, title=TITLE)
        join(phone, event)
        page = phone.page
        page.locator("[data-screen='joined'] details summary").click()
        recovery_code = page.get_by_test_id("recovery-code").inner_text()
        response = self.api.post(
            f"/api/events/{event.code}/join",
            json={"device_id": new_device(), "display_name": NAME, "recovery_code": recovery_code},
        )
        assert response.status_code == 200, response.text
        expect(page.locator("[data-screen='moved']")).to_be_visible()
        return Reached(phone, "moved", {TITLE, event.code, NAME})


# Every screen a person can meet on the join page, in the order a walk visits them.
SCREENS = [
    "name",
    "name_taken",
    "joined",
    "away",
    "left",
    "removed",
    "locked",
    "full",
    "ended",
    "unknown",
    "replaced",
    "waiting",
    "moved",
]
