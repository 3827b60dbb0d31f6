"""The dashboard for a crowd: the compact list past 40 people (and by hand), search, sort, filters
whose counts match, keyboard-only use, projector mode, and the code readable from the back."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.e2e.pages import PROJECTOR, HostedEvent, Joined, create_event, crowd_names, join_crowd
from tests.servers import RollcallServer

pytestmark = pytest.mark.e2e

PEOPLE = 120


def _rows(page: Page) -> Locator:
    return page.get_by_test_id("roster").locator("[data-participant-id]")


def _names(page: Page) -> list[str]:
    return [str(name) for name in _rows(page).locator(".person-name").all_text_contents()]


def _open(page: Page, base_url: str, event: HostedEvent) -> None:
    page.goto(f"{base_url}/host/{event.code}#host_token={event.host_token}")
    expect(page.get_by_test_id("connection")).to_have_text("Connected")


@pytest.fixture(scope="module")
def crowd(server: RollcallServer) -> tuple[HostedEvent, list[Joined]]:
    """An event of 120: scores for five, one removed, one who left."""
    with httpx.Client(base_url=server.base_url, timeout=10) as api:
        event = create_event(api, title="Town hall", capacity=500)
        people = join_crowd(server.base_url, event.code, crowd_names(PEOPLE))
        for score, person in enumerate(people[10:15], start=1):
            api.patch(
                f"/api/events/{event.code}/participants/{person.participant_id}",
                json={"state": {"score": score * 10}},
                headers=event.host_headers,
            ).raise_for_status()
        api.post(
            f"/api/events/{event.code}/participants/{people[20].participant_id}/kick",
            headers=event.host_headers,
        ).raise_for_status()
        api.delete(
            "/api/session", headers={"Authorization": f"Bearer {people[21].token}"}
        ).raise_for_status()
    return event, people


def test_a_crowd_gets_a_compact_list_that_draws_only_what_is_seen(
    server: RollcallServer,
    contexts: Callable[..., BrowserContext],
    crowd: tuple[HostedEvent, list[Joined]],
) -> None:
    event, _ = crowd
    page = contexts(**PROJECTOR).new_page()
    _open(page, server.base_url, event)
    expect(page.locator("main")).to_have_attribute("data-layout", "list")
    expect(page.get_by_test_id("shown")).to_have_text(f"{PEOPLE} people")
    drawn = _rows(page).count()
    assert 10 < drawn < PEOPLE, drawn
    expect(_rows(page).first).to_have_attribute("aria-posinset", "1")
    expect(_rows(page).first).to_have_attribute("aria-setsize", str(PEOPLE))
    # The last person is reached by scrolling the list; rows are drawn as they come into sight.
    page.locator(".roster-viewport").evaluate("node => { node.scrollTop = node.scrollHeight; }")
    expect(_rows(page).last).to_have_attribute("aria-posinset", str(PEOPLE))
    assert _rows(page).count() < PEOPLE

    # By hand: cards, remembered on this device; back to automatic.
    page.get_by_label("View").select_option("cards")
    expect(page.locator("main")).to_have_attribute("data-layout", "cards")
    expect(_rows(page)).to_have_count(PEOPLE)
    page.reload()
    expect(page.locator("main")).to_have_attribute("data-layout", "cards")
    page.get_by_label("View").select_option("auto")
    expect(page.locator("main")).to_have_attribute("data-layout", "list")


def test_search_sort_and_filters_answer_with_counts_that_match(
    server: RollcallServer,
    contexts: Callable[..., BrowserContext],
    crowd: tuple[HostedEvent, list[Joined]],
) -> None:
    event, people = crowd
    page = contexts(**PROJECTOR).new_page()
    _open(page, server.base_url, event)
    count = page.get_by_test_id

    # As you type, accents and case aside.
    page.get_by_label("Search").press_sequentially("zoe")
    zoes = [name for name in crowd_names(PEOPLE) if name.startswith("Zoë")]
    expect(count("shown")).to_have_text(f"{len(zoes)} shown of {PEOPLE} people")
    assert sorted(_names(page)) == sorted(zoes)
    offline = sum(1 for name in zoes if name not in {people[20].name, people[21].name})
    expect(count("count-offline")).to_have_text(str(offline))
    page.get_by_label("Search").press("Escape")
    expect(count("shown")).to_have_text(f"{PEOPLE} people")

    # Filters: the counts are the same with and without them; the rows are those counted.
    expect(count("count-removed")).to_have_text("1")
    expect(count("count-left")).to_have_text("1")
    expect(count("count-waiting")).to_have_text("0")
    page.locator("[data-filter=removed]").click()
    expect(page.locator("[data-filter=removed]")).to_have_attribute("aria-pressed", "true")
    expect(count("shown")).to_have_text(f"1 shown of {PEOPLE} people")
    assert _names(page) == [people[20].name]
    page.locator("[data-filter=left]").click()
    expect(count("shown")).to_have_text(f"2 shown of {PEOPLE} people")
    assert sorted(_names(page)) == sorted([people[20].name, people[21].name])
    expect(count("count-offline")).to_have_text(str(PEOPLE - 2))
    # Waiting: status `pending`; nobody waits in this event.
    page.locator("[data-filter=removed]").click()
    page.locator("[data-filter=left]").click()
    page.locator("[data-filter=waiting]").click()
    expect(count("empty")).to_contain_text("Nobody matches")
    page.get_by_role("button", name="Show everyone").click()
    expect(count("shown")).to_have_text(f"{PEOPLE} people")
    expect(page.get_by_label("Search")).to_be_focused()

    # Sorts: score (highest first, and reversed), join time (newest first), name.
    page.get_by_label("Sort by").select_option("score")
    expect(_rows(page).first.locator(".person-name")).to_have_text(people[14].name)
    expect(_rows(page).first.get_by_test_id("score")).to_have_text("50")
    page.get_by_role("button", name="Reverse order").click()
    expect(_rows(page).first.get_by_test_id("score")).to_have_text("0")
    page.get_by_role("button", name="Reverse order").click()
    page.get_by_label("Sort by").select_option("presence")
    page.get_by_role("button", name="Reverse order").click()  # the removed, then who left, first
    expect(_rows(page).first.locator(".person-name")).to_have_text(people[20].name)
    expect(_rows(page).nth(1).locator(".person-name")).to_have_text(people[21].name)
    page.get_by_role("button", name="Reverse order").click()
    page.get_by_label("Sort by").select_option("name")
    names = _names(page)
    assert names == sorted(names, key=lambda name: unicodedata.normalize("NFKD", name).casefold())


def test_the_list_works_from_the_keyboard_alone(
    server: RollcallServer,
    contexts: Callable[..., BrowserContext],
    crowd: tuple[HostedEvent, list[Joined]],
) -> None:
    event, _ = crowd
    page = contexts(**PROJECTOR).new_page()
    _open(page, server.base_url, event)
    keys = page.keyboard

    keys.press("/")  # the search box, from anywhere
    search = page.get_by_label("Search")
    expect(search).to_be_focused()
    keys.type("silva")
    expect(page.get_by_test_id("shown")).to_contain_text("shown of")
    keys.press("ArrowDown")  # into the list: its first row
    first = _rows(page).first
    expect(first).to_be_focused()
    keys.press("ArrowDown")
    expect(_rows(page).nth(1)).to_be_focused()
    keys.press("Home")
    expect(first).to_be_focused()
    name = str(first.locator(".person-name").text_content())

    keys.press("Tab")  # the row's own buttons follow it; other rows are not tab stops
    keys.press("Tab")
    expect(page.get_by_role("button", name=f"Give {name} a point")).to_be_focused()
    keys.press("Enter")
    expect(first.get_by_test_id("score")).to_have_text("1")
    keys.press("ArrowDown")  # the same button, one row down
    second = str(_rows(page).nth(1).locator(".person-name").text_content())
    expect(page.get_by_role("button", name=f"Give {second} a point")).to_be_focused()
    keys.press("Tab")
    expect(page.get_by_role("button", name=f"Edit {second}")).to_be_focused()
    keys.press("Tab")
    expect(page.get_by_role("button", name=f"Remove {second}")).to_be_focused()
    keys.press("Tab")  # past the list: the next thing on the page, not the next row
    assert page.evaluate("document.activeElement.closest('[data-testid=roster]')") is None

    # From the top of a long list to its end, scrolled into sight.
    search.fill("")
    keys.press("ArrowDown")
    keys.press("End")
    last = page.locator("[data-participant-id]:focus")
    expect(last).to_have_attribute("aria-posinset", str(PEOPLE))
    _wait_for_the_focused_row_in_sight(page)


def _wait_for_the_focused_row_in_sight(page: Page) -> None:
    """In sight by the next frame or two (the list redraws per frame)."""
    page.wait_for_function(
        "() => { const row = document.activeElement.closest('[data-participant-id]'); "
        "const box = row.getBoundingClientRect(); "
        "const view = row.closest('.roster-viewport').getBoundingClientRect(); "
        "return box.top >= view.top && box.bottom <= view.bottom + 1; }",
        timeout=5_000,
        polling=100,
    )


def test_the_row_the_keyboard_is_on_stays_in_sight_when_the_list_changes(
    server: RollcallServer,
    contexts: Callable[..., BrowserContext],
    crowd: tuple[HostedEvent, list[Joined]],
) -> None:
    event, _ = crowd
    page = contexts(**PROJECTOR).new_page()
    _open(page, server.base_url, event)
    search = page.get_by_label("Search")
    search.fill("silva")
    expect(page.get_by_test_id("shown")).to_contain_text("shown of")
    # Quicker than a frame: to the last match, then the search cleared. The whole list comes
    # back with that person far down it; the list follows them.
    page.evaluate(
        """() => {
            const key = (node, key) => node.dispatchEvent(
                new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true }));
            const search = document.querySelector("[data-testid=search]");
            key(search, "ArrowDown");
            key(document.activeElement, "End");
            search.value = "";
            search.dispatchEvent(new Event("input", { bubbles: true }));
        }"""
    )
    expect(page.get_by_test_id("shown")).to_have_text(f"{PEOPLE} people")
    focused = page.locator("[data-participant-id]:focus")
    expect(focused).to_contain_text("Silva")
    assert int(str(focused.get_attribute("aria-posinset"))) > 60
    _wait_for_the_focused_row_in_sight(page)


def test_projector_mode_hides_the_controls_and_is_remembered(
    server: RollcallServer,
    contexts: Callable[..., BrowserContext],
    crowd: tuple[HostedEvent, list[Joined]],
) -> None:
    event, _ = crowd
    page = contexts(**PROJECTOR).new_page()
    _open(page, server.base_url, event)
    toggle = page.get_by_test_id("projector")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    for hidden in ("search", "lock", "end", "host-link", "language"):
        expect(page.get_by_test_id(hidden)).to_be_hidden()
    expect(_rows(page).first.locator("[data-action]").first).to_be_hidden()
    expect(page.get_by_test_id("event-code")).to_be_visible()
    expect(page.get_by_test_id("connection")).to_be_visible()
    page.reload()
    expect(page.get_by_test_id("connection")).to_have_text("Connected")
    expect(page.get_by_test_id("projector")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("lock")).to_be_hidden()
    page.get_by_test_id("projector").click()
    expect(page.get_by_test_id("lock")).to_be_visible()
    expect(page.get_by_test_id("search")).to_be_visible()


def test_the_code_is_readable_from_the_back_of_the_room(
    server: RollcallServer,
    api: httpx.Client,
    contexts: Callable[..., BrowserContext],
    screenshots: Path,
) -> None:
    """At 1920 by 1080 the code is at least 48 px tall type, in both views and in projector mode."""
    event = create_event(api, title="Friday quiz")
    page = contexts(**PROJECTOR).new_page()
    _open(page, server.base_url, event)
    code = page.get_by_test_id("event-code")
    for view in ("cards", "list"):
        page.get_by_label("View").select_option(view)
        size = code.evaluate("node => parseFloat(getComputedStyle(node).fontSize)")
        box = code.bounding_box()
        assert size >= 48, f"{view}: the code is {size} px"
        assert box and box["height"] >= 48 and box["y"] + box["height"] <= 1080, box
    page.get_by_label("View").select_option("auto")
    page.get_by_test_id("projector").click()
    assert code.evaluate("node => parseFloat(getComputedStyle(node).fontSize)") >= 48
    page.mouse.move(0, 0)
    page.screenshot(path=str(screenshots / "host-projector-mode.png"), animations="disabled")
