"""Rate limits per client address, against real servers: floods stop, a venue behind one NAT
does not."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rollcall.protocol import Close
from rollcall.settings import Settings
from tests.factories import create_event, join, new_device
from tests.realtime.client import Socket
from tests.servers import RollcallServer, rollcall_server

DEFAULT_LIMITS = {
    name: Settings.model_fields[name].default
    for name in ("limit_joins", "limit_events", "limit_guesses", "limit_ws_messages")
}


@pytest.fixture(scope="module")
def behind_proxy(module_db: str, logs: Path) -> Iterator[RollcallServer]:
    """Joins limited to 100 a minute; loopback is a trusted proxy, so X-Forwarded-For counts."""
    settings = {**DEFAULT_LIMITS, "limit_joins": "100/minute", "trusted_proxies": "127.0.0.1"}
    with rollcall_server(module_db, logs, **settings) as server:
        yield server


@pytest.fixture(scope="module")
def by_default(module_db: str, logs: Path) -> Iterator[RollcallServer]:
    """The default limits; the only trusted proxy is another machine, not the test's peer."""
    with rollcall_server(module_db, logs, trusted_proxies="192.0.2.99", **DEFAULT_LIMITS) as server:
        yield server


def client_from(server: RollcallServer, address: str | None = None) -> httpx.AsyncClient:
    headers = {"X-Forwarded-For": address} if address else {}
    limits = httpx.Limits(max_connections=100)
    return httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=30, limits=limits)


async def test_a_thousand_joins_from_one_address_get_the_limit_and_the_rest_429(
    behind_proxy: RollcallServer,
) -> None:
    async with client_from(behind_proxy, "203.0.113.7") as flood:
        event = await create_event(flood)
        known = new_device()
        assert (await join(flood, event.code, device_id=known)).status_code == 201
        answers = await asyncio.gather(*(join(flood, event.code) for _ in range(1000)))
        statuses = [a.status_code for a in answers]
        assert statuses.count(201) <= 99  # the known device's join was the first of 100
        assert statuses.count(201) + statuses.count(429) == 1000, sorted(set(statuses))
        assert all(int(a.headers["retry-after"]) >= 1 for a in answers if a.status_code == 429)
        assert {a.json()["code"] for a in answers if a.status_code == 429} == {"rate_limited"}
        # A rejoin is never limited; another address has limits of its own.
        assert (await join(flood, event.code, device_id=known)).status_code == 200
    async with client_from(behind_proxy, "198.51.100.20") as neighbour:
        assert (await join(neighbour, event.code)).status_code == 201


async def test_three_hundred_phones_behind_one_address_all_get_in(
    by_default: RollcallServer,
) -> None:
    async with client_from(by_default) as venue:
        event = await create_event(venue)
        answers = await asyncio.gather(*(join(venue, event.code) for _ in range(300)))
        assert [a.status_code for a in answers] == [201] * 300
        read = await venue.get(f"/api/events/{event.code}")
        assert read.json()["counts"]["seats_taken"] == 300


async def test_unknown_codes_are_guesses(behind_proxy: RollcallServer) -> None:
    async with client_from(behind_proxy, "203.0.113.9") as guesser:
        answers = [
            await guesser.post(
                f"/api/events/{code}/join",
                json={"device_id": new_device(), "display_name": "G"},
            )
            for code in ("ZZZZZZ", "nope", "222222") * 12
        ]
        statuses = [a.status_code for a in answers]
        assert statuses[:30] == [404] * 30 and statuses[30:] == [429] * 6


async def test_x_forwarded_for_counts_only_from_a_trusted_proxy(
    by_default: RollcallServer,
) -> None:
    created = []
    for i in range(31):
        async with client_from(by_default, f"192.0.2.{i + 1}") as spoofer:
            created.append((await spoofer.post("/api/events", json={"title": "x"})).status_code)
    assert created.count(201) <= 30 and created[-1] == 429


@pytest.fixture(scope="module")
def guarded(module_db: str, logs: Path) -> Iterator[RollcallServer]:
    """The default guesses, 3 creations a minute, an admin token; X-Forwarded-For counts."""
    settings = {
        **DEFAULT_LIMITS,
        "limit_events": "3/minute",
        "trusted_proxies": "127.0.0.1",
        "admin_token": ADMIN_TOKEN,
    }
    with rollcall_server(module_db, logs, **settings) as server:
        yield server


ADMIN_TOKEN = "the-real-admin-token-0123456789"
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}
PARTICIPANT = "00000000-0000-4000-8000-000000000001"
ROUTES_THAT_TAKE_A_CODE: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/events/{code}", None),
    ("GET", "/api/events/{code}/qr.svg", None),
    ("PATCH", "/api/events/{code}", {"title": "Renamed"}),
    ("GET", "/api/events/{code}/name-filter", None),
    ("GET", "/api/events/{code}/room-check", None),
    ("GET", "/api/events/{code}/attendance", None),
    ("PATCH", "/api/events/{code}/state", {"question": 1}),
    ("GET", "/api/events/{code}/actions", None),
    ("GET", "/api/events/{code}/receipts", None),
    ("GET", "/api/events/{code}/generated-name", None),
    ("GET", "/api/events/{code}/participants", None),
    ("GET", f"/api/events/{{code}}/participants/{PARTICIPANT}/recovery-qr.svg", None),
    ("POST", f"/api/events/{{code}}/participants/{PARTICIPANT}/kick", None),
    ("PUT", "/api/events/{code}/webhook", {"url": "https://example.com/hook"}),
    ("POST", "/api/events/{code}/join", {"device_id": PARTICIPANT, "display_name": "G"}),
]


def unknown_codes(n: int) -> list[str]:
    """Codes of the event-code alphabet that no event has (and some that cannot be codes)."""
    return [f"ZZ{i:04d}".replace("0", "Z").replace("1", "Y") for i in range(n - 2)] + ["n0pe", "x"]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES_THAT_TAKE_A_CODE)
async def test_unknown_codes_are_guesses_on_every_route_that_takes_one(
    guarded: RollcallServer, method: str, path: str, body: dict[str, Any] | None
) -> None:
    address = f"203.0.113.{ROUTES_THAT_TAKE_A_CODE.index((method, path, body)) + 100}"
    async with client_from(guarded, address) as guesser:
        created = await guesser.post("/api/events", json={"title": "Known"}, headers=ADMIN)
        event = created.json()
        answers = await asyncio.gather(
            *(
                guesser.request(method, path.format(code=code), json=body)
                for code in unknown_codes(31)
            )
        )
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [404] * 30 + [429], path
        refused = next(a for a in answers if a.status_code == 429)
        assert refused.json()["code"] == "rate_limited"
        assert int(refused.headers["retry-after"]) >= 1
        # A known code is still answered: neighbours behind the same address are not locked out.
        read = await guesser.get(f"/api/events/{event['event']['code']}")
        assert read.status_code == 200


async def test_unknown_codes_in_host_hellos_are_guesses(guarded: RollcallServer) -> None:
    headers = {"X-Forwarded-For": "203.0.113.60"}
    closes = []
    for code in unknown_codes(31):
        socket = await Socket.open(
            guarded.ws_url,
            {"type": "hello", "role": "host", "event": code, "token": "x" * 43},
            additional_headers=headers,
        )
        closes.append(await socket.closed())
    assert closes == [Close.EVENT_NOT_FOUND] * 30 + [Close.RATE_LIMITED]


async def test_a_wrong_admin_token_spends_nothing_of_the_creation_limit(
    guarded: RollcallServer,
) -> None:
    async with client_from(guarded, "203.0.113.70") as venue:
        wrong = [
            await venue.post(
                "/api/events", json={"title": "x"}, headers={"authorization": "Bearer wrong"}
            )
            for _ in range(5)
        ]
        assert [a.status_code for a in wrong] == [401] * 5
        made = [
            await venue.post("/api/events", json={"title": "x"}, headers=ADMIN) for _ in range(4)
        ]
        assert [a.status_code for a in made] == [201, 201, 201, 429]


async def test_wrong_room_checks_count_per_address_and_event(guarded: RollcallServer) -> None:
    async with client_from(guarded, "203.0.113.80") as venue:
        first, second = [
            (
                await venue.post(
                    "/api/events", json={"title": t, "room_check": True}, headers=ADMIN
                )
            ).json()
            for t in ("First", "Second")
        ]
        codes = {}
        for event in (first, second):
            code = event["event"]["code"]
            host = {"authorization": f"Bearer {event['host_token']}"}
            codes[code] = (await venue.get(f"/api/events/{code}/room-check", headers=host)).json()
        one, other = list(codes)
        wrong = str((int(codes[one]["code"]) + 5000) % 10_000).zfill(4)
        tries = [await join(venue, one, room_check=wrong) for _ in range(31)]
        assert [t.status_code for t in tries] == [403] * 30 + [429]
        # The other event's room check is still tried, and so is this address's unknown code.
        assert (await join(venue, other, room_check=codes[other]["code"])).status_code == 201
        assert (await venue.get("/api/events/ZZZZZZ")).status_code == 404
        # Unknown codes spend the address's guesses, never the room checks of its events.
        for code in unknown_codes(30):
            await venue.get(f"/api/events/{code}")
        assert (await venue.get("/api/events/ZZZZZZ")).status_code == 429
        assert (await join(venue, other, room_check=codes[other]["code"])).status_code == 201


async def test_ipv6_clients_count_per_64(guarded: RollcallServer) -> None:
    """One host usually holds a whole /64: each of its addresses spends the same guesses."""
    answers = []
    for i, code in enumerate(unknown_codes(31)):
        async with client_from(guarded, f"2001:db8:7:7::{i + 1:x}") as host_in_one_64:
            answers.append((await join(host_in_one_64, code)).status_code)
    assert answers == [404] * 30 + [429]
    async with client_from(guarded, "2001:db8:7:8::1") as next_64:
        assert (await join(next_64, "ZZZZZZ")).status_code == 404
    async with client_from(guarded, "::ffff:203.0.113.90") as mapped:
        assert (await join(mapped, "ZZZZZZ")).status_code == 404
