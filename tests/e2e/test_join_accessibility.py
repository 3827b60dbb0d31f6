"""The join page for everyone: axe-core on every screen, focus, announcements, motion, touch size.

axe-core comes inside the axe-playwright-python package (its axe.min.js), injected into the page
by Playwright: nothing is downloaded at run time.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.e2e.pages import Phone, create_event, roster
from tests.e2e.phone_screens import SCREENS, ScreenMaker, join

pytestmark = pytest.mark.e2e

SERIOUS = {"serious", "critical"}
MIN_TARGET_PX = 44
# Everything a finger can press or type into, when it shows.
TARGET_SIZES = """() => [...document.querySelectorAll(
    "button, a[href], input, select, textarea, [role=button], [tabindex]:not([tabindex='-1'])"
)].filter((element) => element.checkVisibility()).map((element) => {
    const box = element.getBoundingClientRect();
    return { what: element.outerHTML.slice(0, 80), width: box.width, height: box.height };
})"""


def serious_violations(page: Page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + ", ".join(str(node["target"]) for node in violation["nodes"])
        for violation in results.response["violations"]
        if violation["impact"] in SERIOUS
    ]


@pytest.mark.parametrize("screen", SCREENS)
@pytest.mark.parametrize("locale", ["en", "ar"])
def test_no_serious_violation_and_targets_a_finger_can_hit(
    screen: str, locale: str, phone: Callable[..., Phone], api: httpx.Client
) -> None:
    reached = ScreenMaker(phone, api).reach(screen, locale=locale)
    page = reached.phone.page
    assert serious_violations(page) == [], screen
    small = [
        target
        for target in page.evaluate(TARGET_SIZES)
        if target["width"] < MIN_TARGET_PX or target["height"] < MIN_TARGET_PX
    ]
    assert small == [], small


def test_the_leave_dialog_has_no_serious_violation(
    phone: Callable[..., Phone], api: httpx.Client
) -> None:
    ana = phone()
    join(ana, create_event(api))
    ana.page.get_by_role("button", name="Leave event").click()
    dialog = ana.page.get_by_role("dialog", name="Leave Friday quiz?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Stay")).to_be_focused()
    assert serious_violations(ana.page) == []
    sizes = ana.page.evaluate(TARGET_SIZES)
    assert all(size["height"] >= MIN_TARGET_PX for size in sizes), sizes


def focused_heading(page: Page) -> str:
    text: str = page.evaluate(
        "() => document.activeElement.matches('h2') ? document.activeElement.textContent : ''"
    )
    return text


def test_focus_moves_to_each_new_screen(phone: Callable[..., Phone], api: httpx.Client) -> None:
    event = create_event(api)
    ana = phone()
    ana.open(event.code)
    # The name form is the exception: its field takes the focus, so typing can start at once.
    expect(ana.name_field).to_be_focused()

    ana.type_name("Ana")
    expect(ana.joined_heading("Ana")).to_be_focused()

    ana.page.get_by_role("button", name="Leave event").click()
    ana.page.get_by_role("dialog").get_by_role("button", name="Leave", exact=True).click()
    expect(ana.heading("You left the event")).to_be_focused()

    ana.page.get_by_role("button", name="Join again").click()
    expect(ana.joined_heading("Ana")).to_be_focused()

    [entry] = roster(api, event)
    api.post(
        f"/api/events/{event.code}/participants/{entry['id']}/kick", headers=event.host_headers
    ).raise_for_status()
    expect(ana.heading("You were removed from this event")).to_be_focused()


def test_status_changes_are_announced(phone: Callable[..., Phone], api: httpx.Client) -> None:
    """The connection pill and "are you on the host's screen" are live regions; so is the score."""
    event = create_event(api)
    ana = phone()
    ana.join_as(event.code, "Ana")
    presence = ana.page.get_by_test_id("presence")
    expect(presence).to_have_attribute("role", "status")
    expect(ana.connection).to_have_attribute("role", "status")
    expect(presence).to_have_text("You're on the host's screen")

    ana.context.set_offline(True)
    expect(presence).to_have_text("Your place is kept while you reconnect")
    expect(ana.connection).to_have_text("Offline")
    ana.context.set_offline(False)
    expect(presence).to_have_text("You're on the host's screen")
    expect(ana.connection).to_have_text("Connected")

    score_region = ana.page.locator("output").filter(has=ana.score)
    expect(score_region).to_have_attribute("aria-live", "polite")
    [entry] = roster(api, event)
    api.patch(
        f"/api/events/{event.code}/participants/{entry['id']}",
        json={"state": {"score": 5}},
        headers=event.host_headers,
    ).raise_for_status()
    expect(ana.score).to_have_text("5")


def test_reduced_motion_stops_every_animation(
    phone: Callable[..., Phone], api: httpx.Client
) -> None:
    event = create_event(api)
    moving = phone()
    moving.join_as(event.code, "Ana")
    still = phone(reduced_motion="reduce")
    still.join_as(event.code, "Bo")
    animated = """() => [...document.querySelectorAll("*")].filter((element) => {
        const style = getComputedStyle(element);
        return style.animationName !== "none" || parseFloat(style.transitionDuration) > 0;
    }).length"""
    assert moving.page.evaluate(animated) > 0  # the check finds motion where there is some
    assert still.page.evaluate(animated) == 0
