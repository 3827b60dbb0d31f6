"""The pages as HTTP serves them: HTML with its headers, static files, the join URL filled in."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize(
    ("path", "script"),
    [
        ("/", "/static/create/main.js"),
        ("/host/K7P2QX", "/static/host/main.js"),
        ("/j/K7P2QX", "/static/join/main.js"),
    ],
)
async def test_each_page_is_html_that_loads_only_from_rollcall(
    client: httpx.AsyncClient, path: str, script: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert f'<script type="module" src="{script}">' in response.text
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "https://" not in response.text  # no CDN, no web fonts


async def test_the_dashboard_shows_the_join_url_the_qr_code_encodes(
    client: httpx.AsyncClient,
) -> None:
    """The settings fixture sets ROLLCALL_PUBLIC_URL=http://rollcall.test; codes show upper case."""
    response = await client.get("/host/k7p2qx")
    assert (
        '<meta name="rollcall-join-url" content="http://rollcall.test/j/K7P2QX">' in response.text
    )


async def test_the_join_url_is_escaped(client: httpx.AsyncClient) -> None:
    response = await client.get('/host/"><img src=x onerror=alert(1)>')
    assert response.status_code == 200
    assert "<IMG" not in response.text
    assert "/j/&quot;&gt;&lt;IMG SRC=X ONERROR=ALERT(1)&gt;" in response.text


async def test_static_files_are_served_and_revalidated(client: httpx.AsyncClient) -> None:
    for path, media in [
        ("/static/join/main.js", "text/javascript"),
        ("/sdk/rollcall.js", "text/javascript"),
        ("/sdk/participant.js", "text/javascript"),
        ("/static/i18n/join/ar.json", "application/json"),
        ("/static/shared/base.css", "text/css"),
        ("/static/icon.svg", "image/svg+xml"),
    ]:
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith(media), path
        assert response.headers["cache-control"] == "no-cache"
        assert "etag" in response.headers
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_page_templates_and_missing_files_are_not_static_files(
    client: httpx.AsyncClient,
) -> None:
    for path in ["/static/host/index.html", "/static/nope.js", "/static/../app.py"]:
        response = await client.get(path)
        assert response.status_code == 404, path
