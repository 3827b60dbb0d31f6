"""Security headers: no-store on credentials, nosniff, HSTS and a `__Host-` cookie under https."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from rollcall.app import create_app
from rollcall.settings import Settings
from tests.factories import create_event, join, new_device


@pytest.fixture
async def app(settings: Settings, database_url: str) -> AsyncIterator[FastAPI]:
    app = create_app(settings, database_url=database_url)
    async with app.router.lifespan_context(app):
        yield app


def _client(app: FastAPI, scheme: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=f"{scheme}://rollcall.test"
    )


async def test_credentials_are_never_cached(app: FastAPI) -> None:
    async with _client(app, "http") as client:
        created = await client.post("/api/events", json={"title": "No store"})
        assert created.status_code == 201 and created.json()["host_token"]
        assert created.headers["cache-control"] == "no-store"
        joined = await join(client, created.json()["event"]["code"])
        assert joined.json()["session_token"]
        assert joined.headers["cache-control"] == "no-store"
        session = await client.get(
            "/api/session",
            headers={"Authorization": f"Bearer {joined.json()['session_token']}"},
        )
        assert session.headers["cache-control"] == "no-store"
        refused = await client.post(
            "/api/events", content=b"{", headers={"Content-Type": "application/json"}
        )
        assert refused.status_code == 400 and refused.headers["cache-control"] == "no-store"


async def test_every_response_says_nosniff(app: FastAPI) -> None:
    async with _client(app, "http") as client:
        event = await create_event(client)
        for path in (
            f"/api/events/{event.code}",
            "/api/events/ZZZZZZ",
            "/api/nowhere",
            "/openapi.json",
            "/healthz",
            "/",
            f"/api/events/{event.code}/qr.svg",
        ):
            response = await client.get(path)
            assert response.headers["x-content-type-options"] == "nosniff", path
        too_large = await client.post(
            "/api/events", content=b"x" * 70_000, headers={"Content-Type": "application/json"}
        )
        assert too_large.status_code == 413
        assert too_large.headers["x-content-type-options"] == "nosniff"


async def test_hsts_only_under_https(app: FastAPI) -> None:
    async with _client(app, "https") as secure, _client(app, "http") as plain:
        for path in ("/", "/api/events/ZZZZZZ", "/healthz"):
            assert (
                (await secure.get(path)).headers["strict-transport-security"].startswith("max-age=")
            )
            assert "strict-transport-security" not in (await plain.get(path)).headers


async def test_the_session_cookie_is_host_only_under_https(app: FastAPI) -> None:
    async with _client(app, "https") as secure:
        event = await create_event(secure)
        joined = await join(secure, event.code, device_id=new_device())
        cookie = joined.headers["set-cookie"]
        assert cookie.startswith("__Host-rollcall_session="), cookie
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
        assert {"secure", "httponly", "path"} <= attributes and "domain" not in attributes
        assert "path=/" in cookie.lower() and "samesite=strict" in cookie.lower()
        token = joined.json()["session_token"]
        # The page sends the cookie back, under either name, and is recognised.
        for name in ("__Host-rollcall_session", "rollcall_session"):
            secure.cookies.clear()
            secure.cookies.set(name, token)
            assert (await secure.get("/api/session")).status_code == 200, name
        left = await secure.delete("/api/session")
        assert left.status_code == 204
        assert any(
            value.startswith("__Host-rollcall_session=")
            for value in left.headers.get_list("set-cookie")
        )


async def test_the_session_cookie_keeps_its_name_on_plain_http(app: FastAPI) -> None:
    async with _client(app, "http") as plain:
        event = await create_event(plain)
        joined = await join(plain, event.code)
        cookie = joined.headers["set-cookie"]
        assert cookie.startswith("rollcall_session=") and "secure" not in cookie.lower()
        plain.cookies.clear()
        plain.cookies.set("rollcall_session", joined.json()["session_token"])
        assert (await plain.get("/api/session")).status_code == 200
