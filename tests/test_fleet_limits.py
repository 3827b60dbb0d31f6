"""Rate limits across a fleet: apps on one Redis (ROLLCALL_RATE_LIMIT_STORAGE) share one budget;
on this process's memory (the default) each keeps its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fleet import create_event, fleet_app, some_address
from tests.pg import PgServer


@pytest.fixture(scope="module")
def fleet_db(pg: PgServer) -> Iterator[str]:
    with pg.fresh_database(migrated=True) as url:
        yield url


async def test_two_apps_on_one_redis_share_one_budget(
    fleet_db: str, tmp_path: Path, redis_url: str
) -> None:
    shared = {"limit_events": "4/minute", "rate_limit_storage": redis_url}
    async with (
        fleet_app(fleet_db, tmp_path, **shared) as a,
        fleet_app(fleet_db, tmp_path, **shared) as b,
    ):
        address = some_address()
        statuses = [await create_event(app, address) for app in (a, b, a, b, a, b)]
    assert statuses == [201, 201, 201, 201, 429, 429], "four in all, not four each"


async def test_on_memory_each_app_keeps_its_own_budget(fleet_db: str, tmp_path: Path) -> None:
    alone = {"limit_events": "2/minute"}
    async with (
        fleet_app(fleet_db, tmp_path, **alone) as a,
        fleet_app(fleet_db, tmp_path, **alone) as b,
    ):
        address = some_address()
        statuses = [await create_event(app, address) for app in (a, b, a, b, a, b)]
    assert statuses == [201, 201, 201, 201, 429, 429], "two each"
