"""/docs in a real Chromium: Swagger UI renders with no request leaving rollcall and no CSP breach."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Request, expect

from tests.servers import RollcallServer

pytestmark = pytest.mark.e2e


def test_docs_render_offline_under_the_csp(
    contexts: Callable[..., BrowserContext], server: RollcallServer
) -> None:
    context = contexts()
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    failed: list[str] = []

    def on_failed(request: Request) -> None:
        failed.append(f"{request.url}: {request.failure}")

    context.on("requestfailed", on_failed)
    page = context.new_page()
    page.goto(f"{server.base_url}/docs")
    # The operations come from /openapi.json, rendered by the UI: the scripts ran.
    expect(page.get_by_text("/api/events/{code}/join").first).to_be_visible()
    expect(page.locator(".opblock").first).to_be_visible()
    own = urlsplit(server.base_url).netloc
    elsewhere = [
        url
        for url in requested
        if urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc != own
    ]
    assert not elsewhere, elsewhere
    assert not failed, failed
    # CSP breaches and page errors fail the test in the `contexts` fixture.
