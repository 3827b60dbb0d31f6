"""An app on another site (another origin: here another port) uses the SDK against rollcall.

Its page is served by a small HTTP server of its own, and loads the SDK from rollcall. With its
origin in ROLLCALL_ALLOWED_ORIGINS it joins, comes back after a reload as the same participant,
gets the event state and sends an action; from an unlisted origin the browser refuses it all.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page

from rollcall.auth import SESSION_COOKIE
from rollcall.protocol import Close
from tests.e2e.conftest import FAST
from tests.e2e.pages import PHONE, HostedEvent, create_event, roster
from tests.pg import PgServer
from tests.servers import RollcallServer, free_port, rollcall_server

pytestmark = pytest.mark.e2e

APP_PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A quiz app</title></head>
<body><h1>A quiz app</h1></body></html>
"""


class _AppPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(APP_PAGE)))
        self.end_headers()
        self.wfile.write(APP_PAGE)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def app_sites() -> Iterator[tuple[str, str]]:
    """Two origins serving the app's page: the first listed by rollcall, the second not."""
    servers = [ThreadingHTTPServer(("127.0.0.1", free_port()), _AppPage) for _ in range(2)]
    for site in servers:
        threading.Thread(target=site.serve_forever, daemon=True).start()
    yield tuple(f"http://127.0.0.1:{site.server_address[1]}" for site in servers)  # type: ignore[misc]
    for site in servers:
        site.shutdown()
        site.server_close()


@pytest.fixture(scope="module")
def server(
    pg: PgServer, tmp_path_factory: pytest.TempPathFactory, app_sites: tuple[str, str]
) -> Iterator[RollcallServer]:
    listed, _ = app_sites
    with (
        pg.fresh_database(migrated=True) as url,
        rollcall_server(url, tmp_path_factory.mktemp("logs"), allowed_origins=listed, **FAST) as up,
    ):
        yield up


@pytest.fixture
def app_page(contexts: Callable[..., BrowserContext]) -> Callable[[str], Page]:
    def open_at(site: str) -> Page:
        page = contexts(**PHONE).new_page()
        page.goto(f"{site}/quiz")
        return page

    return open_at


JOIN = """async ([server, code, name]) => {
    const { join } = await import(`${server}/sdk/rollcall.js`);
    const player = await join(code, name, { server });
    window.player = player;
    window.seen = [];
    player.on("event_state", ({ state }) => window.seen.push(state));
    if (player.connection !== "connected") {
        await new Promise((resolve) =>
            player.on("connection", ({ status }) => status === "connected" && resolve()),
        );
    }
    return { id: player.id, rejoined: player.rejoined, name: player.name };
}"""


def test_a_listed_app_joins_reloads_as_the_same_player_and_plays(
    app_page: Callable[[str], Page],
    app_sites: tuple[str, str],
    server: RollcallServer,
    api: httpx.Client,
) -> None:
    event: HostedEvent = create_event(api)
    page = app_page(app_sites[0])
    first = page.evaluate(JOIN, [server.base_url, event.code, "Ana"])
    assert first["rejoined"] is False
    calls = page.evaluate("performance.getEntriesByType('resource').map((entry) => entry.name)")
    assert not [url for url in calls if url.endswith("/join")], "the join rode on the hello"
    [ana] = roster(api, event)
    assert ana["id"] == first["id"] and ana["presence"] == "online"

    board = page.evaluate(
        """async ([server, code, token]) => {
            const { host } = await import(`${server}/sdk/rollcall.js`);
            const board = await host(code, token, { server });
            await board.setEventState({ phase: "asking" });
            board.close();
            return [...board.participants.values()].map((p) => p.display_name);
        }""",
        [server.base_url, event.code, event.host_token],
    )
    assert board == ["Ana"], "the host's side works from the app's site too"
    page.wait_for_function("window.seen.some((state) => state.phase === 'asking')")
    ack = page.evaluate("window.player.act('answer', { choice: 2 }, { id: 'a1' })")
    assert ack["id"] == "a1"
    actions = api.get(f"/api/events/{event.code}/actions", headers=event.host_headers).json()
    assert [(a["name"], a["data"]) for a in actions["actions"]] == [("answer", {"choice": 2})]

    kept = page.evaluate(
        "[localStorage.getItem('rollcall.device'), localStorage.getItem(`rollcall.joined.${"
        f"'{event.code}'" + "}`)]"
    )
    assert kept[0] and '"token"' in kept[1], "the device id and the token stay with the app"

    page.reload()
    again = page.evaluate(JOIN, [server.base_url, event.code, None])
    assert again == {"id": first["id"], "rejoined": True, "name": "Ana"}
    assert page.evaluate("window.player.eventState.phase") == "asking"


def test_a_listed_apps_refused_join_is_the_http_joins_error(
    app_page: Callable[[str], Page],
    app_sites: tuple[str, str],
    server: RollcallServer,
    api: httpx.Client,
) -> None:
    """Refused in the hello, the join rejects with the RollcallError the HTTP join would give."""
    event: HostedEvent = create_event(api)
    app_page(app_sites[0]).evaluate(JOIN, [server.base_url, event.code, "Ana"])
    refused = app_page(app_sites[0]).evaluate(
        """async ([server, codes]) => {
            const { join } = await import(`${server}/sdk/rollcall.js`);
            const errors = [];
            for (const [code, name] of codes) {
                try {
                    await join(code, name, { server });
                    errors.push(null);
                } catch (error) {
                    errors.push([error.name, error.code, error.status]);
                }
            }
            return errors;
        }""",
        [server.base_url, [[event.code, "ANA"], ["ZZZZZZ", "Bo"]]],
    )
    assert refused == [["Error", "name_taken", 409], ["Error", "event_not_found", 404]]


def test_a_second_tab_of_a_listed_app_takes_the_session_over_and_the_first_knows_it(
    contexts: Callable[..., BrowserContext],
    app_sites: tuple[str, str],
    server: RollcallServer,
    api: httpx.Client,
) -> None:
    """The first tab's token is revoked by the second tab's join; the token the app's storage
    now holds (no cookie holds one here) says it is the same participant: `replaced`, not
    `revoked`."""
    event: HostedEvent = create_event(api)
    context = contexts(**PHONE)
    first, second = context.new_page(), context.new_page()
    for page in (first, second):
        page.goto(f"{app_sites[0]}/quiz")
    one = first.evaluate(JOIN, [server.base_url, event.code, "Ana"])
    first.evaluate("() => { window.player.on('end', ({ reason }) => { window.ended = reason; }); }")
    two = second.evaluate(JOIN, [server.base_url, event.code, None])
    assert two["id"] == one["id"] and two["rejoined"] is True
    first.wait_for_function("window.ended !== undefined")
    assert first.evaluate("window.ended") == "replaced"


def test_an_unlisted_app_is_refused(
    app_page: Callable[[str], Page],
    app_sites: tuple[str, str],
    server: RollcallServer,
    api: httpx.Client,
) -> None:
    event: HostedEvent = create_event(api)
    page = app_page(app_sites[1])
    refused = page.evaluate(
        """async ([server, ws, code]) => {
            const outcome = {};
            try {
                await import(`${server}/sdk/rollcall.js`);
                outcome.sdk = "loaded";
            } catch (error) {
                outcome.sdk = error.name;
            }
            try {
                await fetch(`${server}/api/events/${code}/join`, {
                    method: "POST",
                    headers: { "Content-Type": "application/json" },
                    body: JSON.stringify({ device_id: crypto.randomUUID(), display_name: "Eve" }),
                });
                outcome.join = "answered";
            } catch (error) {
                outcome.join = error.name;
            }
            outcome.socket = await new Promise((resolve) => {
                const socket = new WebSocket(ws);
                socket.onopen = () => resolve("open");
                socket.onclose = (closed) => resolve(closed.code);
            });
            return outcome;
        }""",
        [server.base_url, server.ws_url, event.code],
    )
    assert refused == {"sdk": "TypeError", "join": "TypeError", "socket": 1006}
    assert roster(api, event) == [], "the preflight failed, so the join was never sent"


def test_a_listed_apps_socket_cannot_ride_on_the_cookie(
    app_page: Callable[[str], Page],
    app_sites: tuple[str, str],
    server: RollcallServer,
    api: httpx.Client,
) -> None:
    event: HostedEvent = create_event(api)
    joined = api.post(
        f"/api/events/{event.code}/join",
        json={"device_id": "6f1c2d3e-4a5b-4c6d-8e7f-8091a2b3c4d5", "display_name": "Bo"},
    )
    page = app_page(app_sites[0])
    page.context.add_cookies(
        [{"name": SESSION_COOKIE, "value": joined.json()["session_token"], "url": server.base_url}]
    )
    closed = page.evaluate(
        """(ws) => new Promise((resolve) => {
            const socket = new WebSocket(ws);
            socket.onopen = () => socket.send(JSON.stringify({ type: "hello" }));
            socket.onmessage = (message) => resolve(JSON.parse(message.data).type);
            socket.onclose = (event) => resolve(event.code);
        })""",
        server.ws_url,
    )
    assert closed == Close.INVALID_TOKEN
