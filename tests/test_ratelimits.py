"""Rate limits per client address, against real servers: floods stop, a venue behind one NAT
does not."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rollcall.settings import Settings
from tests.factories import create_event, join, new_device
from tests.pg import PgServer
from tests.servers import RollcallServer, rollcall_server

DEFAULT_LIMITS = {
    name: Settings.model_fields[name].default
    for name in ("limit_joins", "limit_events", "limit_guesses", "limit_ws_messages")
}


@pytest.fixture(scope="module")
def limits_db(pg: PgServer) -> Iterator[str]:
    with pg.fresh_database(migrated=True) as url:
        yield url


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("limits")


@pytest.fixture(scope="module")
def behind_proxy(limits_db: str, logs: Path) -> Iterator[RollcallServer]:
    """Joins limited to 100 a minute; loopback is a trusted proxy, so X-Forwarded-For counts."""
    settings = {**DEFAULT_LIMITS, "limit_joins": "100/minute", "trusted_proxies": "127.0.0.1"}
    with rollcall_server(limits_db, logs, **settings) as server:
        yield server


@pytest.fixture(scope="module")
def by_default(limits_db: str, logs: Path) -> Iterator[RollcallServer]:
    """The default limits; the only trusted proxy is another machine, not the test's peer."""
    with rollcall_server(limits_db, logs, trusted_proxies="192.0.2.99", **DEFAULT_LIMITS) as server:
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
