"""The /ws protocol against real servers: welcome, fan-out across processes, presence, replace."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.factories import create_event, join, new_device
from tests.realtime.client import Socket, host_socket, of_type, participant_socket, room
from tests.servers import RollcallServer


async def test_a_host_on_one_process_sees_a_join_made_through_another(
    server_a: RollcallServer,
    http_a: httpx.AsyncClient,
    http_b: httpx.AsyncClient,
    server_b: RollcallServer,
) -> None:
    event = await create_event(http_a)
    host = await host_socket(server_a, event.code, event.host_token)
    started = time.monotonic()
    joined = (await join(http_b, event.code, name="Across")).json()
    message = await host.until(of_type("participant.joined"), timeout=1)
    assert time.monotonic() - started < 1
    assert message["participant"]["id"] == joined["participant"]["id"]
    assert message["participant"]["presence"] == "online"
    assert message["seq"] == 1
    await host.close()


async def test_the_participant_welcome_and_live_state(
    server_a: RollcallServer, server_b: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    event = await create_event(http_a)
    joined = (await join(http_a, event.code, name="Ana")).json()
    phone, welcome = await participant_socket(server_b, joined["session_token"])
    assert welcome["participant"]["display_name"] == "Ana"  # type: ignore[index]
    assert welcome["event"]["code"] == event.code  # type: ignore[index]
    assert welcome["heartbeat_interval_s"] == 0.5
    pid = joined["participant"]["id"]
    await http_a.patch(
        f"/api/events/{event.code}/participants/{pid}",
        json={"state": {"score": 1}},
        headers=event.host_headers,
    )
    state = await phone.until(of_type("state"), timeout=1)
    assert state["state"] == {"score": 1} and state["version"] == 1
    await phone.send({"type": "heartbeat"})
    assert (await phone.until(of_type("ack")))["server_time"]
    await phone.close()


async def test_silence_is_offline_once_and_a_beat_is_online_once(
    server_a: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    started = await room(http_a, server_a)
    host, phone, pid = started.host, started.phone, started.participant_id
    await host.until(of_type("participant.joined"))

    silent_since = time.monotonic()  # the phone sends nothing from here on
    offline = await host.until(of_type("participant.presence"), timeout=4)
    assert offline == {**offline, "participant_id": pid, "presence": "offline"}
    assert time.monotonic() - silent_since < 3
    more = await host.drain(1.0)
    assert not [m for m in more if m["type"] == "participant.presence"], "offline exactly once"

    await phone.send({"type": "heartbeat"})
    online = await host.until(of_type("participant.presence"), timeout=2)
    assert online["presence"] == "online" and online["participant_id"] == pid
    for _ in range(4):
        await phone.send({"type": "heartbeat"})
        await asyncio.sleep(0.4)  # the phone's own heartbeat rhythm
    assert not [m for m in await host.drain(0.5) if m["type"] == "participant.presence"]
    await phone.close()
    await host.close()


async def test_away_lasts_until_back_and_heartbeats_keep_it_away(
    server_a: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    started = await room(http_a, server_a)
    host, phone = started.host, started.phone
    await phone.send({"type": "away"})
    away = await host.until(of_type("participant.presence"), timeout=2)
    assert away["presence"] == "away"
    for _ in range(8):  # 3.2 s of heartbeats, past the 2 s timeout
        await phone.send({"type": "heartbeat"})
        await asyncio.sleep(0.4)
    assert not [m for m in host.seen if m.get("presence") == "offline"]
    assert not [m for m in await host.drain(0.3) if m["type"] == "participant.presence"]
    await phone.send({"type": "back"})
    back = await host.until(of_type("participant.presence"), timeout=2)
    assert back["presence"] == "online"
    await phone.close()
    await host.close()


async def test_a_newer_connection_replaces_the_older_and_no_offline_is_shown(
    server_a: RollcallServer, server_b: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    event = await create_event(http_a)
    host = await host_socket(server_a, event.code, event.host_token)
    joined = (await join(http_a, event.code)).json()
    pid = joined["participant"]["id"]
    for first_server, second_server in ((server_a, server_a), (server_a, server_b)):
        first, _ = await participant_socket(first_server, joined["session_token"])
        second, _ = await participant_socket(second_server, joined["session_token"])
        assert (await first.until(of_type("replaced"), timeout=2))["type"] == "replaced"
        assert await first.closed() == 4409
        # The second keeps working: it beats past the timeout and gets live state.
        for _ in range(6):
            await second.send({"type": "heartbeat"})
            await asyncio.sleep(0.4)
        await http_a.patch(
            f"/api/events/{event.code}/participants/{pid}",
            json={"state": {"round": first_server.port + second_server.port}},
            headers=event.host_headers,
        )
        assert (await second.until(of_type("state"), timeout=2))["state"]["round"]
        await second.close()
    presence = [m for m in host.seen + await host.drain(0.3) if m["type"] == "participant.presence"]
    assert not [m for m in presence if m["presence"] == "offline"], presence
    await host.close()


async def test_kick_leave_and_close_end_the_sockets_with_their_codes(
    server_a: RollcallServer, server_b: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    event = await create_event(http_a)
    kicked = (await join(http_a, event.code, device_id=new_device())).json()
    leaving = (await join(http_a, event.code)).json()
    staying = (await join(http_a, event.code)).json()
    kicked_socket, _ = await participant_socket(server_b, kicked["session_token"])
    leaving_socket, _ = await participant_socket(server_a, leaving["session_token"])
    staying_socket, _ = await participant_socket(server_b, staying["session_token"])
    host = await host_socket(server_a, event.code, event.host_token)

    await http_a.post(
        f"/api/events/{event.code}/participants/{kicked['participant']['id']}/kick",
        headers=event.host_headers,
    )
    assert (await kicked_socket.until(of_type("kicked")))["type"] == "kicked"
    assert await kicked_socket.closed() == 4403
    again = await Socket.open(server_a.ws_url, {"type": "hello", "token": kicked["session_token"]})
    assert await again.closed() == 4403

    http_a.cookies.clear()
    await http_a.delete(
        "/api/session", headers={"Authorization": f"Bearer {leaving['session_token']}"}
    )
    assert await leaving_socket.closed() == 4401

    await http_a.patch(
        f"/api/events/{event.code}", json={"status": "closed"}, headers=event.host_headers
    )
    update = await staying_socket.until(of_type("event"))
    assert update["event"]["status"] == "closed"
    assert await staying_socket.closed() == 4410
    assert await host.closed() == 4410
    late = await Socket.open(server_b.ws_url, {"type": "hello", "token": staying["session_token"]})
    assert await late.closed() == 4410


async def test_the_session_cookie_stands_in_for_the_token_and_a_beacon_says_away(
    server_a: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    event = await create_event(http_a)
    host = await host_socket(server_a, event.code, event.host_token)
    joined = (await join(http_a, event.code, name="Cookie")).json()
    phone = await Socket.open(
        server_a.ws_url,
        {"type": "hello"},
        additional_headers={"Cookie": f"rollcall_session={joined['session_token']}"},
    )
    welcome = await phone.next()
    assert welcome["type"] == "welcome"
    assert welcome["participant"]["display_name"] == "Cookie"
    # What a page sends with navigator.sendBeacon on pagehide.
    http_a.cookies.clear()
    beacon = await http_a.post(
        "/api/session/heartbeat",
        json={"away": True},
        headers={"Authorization": f"Bearer {joined['session_token']}"},
    )
    assert beacon.status_code == 200
    away = await host.until(of_type("participant.presence"))
    assert away["presence"] == "away" and away["participant_id"] == joined["participant"]["id"]
    await phone.close()
    await host.close()


async def test_a_joined_message_carries_the_rosters_own_entry(
    server_a: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    from datetime import datetime

    event = await create_event(http_a)
    host = await host_socket(server_a, event.code, event.host_token)
    await join(http_a, event.code, name="Same Shape")
    message = (await host.until(of_type("participant.joined")))["participant"]
    roster = await http_a.get(f"/api/events/{event.code}/participants", headers=event.host_headers)
    entry = roster.json()["participants"][0]
    assert message.keys() == entry.keys()
    for key in ("joined_at", "last_heartbeat"):
        assert datetime.fromisoformat(message[key]) == datetime.fromisoformat(entry[key])
        del message[key], entry[key]
    assert message == entry
    await host.close()


async def test_an_away_phone_that_stops_beating_goes_offline(
    server_a: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    """A page that goes away and then closes says `away` last; silence still ends in offline."""
    started = await room(http_a, server_a)
    host, phone = started.host, started.phone
    await phone.send({"type": "away"})
    assert (await host.until(of_type("participant.presence")))["presence"] == "away"
    await phone.close()
    offline = await host.until(of_type("participant.presence"), timeout=4)
    assert offline["presence"] == "offline"
    await host.close()


async def test_an_away_page_with_an_open_socket_stays_away_though_its_timers_sleep(
    server_a: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    """A hidden tab may beat once a minute only; while its socket lives, it is away, not gone."""
    started = await room(http_a, server_a)
    host, phone = started.host, started.phone
    await phone.send({"type": "away"})
    assert (await host.until(of_type("participant.presence")))["presence"] == "away"
    quiet = await host.drain(4.0)  # twice the 2 s timeout, and the phone sends nothing
    assert not [m for m in quiet if m["type"] == "participant.presence"], quiet
    await phone.send({"type": "back"})
    assert (await host.until(of_type("participant.presence")))["presence"] == "online"
    await phone.close()
    await host.close()


async def test_the_host_welcome_roster_is_the_apis_roster(
    server_a: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    """Built by the database for the welcome, entry for entry what the API's roster says."""
    from datetime import datetime

    event = await create_event(http_a)
    for name in ("Ana", "Bea", "Cy"):
        await join(http_a, event.code, name=name)
    kicked = (await join(http_a, event.code, name="Dee")).json()["participant"]["id"]
    await http_a.patch(
        f"/api/events/{event.code}/participants/{kicked}",
        json={"state": {"score": 3, "team": "é"}},
        headers=event.host_headers,
    )
    await http_a.post(
        f"/api/events/{event.code}/participants/{kicked}/kick", headers=event.host_headers
    )
    host = await host_socket(server_a, event.code, event.host_token)
    welcomed = host.seen[-1]["participants"]
    roster = await http_a.get(f"/api/events/{event.code}/participants", headers=event.host_headers)
    entries = roster.json()["participants"]
    assert [e["display_name"] for e in welcomed] == ["Ana", "Bea", "Cy", "Dee"]
    for got, want in zip(welcomed, entries, strict=True):
        assert got.keys() == want.keys()
        for key in ("joined_at", "last_heartbeat"):
            assert datetime.fromisoformat(got.pop(key)) == datetime.fromisoformat(want.pop(key))
        assert got == want
    await host.close()
