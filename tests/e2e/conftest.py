"""The pages in a real Chromium (the system's, never a downloaded one) against a real server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.e2e.pages import PHONE, PROJECTOR, Host, HostedEvent, Phone, create_event
from tests.pg import PgServer
from tests.servers import FAST, RollcallServer, rollcall_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@pytest.fixture(scope="module")
def server(pg: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RollcallServer]:
    """One server per test module, on a fresh database; each test makes its own events."""
    with (
        pg.fresh_database(migrated=True) as url,
        rollcall_server(url, tmp_path_factory.mktemp("logs"), **FAST) as running,
    ):
        yield running


@pytest.fixture
def api(server: RollcallServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client


# Per module, not per session: Playwright's sync API runs an event loop of its own in the main
# thread, and asyncio tests collected after these would find it still running.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run scripts/install-browser (never `playwright install`)"
        )
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.fixture
def contexts(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """New browser contexts (each one a separate phone or laptop), closed after the test.

    A page that throws, or that breaks its own Content-Security-Policy, fails the test.
    """
    opened: list[BrowserContext] = []
    problems: list[str] = []

    def watch(page: Page) -> None:
        page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
        page.on(
            "console",
            lambda message: (
                problems.append(f"{page.url}: {message.text}")
                if "Content Security Policy" in message.text
                else None
            ),
        )

    def new(**options: object) -> BrowserContext:
        context = browser.new_context(**options)  # type: ignore[arg-type]
        context.set_default_timeout(10_000)
        context.on("page", watch)
        opened.append(context)
        return context

    yield new
    for context in opened:
        context.close()
    assert not problems, "\n".join(problems)


@pytest.fixture
def event(api: httpx.Client) -> HostedEvent:
    return create_event(api)


@pytest.fixture
def phone(contexts: Callable[..., BrowserContext], server: RollcallServer) -> Callable[..., Phone]:
    """A phone: its own browser context at phone size, one page on the join page's origin."""

    def new(**options: object) -> Phone:
        context = contexts(**{**PHONE, **options})
        return Phone(context, context.new_page(), server.base_url)

    return new


@pytest.fixture
def host(contexts: Callable[..., BrowserContext], server: RollcallServer) -> Callable[..., Host]:
    """The host's dashboard on a projector-sized screen, opened with the event's host link."""

    def open_dashboard(event: HostedEvent, **options: object) -> Host:
        context = contexts(**{**PROJECTOR, **options})
        page: Page = context.new_page()
        dashboard = Host(page, server.base_url, event)
        dashboard.open_with_link()
        return dashboard

    return open_dashboard


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
