"""Other sites' apps (ROLLCALL_ALLOWED_ORIGINS): CORS on the API, /ws with their token only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from rollcall.auth import SESSION_COOKIE
from rollcall.protocol import Close
from tests.factories import create_event, join
from tests.realtime.client import Socket, of_type
from tests.realtime.conftest import FAST
from tests.servers import RollcallServer, rollcall_server

APP = "http://app.example:8080"
OTHER = "http://other.example"


@pytest.fixture(scope="module")
def listed(module_db: str, logs: Path) -> Iterator[RollcallServer]:
    with rollcall_server(
        module_db, logs, allowed_origins=f"{APP}, https://second.example", **FAST
    ) as server:
        yield server


def preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "origin": origin,
        "access-control-request-method": method,
        "access-control-request-headers": "authorization, content-type",
    }


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


async def test_a_listed_origin_gets_cors_without_credentials(listed: RollcallServer) -> None:
    async with httpx.AsyncClient(base_url=listed.base_url) as http:
        answer = await http.options("/api/events/ABCDEF/join", headers=preflight(APP))
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == APP
        allowed = answer.headers["access-control-allow-headers"].lower()
        assert "authorization" in allowed and "content-type" in allowed
        assert "POST" in answer.headers["access-control-allow-methods"]
        assert "access-control-allow-credentials" not in answer.headers

        missing = await http.get("/api/events/ZZZZZZ", headers={"origin": APP})
        assert missing.status_code == 404
        assert missing.headers["access-control-allow-origin"] == APP
        exposed = missing.headers["access-control-expose-headers"].lower()
        assert "retry-after" in exposed and "www-authenticate" in exposed
        assert "access-control-allow-credentials" not in missing.headers

        sdk = await http.get("/sdk/rollcall.js", headers={"origin": APP})
        assert sdk.headers["access-control-allow-origin"] == APP


async def test_a_listed_origin_never_acts_with_the_cookie(listed: RollcallServer) -> None:
    async with httpx.AsyncClient(base_url=listed.base_url) as http:
        event = await create_event(http)
        token = (await join(http, event.code)).json()["session_token"]
        cookie = {"cookie": f"{SESSION_COOKIE}={token}"}
        assert (await http.get("/api/session", headers=cookie)).status_code == 200
        borrowed = await http.get("/api/session", headers={**cookie, "origin": APP})
        assert borrowed.status_code == 401
        assert borrowed.json()["code"] == "invalid_token"
        bearer = {"authorization": f"Bearer {token}", "origin": APP}
        assert (await http.get("/api/session", headers=bearer)).status_code == 200


async def test_an_unlisted_origin_gets_no_cors_and_no_socket(listed: RollcallServer) -> None:
    async with httpx.AsyncClient(base_url=listed.base_url) as http:
        answer = await http.options("/api/events/ABCDEF/join", headers=preflight(OTHER))
        assert answer.status_code == 405
        assert answer.headers["content-type"] == "application/problem+json"
        assert cors_headers(answer) == {}
        read = await http.get("/api/events/ZZZZZZ", headers={"origin": OTHER})
        assert cors_headers(read) == {}
        own = await http.get("/sdk/rollcall.js")
        assert own.status_code == 200 and cors_headers(own) == {}
        assert own.headers["vary"] == "Origin", "no cache hands this answer to a listed app"
    with pytest.raises(InvalidStatus) as refused:
        await Socket.open(listed.ws_url, origin=OTHER)  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403


async def test_a_listed_socket_needs_its_token_and_the_cookie_is_ignored(
    listed: RollcallServer,
) -> None:
    async with httpx.AsyncClient(base_url=listed.base_url) as http:
        event = await create_event(http)
        token = (await join(http, event.code)).json()["session_token"]
    cookie = {"Cookie": f"{SESSION_COOKIE}={token}"}
    borrowed = await Socket.open(
        listed.ws_url,
        {"type": "hello"},
        origin=APP,  # type: ignore[arg-type]
        additional_headers=cookie,
    )
    assert await borrowed.closed() == Close.INVALID_TOKEN

    own = await Socket.open(
        listed.ws_url,
        {"type": "hello"},
        origin=listed.base_url,  # type: ignore[arg-type]
        additional_headers=cookie,
    )
    assert (await own.until(of_type("welcome")))["participant"]["id"]
    await own.close()

    app = await Socket.open(
        listed.ws_url,
        {"type": "hello", "token": token},
        origin=APP,  # type: ignore[arg-type]
    )
    assert (await app.until(of_type("welcome")))["participant"]["id"]
    await app.close()


async def test_without_the_setting_a_preflight_gets_no_cors(server_a: RollcallServer) -> None:
    async with httpx.AsyncClient(base_url=server_a.base_url) as http:
        answer = await http.options("/api/events/ABCDEF/join", headers=preflight(APP))
        assert cors_headers(answer) == {}
