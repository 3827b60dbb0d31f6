"""Teams: set by the host or chosen on joining, balanced, kept through rejoin and reclaim."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest

from rollcall.participants.teams import plan
from tests.factories import HostedEvent, create_event, join, new_device

THREE = [
    {"id": "red", "name": "Red"},
    {"id": "blue", "name": "Blue"},
    {"id": "green", "name": "Green"},
]


async def roster(client: httpx.AsyncClient, event: HostedEvent) -> list[dict[str, Any]]:
    answer = await client.get(f"/api/events/{event.code}/participants", headers=event.host_headers)
    participants: list[dict[str, Any]] = answer.json()["participants"]
    return participants


async def balance(client: httpx.AsyncClient, event: HostedEvent, **body: Any) -> httpx.Response:
    return await client.post(
        f"/api/events/{event.code}/teams/balance", json=body or None, headers=event.host_headers
    )


async def test_ten_over_three_teams_balance_to_four_three_three_and_stay(
    client: httpx.AsyncClient,
) -> None:
    event = await create_event(client, teams=THREE)
    devices = [new_device() for _ in range(10)]
    joined = [
        (await join(client, event.code, device_id=d, name=f"P{n}")).json()
        for n, d in enumerate(devices)
    ]
    balanced = await balance(client, event)
    assert balanced.status_code == 200
    assert balanced.json()["assigned"] == 10
    assert sorted(balanced.json()["sizes"].values()) == [3, 3, 4]
    teams = {p["id"]: p["team"] for p in await roster(client, event)}
    assert sorted(Counter(teams.values()).values()) == [3, 3, 4]
    described = (await client.get(f"/api/events/{event.code}")).json()
    assert {k: v["active"] for k, v in described["counts"]["teams"].items()} == dict(
        Counter(teams.values())
    )

    # A rejoin of every phone keeps every team.
    for n, device in enumerate(devices):
        again = await join(client, event.code, device_id=device, name=f"P{n}", team="red")
        assert again.status_code == 200
        assert again.json()["participant"]["team"] == teams[again.json()["participant"]["id"]]
    # A seat reclaim keeps it too.
    moved = await join(client, event.code, name="x", recovery_code=joined[0]["recovery_code"])
    assert moved.status_code == 200
    assert moved.json()["participant"]["team"] == teams[joined[0]["participant"]["id"]]
    assert {p["id"]: p["team"] for p in await roster(client, event)} == teams
    # Balanced already: a second balance moves no one.
    assert (await balance(client, event)).json()["assigned"] == 0


async def test_concurrent_balances_never_leave_sizes_more_than_one_apart(
    client: httpx.AsyncClient,
) -> None:
    for everyone in (False, True, False, True):
        event = await create_event(client, teams=THREE)
        await asyncio.gather(*[join(client, event.code, name=f"Q{n}") for n in range(11)])
        answers = await asyncio.gather(
            balance(client, event), balance(client, event), balance(client, event, all=everyone)
        )
        assert [a.status_code for a in answers] == [200] * 3
        if not everyone:  # each participant was given a team by exactly one of them
            assert sum(a.json()["assigned"] for a in answers) == 11
        sizes = Counter(p["team"] for p in await roster(client, event))
        assert None not in sizes
        assert max(sizes.values()) - min(sizes.values()) <= 1


async def test_balance_all_moves_as_few_as_it_can(client: httpx.AsyncClient) -> None:
    event = await create_event(client, teams=THREE)
    ids = [
        (await join(client, event.code, name=f"R{n}")).json()["participant"]["id"] for n in range(7)
    ]
    for pid in ids:  # everyone in red
        await client.patch(
            f"/api/events/{event.code}/participants/{pid}",
            json={"team": "red"},
            headers=event.host_headers,
        )
    assert (await balance(client, event)).json()["assigned"] == 0  # no one without a team
    done = (await balance(client, event, all=True)).json()
    assert done == {"assigned": 4, "sizes": {"red": 3, "blue": 2, "green": 2}}
    teams = {p["id"]: p["team"] for p in await roster(client, event)}
    assert [teams[pid] for pid in ids[:3]] == ["red"] * 3  # the first joiners stay


def test_plan_keeps_sizes_within_one() -> None:
    teams = ["a", "b", "c", "d"]
    for count in range(0, 30):
        for seed in range(4):
            members = [(object(), teams[(n * seed) % 4] if n % 3 else None) for n in range(count)]
            moves = plan(teams, members, everyone=True)  # type: ignore[arg-type]
            final = Counter(moves.get(pid, team) for pid, team in members)
            sizes = [final.get(team, 0) for team in teams]
            assert max(sizes) - min(sizes) <= 1, (count, seed, sizes)


async def test_team_mode_choose_lets_a_phone_pick(client: httpx.AsyncClient) -> None:
    event = await create_event(client, teams=THREE, team_mode="choose")
    picked = await join(client, event.code, name="Pia", team="blue")
    assert picked.status_code == 201 and picked.json()["participant"]["team"] == "blue"
    unknown = await join(client, event.code, name="Uli", team="purple")
    assert (unknown.status_code, unknown.json()["code"]) == (422, "team_not_found")
    hosted = await create_event(client, teams=THREE)
    refused = await join(client, hosted.code, name="Pia", team="blue")
    assert (refused.status_code, refused.json()["code"]) == (409, "team_choice_off")
    assert (await join(client, hosted.code, name="Pia")).json()["participant"]["team"] is None


async def test_the_host_moves_a_participant_and_unknown_teams_are_422(
    client: httpx.AsyncClient,
) -> None:
    event = await create_event(client, teams=THREE)
    pid = (await join(client, event.code, name="Mo")).json()["participant"]["id"]
    path = f"/api/events/{event.code}/participants/{pid}"
    moved = await client.patch(path, json={"team": "green"}, headers=event.host_headers)
    assert moved.status_code == 200 and moved.json()["team"] == "green"
    unknown = await client.patch(path, json={"team": "nope"}, headers=event.host_headers)
    assert (unknown.status_code, unknown.json()["code"]) == (422, "team_not_found")
    out = await client.patch(path, json={"team": None}, headers=event.host_headers)
    assert out.status_code == 200 and out.json()["team"] is None


async def test_a_team_taken_out_of_the_event_loses_its_members(client: httpx.AsyncClient) -> None:
    event = await create_event(client, teams=THREE)
    pid = (await join(client, event.code, name="Ed")).json()["participant"]["id"]
    await client.patch(
        f"/api/events/{event.code}/participants/{pid}",
        json={"team": "blue"},
        headers=event.host_headers,
    )
    changed = await client.patch(
        f"/api/events/{event.code}", json={"teams": THREE[:1]}, headers=event.host_headers
    )
    assert changed.status_code == 200
    assert changed.json()["counts"]["teams"] == {"red": {"active": 0, "online": 0}}
    assert (await roster(client, event))[0]["team"] is None


@pytest.mark.parametrize(
    "teams",
    [
        [{"id": f"t{n}", "name": f"Team {n}"} for n in range(101)],
        [{"id": "a", "name": "A"}, {"id": "a", "name": "B"}],
        [{"id": "a", "name": "Same"}, {"id": "b", "name": "same"}],
        [{"id": "no spaces", "name": "A"}],
        [{"id": "a", "name": ""}],
        [{"id": "a"}],
    ],
)
async def test_bad_teams_are_422(client: httpx.AsyncClient, teams: list[dict[str, str]]) -> None:
    event = await create_event(client)
    for answer in [
        await client.post("/api/events", json={"title": "x", "teams": teams}),
        await client.patch(
            f"/api/events/{event.code}", json={"teams": teams}, headers=event.host_headers
        ),
    ]:
        assert (answer.status_code, answer.json()["code"]) == (422, "validation_error")
        assert answer.json()["errors"][0]["field"].startswith("teams")


async def test_a_hundred_teams_are_allowed(client: httpx.AsyncClient) -> None:
    teams = [{"id": f"t{n}", "name": f"Team {n}"} for n in range(100)]
    event = await create_event(client, teams=teams)
    assert len(event.body["event"]["counts"]["teams"]) == 100
