"""Screenshots of the dashboard with 1,000 people (the compact list), in the dark theme and in
Arabic, into artifacts/screenshots/ (docs/screenshots/ keeps copies).

The room is a mixed one: most online, some away, some offline, a few who left or were removed,
scores spread out. Presence never times out on this server; the offline ones are set so in the
database, as if their last beat were an hour old, and the sweep announces them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.pages import PROJECTOR, create_event, crowd_names, join_crowd
from tests.pg import PgServer
from tests.servers import RollcallServer, rollcall_server

pytestmark = pytest.mark.e2e

PEOPLE = 1_000


@pytest.fixture(scope="module")
def database_url(pg: PgServer) -> Iterator[str]:
    with pg.fresh_database(migrated=True) as url:
        yield url


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RollcallServer]:
    with rollcall_server(
        database_url,
        tmp_path_factory.mktemp("logs"),
        presence_timeout_s=3600,
        presence_sweep_s=0.2,
        limit_joins="100000/minute",
    ) as running:
        yield running


def _shoot(page: Page, path: Path) -> None:
    page.mouse.move(0, 0)
    page.screenshot(path=str(path), animations="disabled", caret="hide")


def test_screenshots_of_a_crowd(
    server: RollcallServer,
    database_url: str,
    api: httpx.Client,
    contexts: Callable[..., BrowserContext],
    screenshots: Path,
) -> None:
    event = create_event(api, title="Town hall · all hands", capacity=1200)
    people = join_crowd(server.base_url, event.code, crowd_names(PEOPLE))
    away, offline = people[::13], people[5::17]
    for person in away:
        httpx.post(
            f"{server.base_url}/api/session/heartbeat",
            json={"away": True},
            headers={"Authorization": f"Bearer {person.token}"},
        ).raise_for_status()
    for person in people[7::97]:
        api.delete(
            "/api/session", headers={"Authorization": f"Bearer {person.token}"}
        ).raise_for_status()
    for person in people[11::151]:
        api.post(
            f"/api/events/{event.code}/participants/{person.participant_id}/kick",
            headers=event.host_headers,
        ).raise_for_status()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE event_participants SET state = jsonb_build_object('score', abs(hashtext(display_name)) % 40)"
        )
        conn.execute(
            "UPDATE event_participants SET last_heartbeat = now() - interval '1 hour' "
            "WHERE id = ANY(%s::uuid[])",
            ([person.participant_id for person in offline],),
        )

    def dashboard(**options: object) -> Page:
        page = contexts(**PROJECTOR, **options).new_page()
        page.goto(f"{server.base_url}/host/{event.code}#host_token={event.host_token}")
        expect(page.get_by_test_id("connection")).to_have_attribute("data-status", "connected")
        expect(page.locator("main")).to_have_attribute("data-layout", "list")
        expect(page.get_by_test_id("count-offline")).not_to_have_text("0", timeout=10_000)
        return page

    light = dashboard()
    expect(light.get_by_test_id("shown")).to_have_text("1,000 people")
    _shoot(light, screenshots / "host-crowd-1000.png")
    light.get_by_label("Search").fill("silva")
    light.get_by_label("Sort by").select_option("score")
    _shoot(light, screenshots / "host-crowd-search.png")

    _shoot(dashboard(color_scheme="dark"), screenshots / "host-dark.png")
    _shoot(dashboard(locale="ar"), screenshots / "host-arabic-crowd.png")
    start = contexts(**PROJECTOR, color_scheme="dark").new_page()
    start.goto(f"{server.base_url}/")
    expect(start.locator("#language")).to_be_attached()
    _shoot(start, screenshots / "create-dark.png")
