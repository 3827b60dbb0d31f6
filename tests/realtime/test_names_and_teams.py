"""Renames, teams and seats without a phone on /ws: what hosts and the phone are told."""

from __future__ import annotations

import httpx

from tests.factories import create_event, join
from tests.realtime.client import host_socket, of_type, room
from tests.servers import RollcallServer

TEAMS = [{"id": "red", "name": "Red"}, {"id": "blue", "name": "Blue"}]


async def test_rename_and_team_reach_the_hosts_and_the_phone(
    server_a: RollcallServer,
    server_b: RollcallServer,
    http_a: httpx.AsyncClient,
) -> None:
    started = await room(http_a, server_a, phone_server=server_b, name="Ana", teams=TEAMS)
    event, host, phone, pid = started.event, started.host, started.phone, started.participant_id
    assert started.welcome["participant"]["team"] is None
    path = f"/api/events/{event.code}/participants/{pid}"
    await http_a.patch(
        path, json={"display_name": "Anna", "team": "red"}, headers=event.host_headers
    )

    renamed = await host.until(of_type("participant.renamed"))
    assert (renamed["participant_id"], renamed["display_name"]) == (pid, "Anna")
    team = await host.until(of_type("participant.team"))
    assert (team["participant_id"], team["team"]) == (pid, "red")
    assert team["seq"] == renamed["seq"] + 1
    assert (await phone.until(of_type("renamed")))["display_name"] == "Anna"
    assert (await phone.until(of_type("team")))["team"] == "red"

    await http_a.post(f"/api/events/{event.code}/teams/balance", headers=event.host_headers)
    await http_a.patch(path, json={"team": None}, headers=event.host_headers)
    assert (await phone.until(of_type("team")))["team"] is None
    await host.close()
    await phone.close()


async def test_a_seat_without_a_phone_is_announced_and_never_goes_online(
    server_a: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    event = await create_event(http_a)
    host = await host_socket(server_a, event.code, event.host_token)
    seated = await http_a.post(
        f"/api/events/{event.code}/participants",
        json={"display_name": "Nana"},
        headers=event.host_headers,
    )
    joined = await host.until(of_type("participant.joined"))
    assert joined["participant"]["id"] == seated.json()["participant"]["id"]
    assert (joined["participant"]["presence"], joined["participant"]["has_phone"]) == (
        "offline",
        False,
    )
    # The sweep (every 0.2 s here) finds nothing to say about it, past the presence timeout.
    later = await host.drain(2.5)
    assert not [m for m in later if m["type"] == "participant.presence"], later
    taken = await join(http_a, event.code, name="x", recovery_code=seated.json()["recovery_code"])
    rejoined = await host.until(of_type("participant.rejoined"))
    assert rejoined["participant"]["has_phone"] is True
    assert rejoined["participant"]["id"] == taken.json()["participant"]["id"]
    await host.close()
