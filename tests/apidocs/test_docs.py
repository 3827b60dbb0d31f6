"""/docs works at a venue without internet: every asset from rollcall itself, under its CSP."""

from __future__ import annotations

import re

import httpx

from rollcall.web.routes import PAGE_HEADERS

ASSET = re.compile(r"""<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)\"""")


async def test_docs_reference_no_other_host_and_every_asset_loads(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == PAGE_HEADERS["Content-Security-Policy"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert not re.search(r"(?:https?:)?//", page.text), "the page names no other host"
    assets = ASSET.findall(page.text)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    assert any(a.endswith("swagger-ui.css") for a in assets)
    for asset in assets:
        assert asset.startswith("/"), asset
        loaded = await client.get(asset)
        assert loaded.status_code == 200, asset
        assert loaded.headers["x-content-type-options"] == "nosniff"
        kind = "javascript" if asset.endswith(".js") else "css" if asset.endswith(".css") else ""
        assert kind in loaded.headers["content-type"], (asset, loaded.headers["content-type"])
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page.text, re.S)
    assert scripts and all("src=" in attrs and not body.strip() for attrs, body in scripts), (
        "no inline script: the CSP allows none"
    )


async def test_redoc_is_not_served(client: httpx.AsyncClient) -> None:
    # ReDoc needs inline styles and blob: workers; /docs is the one API page.
    response = await client.get("/redoc")
    assert response.status_code == 404
