"""The Redis the rate limits share goes away mid-event, and comes back.

Limits fail open to each process's own counts (docs/decisions.md): nothing is refused for the
outage, each process still holds its own budget, the log says so once, and the shared budget
holds again once Redis answers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from rollcall.ratelimits import SHARED_RETRY_S, SHARED_TIMEOUT_S
from tests.fleet import Relay, create_event, fleet_app, some_address
from tests.pg import PgServer
from tests.polling import eventually

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def fleet_db(pg: PgServer) -> Iterator[str]:
    with pg.fresh_database(migrated=True) as url:
        yield url


@pytest.fixture
def relay(redis_url: str) -> Iterator[Relay]:
    running = Relay(redis_url)
    running.open()
    yield running
    running.close()


def said(caplog: pytest.LogCaptureFixture, words: str) -> int:
    return sum(words in record.getMessage() for record in caplog.records)


async def test_when_redis_goes_away_each_app_counts_alone_until_it_is_back(
    fleet_db: str, tmp_path: Path, relay: Relay, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="rollcall.ratelimits")
    shared = {"limit_events": "3/minute", "rate_limit_storage": relay.url}
    async with (
        fleet_app(fleet_db, tmp_path, **shared) as a,
        fleet_app(fleet_db, tmp_path, **shared) as b,
    ):
        address = some_address()
        assert [await create_event(a, address), await create_event(b, address)] == [201, 201]

        alone_before = REGISTRY.get_sample_value("rollcall_rate_limits_counted_alone_total") or 0
        relay.cut()
        # Open, not closed: events are still created, each app within its own budget.
        assert [await create_event(a, address) for _ in range(4)] == [201, 201, 201, 429]
        assert await create_event(b, address) == 201
        assert said(caplog, "the redis storage does not answer") == 2, "once per app"
        alone = REGISTRY.get_sample_value("rollcall_rate_limits_counted_alone_total") or 0
        assert alone - alone_before >= 5, "the calls counted alone show in /metrics"
        assert all(relay.url.split("//")[1] not in r.getMessage() for r in caplog.records)

        relay.open()

        # Within SHARED_RETRY_S the shared count is back: two spent before the cut, one left.
        async def shared_again() -> bool:
            await create_event(a, some_address())  # a call, so that the storage is tried
            return said(caplog, "answers again") > 0

        await eventually(
            shared_again, timeout=SHARED_RETRY_S + 5, interval=0.2, what="Redis tried again"
        )
        assert [await create_event(a, address), await create_event(a, address)] == [201, 429]


async def test_a_redis_that_hangs_costs_one_request_half_a_second_not_the_event(
    fleet_db: str, tmp_path: Path, relay: Relay, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="rollcall.ratelimits")
    async with fleet_app(fleet_db, tmp_path, rate_limit_storage=relay.url) as app:
        address = some_address()
        relay.stall()
        started = time.monotonic()
        assert await create_event(app, address) == 201
        assert time.monotonic() - started < SHARED_TIMEOUT_S + 1
        started = time.monotonic()
        assert [await create_event(app, address) for _ in range(5)] == [201] * 5
        assert time.monotonic() - started < 1, "counted alone at once, not waiting each time"
        assert said(caplog, "does not answer") == 1
