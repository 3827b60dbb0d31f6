"""axe-core (through axe-playwright-python, which ships it: nothing is fetched) on the start page
and on every screen of the host dashboard, in the light and the dark theme: no serious or
critical violation. Also what axe cannot see: status changes are announced, focus moves to the
new screen, reduced motion stops the animations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.pages import (
    PHONE,
    PROJECTOR,
    HostedEvent,
    create_event,
    crowd_names,
    join_crowd,
    report_seen,
    set_event_state,
)
from tests.servers import RollcallServer

pytestmark = pytest.mark.e2e

BLOCKING = {"serious", "critical"}


@pytest.fixture(scope="module")
def axe() -> Axe:
    return Axe()


def _problems(axe: Axe, page: Page) -> list[str]:
    results: dict[str, Any] = axe.run(page).response
    return [
        f"{violation['impact']} {violation['id']}: {violation['help']} "
        f"({[node['target'] for node in violation['nodes']][:5]})"
        for violation in results["violations"]
        if violation["impact"] in BLOCKING
    ]


def _open(page: Page, base_url: str, event: HostedEvent) -> None:
    page.goto(f"{base_url}/host/{event.code}#host_token={event.host_token}")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-status", "connected")


@pytest.fixture
def check(axe: Axe) -> Iterator[Callable[[str, Page], None]]:
    """check(name, page) runs axe on the page as it is; every screen's findings are reported."""
    failures: list[str] = []

    def run(name: str, page: Page) -> None:
        page.mouse.move(0, 0)
        # A screen fading in is judged once it is there: contrast is measured mid-fade otherwise.
        page.wait_for_function(
            """() => document.getAnimations().every((animation) =>
                animation.playState !== "running"
                || animation.effect.getComputedTiming().iterations === Infinity)"""
        )
        failures.extend(f"{name}: {problem}" for problem in _problems(axe, page))

    yield run
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_start_page_has_no_serious_violation(
    server: RollcallServer,
    contexts: Callable[..., BrowserContext],
    check: Callable[[str, Page], None],
    scheme: str,
) -> None:
    for size in (PROJECTOR, PHONE):
        page = contexts(**size, color_scheme=scheme).new_page()
        page.goto(f"{server.base_url}/")
        expect(page.locator("#language")).to_be_attached()
        check(f"start page {scheme} {size['viewport']}", page)
        page.locator("#create button[type=submit]").click()
        expect(page.locator("#create-error")).to_be_visible()
        check(f"start page with an error {scheme}", page)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_dashboard_screen_has_no_serious_violation(
    server: RollcallServer,
    api: httpx.Client,
    contexts: Callable[..., BrowserContext],
    check: Callable[[str, Page], None],
    scheme: str,
) -> None:
    base = server.base_url

    def page(**options: object) -> Page:
        return contexts(**{**PROJECTOR, "color_scheme": scheme, **options}).new_page()

    empty = create_event(api, title="Empty room")
    host = page()
    _open(host, base, empty)
    expect(host.get_by_test_id("empty")).to_be_visible()
    check("dashboard, empty", host)

    small = create_event(api, title="Small room", capacity=20)
    people = join_crowd(base, small.code, crowd_names(6))
    api.post(
        f"/api/events/{small.code}/participants/{people[0].participant_id}/kick",
        headers=small.host_headers,
    ).raise_for_status()
    host = page()
    _open(host, base, small)
    expect(host.get_by_test_id("roster").locator("[data-participant-id]")).to_have_count(6)
    check("dashboard, small (cards)", host)
    host.get_by_test_id("host-link").click()
    expect(host.get_by_role("dialog")).to_be_visible()
    check("host link dialog", host)
    host.keyboard.press("Escape")
    host.get_by_test_id("projector").click()
    check("projector mode", host)
    host.get_by_test_id("projector").click()
    phone_host = page(**PHONE)
    _open(phone_host, base, small)
    check("dashboard on a phone", phone_host)

    # The event state's receipts: how many have it, who is behind, and the roster of only them.
    version = set_event_state(api, small, {"question": "q1"})
    for person in people[1:4]:
        report_seen(base, person.token, version)
    host = page()
    _open(host, base, small)
    expect(host.get_by_test_id("receipts")).to_have_text("3 of 5 have version 1", timeout=5_000)
    check("dashboard with receipts", host)
    host.get_by_test_id("behind-filter").click()
    expect(host.get_by_test_id("roster").locator("[data-participant-id]")).to_have_count(2)
    check("dashboard, only who is behind", host)

    large = create_event(api, title="Large room", capacity=300)
    join_crowd(base, large.code, crowd_names(250))
    host = page()
    _open(host, base, large)
    expect(host.locator("main")).to_have_attribute("data-layout", "list")
    check("dashboard, large (list)", host)
    host.get_by_test_id("search").fill("zzz")
    expect(host.get_by_test_id("empty")).to_be_visible()
    check("dashboard, nobody matches", host)

    host = page()
    host.goto(f"{base}/host/{small.code}")
    expect(host.locator("[data-screen=no-token]")).to_be_visible()
    check("no key", host)
    host.goto(f"{base}/host/{small.code}#host_token=not-the-key")
    expect(host.locator("[data-screen=bad-token]")).to_be_visible()
    check("wrong key", host)
    host.goto(f"{base}/host/NOSUCH#host_token=any")
    expect(host.locator("[data-screen=unknown]")).to_be_visible()
    check("no such event", host)

    api.patch(
        f"/api/events/{small.code}", json={"status": "closed"}, headers=small.host_headers
    ).raise_for_status()
    host = page()
    host.goto(f"{base}/host/{small.code}#host_token={small.host_token}")
    expect(host.get_by_test_id("ended")).to_be_visible()
    check("ended", host)


def test_changes_are_announced_and_focus_follows_the_screens(
    server: RollcallServer,
    api: httpx.Client,
    contexts: Callable[..., BrowserContext],
) -> None:
    event = create_event(api, title="Friday quiz")
    page = contexts(**PROJECTOR).new_page()
    page.goto(f"{server.base_url}/host/{event.code}")
    form_field = page.get_by_label("Host token")
    expect(page.get_by_role("heading", name="This browser has no host key")).to_be_focused()

    # A key typed into the screen's form: the dashboard's heading takes focus once it opens.
    form_field.fill(event.host_token)
    form_field.press("Enter")
    expect(page.get_by_role("heading", name="People")).to_be_focused()

    announcer = page.get_by_test_id("announcer")
    expect(announcer).to_have_attribute("aria-live", "polite")
    # Everything the live region says, in turn (a later sentence replaces an earlier one, as a
    # screen reader hears them: these phones never beat, so they go offline within seconds).
    announcer.evaluate(
        "node => { window.heard = []; new MutationObserver(() => window.heard.push("
        "node.textContent)).observe(node, { childList: true, characterData: true,"
        " subtree: true }); }"
    )

    def heard(sentence: str) -> None:
        page.wait_for_function(
            "sentence => window.heard.some(text => text.includes(sentence))",
            arg=sentence,
            timeout=6_000,
            polling=50,
        )

    join_crowd(server.base_url, event.code, ["Maya Lindqvist"])
    heard("Maya Lindqvist joined.")
    # Several changes close together make one sentence.
    join_crowd(server.base_url, event.code, crowd_names(3))
    heard("3 people joined.")

    page.get_by_test_id("lock").click()
    expect(announcer).to_have_text("The event is locked: only people already in can come back.")

    # Ending the event hides the buttons that did it; the banner saying so takes focus.
    page.get_by_test_id("end").click()
    page.get_by_role("dialog").get_by_role("button", name="End event").click()
    expect(page.get_by_test_id("ended")).to_be_focused()
    expect(announcer).to_have_text("The event has ended.")


def test_reduced_motion_stops_animations_and_the_dark_theme_follows_the_system(
    server: RollcallServer,
    api: httpx.Client,
    contexts: Callable[..., BrowserContext],
) -> None:
    event = create_event(api, title="Friday quiz")
    join_crowd(server.base_url, event.code, ["Ana Silva"])
    calm = contexts(**PROJECTOR, reduced_motion="reduce").new_page()
    _open(calm, server.base_url, event)
    card = calm.get_by_test_id("roster").locator("[data-participant-id]").first
    assert card.evaluate("node => getComputedStyle(node).animationName") == "none"

    moving = contexts(**PROJECTOR).new_page()
    _open(moving, server.base_url, event)
    card = moving.get_by_test_id("roster").locator("[data-participant-id]").first
    assert card.evaluate("node => getComputedStyle(node).animationName") == "rise"

    dark = contexts(**PROJECTOR, color_scheme="dark").new_page()
    _open(dark, server.base_url, event)
    background = dark.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 17, 34)", background
    light = moving.evaluate("getComputedStyle(document.body).backgroundColor")
    assert light == "rgb(244, 245, 250)", light
