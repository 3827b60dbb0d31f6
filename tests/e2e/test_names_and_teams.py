"""Names, seats and teams in Chromium: the join page's generated name and team picker, and the
dashboard's team view, edit and seat without a phone, in English, German and Arabic, axe-clean."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.pages import PROJECTOR, HostedEvent, Phone, roster
from tests.e2e.test_join_accessibility import serious_violations
from tests.servers import RollcallServer

pytestmark = pytest.mark.e2e

I18N = Path(__file__).parents[2] / "src" / "rollcall" / "web" / "static" / "i18n"
TEAMS = [
    {"id": "red", "name": "Rot"},
    {"id": "blue", "name": "Blau"},
    {"id": "green", "name": "Grün"},
]
LOCALES = ["en", "de", "ar"]


def words(page: str, locale: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((I18N / page / f"{locale}.json").read_text("utf-8"))
    return loaded


def plural(message: Any, count: int) -> str:
    """The catalog's words for `count`, as the pages pick them (enough for 0-3 here)."""
    if isinstance(message, str):
        return message.replace("{count}", str(count))
    form = {0: "zero", 1: "one", 2: "two"}.get(count, "few")
    text: str = message.get(form) or message.get("few") or message["other"]
    return text.replace("{count}", str(count))


def new_event(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    answer = api.post("/api/events", json={"title": "Team quiz", **fields})
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


@pytest.mark.parametrize("locale", LOCALES)
def test_the_join_page_offers_a_name_three_times_and_asks_for_a_team(
    locale: str, phone: Callable[..., Phone], api: httpx.Client
) -> None:
    created = new_event(api, names="generated", teams=TEAMS, team_mode="choose")
    code = created["event"]["code"]
    join_words = words("join", locale)
    ana = phone(locale=locale)
    ana.open(code)
    page = ana.page
    expect(page.locator("html")).to_have_attribute("dir", "rtl" if locale == "ar" else "ltr")
    offered = page.get_by_test_id("generated-name")
    reroll = page.get_by_test_id("reroll")
    for left in (3, 2, 1):
        expect(reroll).to_have_text(plural(join_words["generated.another"], left))
        before = offered.text_content()
        reroll.click()
        expect(reroll).to_have_text(plural(join_words["generated.another"], left - 1))
        assert offered.text_content() != "" and before != ""
    expect(reroll).to_be_disabled()
    picker = page.get_by_role("group", name=join_words["team.label"])
    expect(picker.get_by_role("radio")).to_have_count(3)
    assert serious_violations(page) == []

    # Joining without a team says so; with one, the phone is in, in that team.
    page.get_by_role("button", name=join_words["name.submit"], exact=True).click()
    expect(page.locator("#name-error")).to_have_text(join_words["team.empty"])
    name = str(offered.text_content())
    picker.get_by_role("radio", name="Blau").check()
    page.get_by_role("button", name=join_words["name.submit"], exact=True).click()
    expect(page.get_by_test_id("team")).to_have_text(
        join_words["team.yours"].replace("{team}", "Blau")
    )
    expect(page.locator(".me-name")).to_have_text(name)
    assert serious_violations(page) == []
    [me] = roster(api, _hosted(created))
    assert (me["display_name"], me["team"]) == (name, "blue")

    # The host moves the phone to another team: the phone shows it at once.
    api.patch(
        f"/api/events/{code}/participants/{me['id']}",
        json={"team": "green"},
        headers=_hosted(created).host_headers,
    )
    expect(page.get_by_test_id("team")).to_have_text(
        join_words["team.yours"].replace("{team}", "Grün")
    )


def _hosted(created: dict[str, Any]) -> HostedEvent:
    return HostedEvent(
        created["event"]["code"], created["host_token"], created["join_url"], created["host_url"]
    )


def open_dashboard(
    contexts: Callable[..., BrowserContext],
    server: RollcallServer,
    created: dict[str, Any],
    locale: str,
) -> Page:
    page: Page = contexts(**PROJECTOR, locale=locale).new_page()
    event = created["event"]["code"]
    page.goto(f"{server.base_url}/host/{event}#host_token={created['host_token']}")
    expect(page.get_by_test_id("teams")).to_be_visible()
    return page


@pytest.mark.parametrize("locale", LOCALES)
def test_the_dashboard_shows_filters_and_sorts_by_team(
    locale: str,
    contexts: Callable[..., BrowserContext],
    server: RollcallServer,
    api: httpx.Client,
) -> None:
    created = new_event(api, teams=TEAMS)
    hosted = _hosted(created)
    code = hosted.code
    for name in ["Ada", "Ben", "Cem", "Dia", "Eli"]:
        joined = api.post(
            f"/api/events/{code}/join",
            json={"device_id": _device(name), "display_name": name},
        )
        assert joined.status_code == 201, joined.text
    api.post(f"/api/events/{code}/teams/balance", headers=hosted.host_headers)
    seat = api.post(
        f"/api/events/{code}/participants",
        json={"display_name": "Opa", "team": "green"},
        headers=hosted.host_headers,
    )
    assert seat.status_code == 201
    host_words = words("host", locale)
    page = open_dashboard(contexts, server, created, locale)
    cards = page.get_by_test_id("roster").locator("[data-participant-id]")
    expect(cards).to_have_count(6)
    teams = {p["display_name"]: p["team"] for p in roster(api, hosted)}
    tiles = page.get_by_test_id("teams")
    expect(tiles.locator("[data-team='green'] .count-value")).to_have_text(
        str(sum(team == "green" for team in teams.values()))
    )
    # The seat without a phone says so, and shows its team.
    opa = cards.filter(has=page.get_by_text("Opa", exact=True))
    expect(opa.locator(".person-presence")).to_have_text(host_words["presence.no_phone"])
    expect(opa.get_by_test_id("team")).to_have_text(
        host_words["card.team"].replace("{team}", "Grün")
    )
    assert serious_violations(page) == []

    # Filter by a team: only its members; again: everyone.
    tiles.locator("[data-team='red']").click()
    red = sorted(name for name, team in teams.items() if team == "red")
    expect(cards.locator(".person-name")).to_have_text(red)  # by name, the default sort
    expect(tiles.locator("[data-team='red']")).to_have_attribute("aria-pressed", "true")
    tiles.locator("[data-team='red']").click()
    expect(cards).to_have_count(6)

    # Sort by team: the event's order of teams.
    page.locator("#roster-sort").select_option("team")
    order = {"red": 0, "blue": 1, "green": 2}
    by_team = sorted(teams, key=lambda name: (order[teams[name]], name))
    expect(cards.locator(".person-name")).to_have_text(by_team)
    assert serious_violations(page) == []


def _device(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{name} {uuid.uuid4()}"))


def test_the_host_renames_moves_and_seats_someone_from_the_dashboard(
    phone: Callable[..., Phone],
    contexts: Callable[..., BrowserContext],
    server: RollcallServer,
    api: httpx.Client,
) -> None:
    created = new_event(api, teams=TEAMS)
    hosted = _hosted(created)
    for name in ["Kid", "Bob"]:
        api.post(
            f"/api/events/{hosted.code}/join",
            json={"device_id": _device(name + "x"), "display_name": name},
        )
    page = open_dashboard(contexts, server, created, "en")
    page.get_by_role("button", name="Edit Kid").click()
    dialog = page.get_by_role("dialog", name="Edit Kid")
    dialog.get_by_label("Name").fill("bob")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_role("alert")).to_have_text(
        "Someone here already has that name, or one that looks like it."
    )
    assert serious_violations(page) == []
    dialog.get_by_label("Name").fill("Kim")
    dialog.get_by_label("Team").select_option("blue")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    kim = (
        page.get_by_test_id("roster")
        .locator("[data-participant-id]")
        .filter(has=page.get_by_text("Kim", exact=True))
    )
    expect(kim.get_by_test_id("team")).to_have_text("Team Blau")
    assert {p["display_name"]: p["team"] for p in roster(api, hosted)}["Kim"] == "blue"

    page.get_by_test_id("add-seat").click()
    add = page.get_by_role("dialog", name="Add someone without a phone")
    add.get_by_label("Name").fill("Nana")
    add.get_by_role("button", name="Add").click()
    shown = page.get_by_role("dialog", name="Nana's seat")
    expect(shown.get_by_test_id("seat-code")).to_have_text(_code_shape())
    expect(shown.get_by_role("img")).to_be_visible()
    assert serious_violations(page) == []
    code = str(shown.get_by_test_id("seat-code").text_content())
    shown.get_by_role("button", name="Done").click()
    nana = (
        page.get_by_test_id("roster")
        .locator("[data-participant-id]")
        .filter(has=page.get_by_text("Nana", exact=True))
    )
    expect(nana.locator(".person-presence")).to_have_text("No phone")

    # The QR's link: a phone opens it, is offered the seat with the code filled in, takes it.
    grandchild = phone()
    grandchild.page.goto(f"{server.base_url}/j/{hosted.code}?recover={code.replace('-', '')}")
    expect(grandchild.page.locator("#recovery-code")).to_have_value(code.replace("-", ""))
    grandchild.page.get_by_role("button", name="Continue", exact=True).click()
    expect(grandchild.joined_heading("Nana")).to_be_visible()
    expect(nana.locator(".person-presence")).to_have_text("Online")

    # The host adds a team and lets people choose theirs on joining.
    page.get_by_test_id("settings").click()
    settings = page.get_by_role("dialog", name="Teams and names")
    teams = settings.get_by_label("Teams", exact=True)
    expect(teams).to_have_value("Rot\nBlau\nGrün")
    teams.fill("Rot\nBlau\nGrün\nGelb")
    settings.get_by_label("Who picks the team").select_option("choose")
    assert serious_violations(page) == []
    settings.get_by_role("button", name="Save").click()
    expect(settings).to_be_hidden()
    expect(page.get_by_test_id("teams").locator("[data-team]")).to_have_count(5)
    event = api.get(f"/api/events/{hosted.code}").json()
    assert [team["name"] for team in event["teams"]] == ["Rot", "Blau", "Grün", "Gelb"]
    assert [team["id"] for team in event["teams"]][:3] == ["red", "blue", "green"]
    assert event["team_mode"] == "choose"
    assert {p["display_name"]: p["team"] for p in roster(api, hosted)}["Kim"] == "blue"


def _code_shape() -> re.Pattern[str]:
    return re.compile(r"^[2-9A-Z]{4}-[2-9A-Z]{4}$")
