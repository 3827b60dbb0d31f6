"""The host dashboard and the start page in every language they offer: no English left on them.

Each page is rendered in English first, then in each other language (the browser's language
chooses it); every text a person sees or hears (text, aria-label, placeholder, title, alt, the
chosen option of a menu) that is still the English one fails the test, except names, codes,
numbers and the few words a language writes as English does (listed below, each checked).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.pages import (
    PROJECTOR,
    HostedEvent,
    create_event,
    join_crowd,
    report_seen,
    set_event_state,
)
from tests.servers import RollcallServer

pytestmark = pytest.mark.e2e

LOCALES = ["de", "fr", "es", "it", "pt", "nl", "pl", "ar"]
NAMES = ["Ana Silva", "Bruno Costa", "Chen Wei", "Dara Okafor", "Emil Novak"]
# Words these languages write exactly as English does, each a real translation (patterns).
SAME_AS_ENGLISH = {
    "de": {"Name", r"\(optional\)", "CODE"},
    "fr": {"Score", "CODE", r"\d+ points"},
    "nl": {"Open", "CODE"},
}

VISIBLE_TEXTS = """
() => {
  const texts = new Set();
  const add = (text) => {
    const clean = (text || "").replace(/\\s+/g, " ").trim();
    if (clean) texts.add(clean);
  };
  const seen = (element) => element.checkVisibility({ visibilityProperty: true });
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest("option, script, style, noscript") || !seen(parent)) continue;
    add(node.textContent);
  }
  for (const element of document.body.querySelectorAll("*")) {
    if (!seen(element)) continue;
    for (const name of ["aria-label", "placeholder", "title", "alt"]) add(element.getAttribute(name));
    if (element.tagName === "SELECT" && element.id !== "language") {
      add(element.selectedOptions[0]?.textContent);
    }
  }
  return [...texts];
}
"""


def _texts(page: Page) -> set[str]:
    # The language menu comes last, once the page has its words.
    expect(page.locator("#language")).to_be_attached()
    return set(page.evaluate(VISIBLE_TEXTS))


# The start page's picture of a roster shows these names.
PICTURED = {"Ana", "Bruno", "Chen Wei", "Dara"}


def _exempt(text: str, event: HostedEvent) -> bool:
    """Names, codes, numbers, the brand and the join URL are the same in every language."""
    if re.fullmatch(r"[\d\s.,:/·+−\-%]*", text) or text in event.join_url:
        return True
    return text in {*NAMES, *PICTURED, event.code, "rollcall", "Friday quiz"}


def _english_left(english: set[str], texts: set[str], locale: str, event: HostedEvent) -> list[str]:
    allowed = SAME_AS_ENGLISH.get(locale, set())
    return sorted(
        text
        for text in texts & english
        if not _exempt(text, event) and not any(re.fullmatch(word, text) for word in allowed)
    )


def _dashboard_screens(page: Page, base_url: str, event: HostedEvent) -> set[str]:
    """The dashboard as cards and as a list, its host-link dialog and its remove dialog."""
    page.goto(f"{base_url}/host/{event.code}#host_token={event.host_token}")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-status", "connected")
    expect(page.get_by_test_id("roster").locator("[data-participant-id]")).to_have_count(5)
    expect(page.get_by_test_id("behind").get_by_role("listitem")).to_have_count(2)
    texts = _texts(page)
    page.locator("#roster-view").select_option("list")
    expect(page.locator("main")).to_have_attribute("data-layout", "list")
    page.get_by_test_id("search").fill("zzz")
    expect(page.get_by_test_id("empty")).to_be_visible()
    texts |= _texts(page)
    page.get_by_test_id("search").fill("")
    page.get_by_test_id("host-link").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    texts |= _texts(page)
    page.keyboard.press("Escape")
    page.locator("[data-action=kick]").first.click()
    expect(page.get_by_role("dialog")).to_be_visible()
    texts |= _texts(page)
    page.keyboard.press("Escape")
    return texts


def _no_key_screen(page: Page, base_url: str, event: HostedEvent) -> set[str]:
    page.goto(f"{base_url}/host/{event.code}")
    expect(page.locator("[data-screen=no-token]")).to_be_visible()
    return _texts(page)


def _start_page(page: Page, base_url: str) -> set[str]:
    page.goto(f"{base_url}/")
    texts = _texts(page)
    page.locator("#create button[type=submit]").click()
    expect(page.locator("#create-error")).to_be_visible()
    page.locator("#code").fill("nope")
    page.locator("#join-code button[type=submit]").click()
    expect(page.locator("#code-error")).to_be_visible()
    return texts | _texts(page)


def test_no_english_is_left_on_the_host_pages_in_any_language(
    server: RollcallServer,
    api: httpx.Client,
    contexts: Callable[..., BrowserContext],
) -> None:
    event = create_event(api, title="Friday quiz", capacity=40)
    joined = join_crowd(server.base_url, event.code, NAMES)
    api.patch(
        f"/api/events/{event.code}/participants/{joined[0].participant_id}",
        json={"state": {"score": 3}},
        headers=event.host_headers,
    ).raise_for_status()
    api.post(
        f"/api/events/{event.code}/participants/{joined[1].participant_id}/kick",
        headers=event.host_headers,
    ).raise_for_status()
    # An event state two of them have shown: the receipts and who is behind show too.
    version = set_event_state(api, event, {"question": "q1"})
    for person in joined[2:4]:
        report_seen(server.base_url, person.token, version)

    def screens(locale: str) -> dict[str, set[str]]:
        page = contexts(**PROJECTOR, locale=locale).new_page()
        found = {
            "dashboard": _dashboard_screens(page, server.base_url, event),
            "start page": _start_page(page, server.base_url),
        }
        found["no-key screen"] = _no_key_screen(
            contexts(**PROJECTOR, locale=locale).new_page(), server.base_url, event
        )
        assert page.evaluate("document.documentElement.lang") == locale
        return found

    english = screens("en")
    assert "Scan to join" in english["dashboard"]  # the walk sees what it should
    assert "Give Ana Silva a point" in english["dashboard"]
    assert "2 of 4 have version 1" in english["dashboard"]
    assert "Show only them in the roster" in english["dashboard"]
    failures = []
    for locale in LOCALES:
        for screen, texts in screens(locale).items():
            left = _english_left(english[screen], texts, locale, event)
            if left:
                failures.append(f"{locale} {screen}: {left}")
    assert not failures, "English left on the pages:\n" + "\n".join(failures)


def test_arabic_reads_right_to_left(
    server: RollcallServer,
    api: httpx.Client,
    contexts: Callable[..., BrowserContext],
    screenshots: Path,
) -> None:
    """The page's direction is rtl and the layout mirrors: the QR panel sits on the right."""
    event = create_event(api, title="Friday quiz", capacity=40)
    join_crowd(server.base_url, event.code, NAMES)
    page = contexts(**PROJECTOR, locale="ar").new_page()
    page.goto(f"{server.base_url}/host/{event.code}#host_token={event.host_token}")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-status", "connected")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    expect(page.get_by_text("امسح الرمز للانضمام")).to_be_visible()
    panel = page.locator(".join-panel").bounding_box()
    roster = page.locator(".roster-area").bounding_box()
    assert panel and roster and panel["x"] > roster["x"], "the join panel should be on the right"
    code = page.get_by_test_id("event-code")
    expect(code).to_have_text(event.code)  # the code itself reads left to right
    assert code.evaluate("node => getComputedStyle(node).direction") == "ltr"
    page.mouse.move(0, 0)
    page.screenshot(path=str(screenshots / "host-arabic.png"), animations="disabled")


def test_the_language_menu_switches_the_page_and_is_remembered(
    server: RollcallServer,
    api: httpx.Client,
    contexts: Callable[..., BrowserContext],
) -> None:
    event = create_event(api, title="Friday quiz", capacity=40)
    page = contexts(**PROJECTOR, locale="en-US").new_page()
    page.goto(f"{server.base_url}/host/{event.code}#host_token={event.host_token}")
    expect(page.get_by_test_id("connection")).to_have_text("Connected")
    page.get_by_label("Language").select_option("de")
    expect(page.get_by_test_id("connection")).to_have_text("Verbunden")
    expect(page.get_by_role("heading", name="Personen")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "de")
    page.goto(f"{server.base_url}/")
    expect(page.get_by_role("button", name="Veranstaltung erstellen")).to_be_visible()
    page.get_by_label("Sprache").select_option("pl")
    expect(page.get_by_role("heading", name="Utwórz wydarzenie")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Utwórz wydarzenie")).to_be_visible()
