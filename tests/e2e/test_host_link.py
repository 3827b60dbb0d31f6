"""The host link (/host/CODE#host_token=…): a key in it opens the dashboard only once the server has
accepted it; a refused one never replaces or deletes the key that works; and an event made on
the start page offers its host link to copy or save, once, warned as a secret (issue 16, item 2).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.pages import PROJECTOR, Host, HostedEvent
from tests.servers import RollcallServer

pytestmark = pytest.mark.e2e

WRONG = "not-the-host-token-of-this-event"


def _stored(page: Page, code: str) -> str | None:
    stored: str | None = page.evaluate(f"localStorage.getItem('rollcall.host.{code}')")
    return stored


def test_a_refused_key_in_a_link_leaves_the_working_one_in_place(
    host: Callable[..., Host], event: HostedEvent, server: RollcallServer
) -> None:
    dashboard = host(event)
    page = dashboard.page
    assert _stored(page, event.code) == event.host_token

    # The same tab, only the fragment changes (a link opened over the dashboard).
    page.goto(f"{server.base_url}/host/{event.code}#host_token={WRONG}")
    expect(page.get_by_text("The key in that link doesn't open this event")).to_be_visible()
    expect(dashboard.connection).to_have_text("Connected")
    assert _stored(page, event.code) == event.host_token
    assert "#" not in page.url

    # A new tab of the same browser opening the link.
    other = page.context.new_page()
    other.goto(f"{server.base_url}/host/{event.code}#host_token={WRONG}")
    expect(other.get_by_test_id("connection")).to_have_text("Connected")
    expect(other.get_by_test_id("event-code")).to_have_text(event.code)
    assert _stored(other, event.code) == event.host_token
    other.reload()
    expect(other.get_by_test_id("connection")).to_have_text("Connected")


def test_a_refused_key_is_never_kept(
    contexts: Callable[..., BrowserContext], event: HostedEvent, server: RollcallServer
) -> None:
    page = contexts(**PROJECTOR).new_page()
    page.goto(f"{server.base_url}/host/{event.code}#host_token={WRONG}")
    expect(
        page.get_by_role("heading", name="This host key doesn't open this event")
    ).to_be_visible()
    assert _stored(page, event.code) is None
    assert "#" not in page.url


def test_a_good_key_in_a_link_replaces_a_stale_one(
    contexts: Callable[..., BrowserContext], event: HostedEvent, server: RollcallServer
) -> None:
    page = contexts(**PROJECTOR).new_page()
    page.goto(f"{server.base_url}/")
    page.evaluate(f"localStorage.setItem('rollcall.host.{event.code}', '{WRONG}')")
    page.goto(f"{server.base_url}/host/{event.code}#host_token={event.host_token}")
    expect(page.get_by_test_id("connection")).to_have_text("Connected")
    assert _stored(page, event.code) == event.host_token


def test_an_event_made_here_offers_its_host_link_once(
    contexts: Callable[..., BrowserContext], server: RollcallServer
) -> None:
    context = contexts(**PROJECTOR, permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(f"{server.base_url}/")
    page.get_by_label("Event name").fill("Board meeting")
    page.get_by_role("button", name="Create event").click()
    expect(page.get_by_test_id("connection")).to_have_text("Connected")
    code = str(page.get_by_test_id("event-code").text_content())
    token = _stored(page, code)
    assert token
    link = f"{server.base_url}/host/{code}#host_token={token}"

    notice = page.get_by_test_id("hostlink-notice")
    expect(notice).to_contain_text("Anyone with the link controls the event")
    assert token not in str(notice.text_content())  # the secret itself is not on the screen
    notice.get_by_role("button", name="Copy host link").click()
    expect(page.get_by_text("Host link copied. Keep it secret.")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == link
    expect(notice).to_have_count(0)
    page.reload()
    expect(page.get_by_test_id("connection")).to_have_text("Connected")
    expect(page.get_by_test_id("hostlink-notice")).to_have_count(0)

    # The copied link opens the dashboard in another browser.
    elsewhere = contexts(**PROJECTOR).new_page()
    elsewhere.goto(link)
    expect(elsewhere.get_by_test_id("connection")).to_have_text("Connected")

    # The top bar's button shows it again, masked until asked, and saves it to a file.
    page.get_by_test_id("host-link").click()
    dialog = page.get_by_role("dialog", name="Your host link")
    expect(dialog).to_contain_text("Keep it secret")
    field = dialog.get_by_label("Host link")
    expect(field).to_have_attribute("type", "password")
    expect(field).to_have_value(link)
    dialog.get_by_role("button", name="Show").click()
    expect(field).to_have_attribute("type", "text")
    with page.expect_download() as saving:
        dialog.get_by_role("button", name="Save host link").click()
    download = saving.value
    assert download.suggested_filename == f"rollcall-host-{code}.txt"
    saved = download.path().read_text(encoding="utf-8")
    assert link in saved
    assert "Keep it secret" in saved
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_test_id("host-link")).to_be_focused()


def test_the_notice_can_be_waved_off_and_events_from_elsewhere_never_show_it(
    contexts: Callable[..., BrowserContext],
    host: Callable[..., Host],
    event: HostedEvent,
    server: RollcallServer,
) -> None:
    page = contexts(**PROJECTOR).new_page()
    page.goto(f"{server.base_url}/")
    page.get_by_label("Event name").fill("Board meeting")
    page.get_by_role("button", name="Create event").click()
    notice = page.get_by_test_id("hostlink-notice")
    notice.get_by_role("button", name="Not now").click()
    expect(notice).to_have_count(0)
    expect(page.get_by_role("heading", name="People")).to_be_focused()
    page.reload()
    expect(page.get_by_test_id("connection")).to_have_text("Connected")
    expect(page.get_by_test_id("hostlink-notice")).to_have_count(0)

    # Opened with a link the host already has: nothing to offer.
    expect(host(event).page.get_by_test_id("hostlink-notice")).to_have_count(0)
