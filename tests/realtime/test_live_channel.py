"""The live channel on /ws against real servers: event state to every phone, actions back, receipts.

These are the delivery contract's cases (docs/protocol.md, "Delivery contract").
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.factories import HostedEvent, bearer, create_event, join
from tests.polling import eventually
from tests.realtime.client import Socket, host_socket, of_type, participant_socket, room
from tests.servers import FAST, RollcallServer, rollcall_server


async def set_state(
    http: httpx.AsyncClient, event: HostedEvent, patch: dict[str, Any], **headers: str
) -> dict[str, Any]:
    answer = await http.patch(
        f"/api/events/{event.code}/state", json=patch, headers={**event.host_headers, **headers}
    )
    assert answer.status_code == 200, answer.text
    changed: dict[str, Any] = answer.json()
    return changed


async def actions_of(http: httpx.AsyncClient, event: HostedEvent) -> list[dict[str, Any]]:
    answer = await http.get(f"/api/events/{event.code}/actions", headers=event.host_headers)
    assert answer.status_code == 200, answer.text
    listed: list[dict[str, Any]] = answer.json()["actions"]
    return listed


async def receipts_of(http: httpx.AsyncClient, event: HostedEvent) -> dict[str, Any]:
    answer = await http.get(f"/api/events/{event.code}/receipts", headers=event.host_headers)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def until_receipts(
    http: httpx.AsyncClient,
    event: HostedEvent,
    wanted: dict[str, Any],
    timeout: float = 5,
    *,
    behind: Callable[[list[dict[str, Any]]], bool] = lambda _: True,
) -> dict[str, Any]:
    """GET …/receipts until its counts are `wanted` and `behind` holds for its list."""

    async def as_wanted() -> dict[str, Any] | None:
        found = await receipts_of(http, event)
        if {key: found[key] for key in wanted} == wanted and behind(found["behind"]):
            return found
        return None

    return await eventually(as_wanted, timeout=timeout, what=f"receipts {wanted}")


async def phones_in_a_new_event(
    http: httpx.AsyncClient, host_server: RollcallServer, *phone_servers: RollcallServer
) -> tuple[HostedEvent, Socket, list[Socket]]:
    """A new event, its host's socket on `host_server`, and a phone joined for each of
    `phone_servers`, its socket on that server."""
    event = await create_event(http)
    joined = [(await join(http, event.code)).json() for _ in phone_servers]
    host = await host_socket(host_server, event.code, event.host_token)
    phones = [
        (await participant_socket(server, j["session_token"]))[0]
        for server, j in zip(phone_servers, joined, strict=True)
    ]
    return event, host, phones


@contextlib.asynccontextmanager
async def beating(*phones: Socket) -> AsyncIterator[None]:
    """The phones beat as pages do (every 0.4 s, inside the 2 s timeout) while in the block."""

    async def beat() -> None:
        while True:
            for phone in phones:
                await phone.send({"type": "heartbeat"})
            await asyncio.sleep(0.4)  # the heartbeat rhythm, not a wait for something

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# --- event state


async def test_every_phone_gets_every_change_in_order_on_any_process(
    server_a: RollcallServer, server_b: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    event = await create_event(http_a)
    ana = (await join(http_a, event.code)).json()
    bo = (await join(http_a, event.code)).json()
    phone_a, welcome = await participant_socket(server_a, ana["session_token"])
    phone_b, _ = await participant_socket(server_b, bo["session_token"])
    assert welcome["event_state"] == {} and welcome["event_state_version"] == 0
    for n in range(1, 4):
        await set_state(http_a, event, {"question": n, f"seen{n}": True})
    for phone in (phone_a, phone_b):
        got = [await phone.until(of_type("event_state"), timeout=2) for _ in range(3)]
        assert [(m["version"], m["state"]["question"]) for m in got] == [(1, 1), (2, 2), (3, 3)]
        assert got[-1]["state"] == {"question": 3, "seen1": True, "seen2": True, "seen3": True}
        await phone.close()


async def test_the_welcome_carries_the_latest_and_a_socket_closed_over_two_changes_gets_2(
    server_a: RollcallServer, server_b: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    event = await create_event(http_a)
    ana = (await join(http_a, event.code)).json()
    phone, welcome = await participant_socket(server_a, ana["session_token"])
    assert welcome["event_state_version"] == 0
    await phone.close()

    await set_state(http_a, event, {"question": "q1"})
    await set_state(http_a, event, {"question": "q2", "choices": ["A", "B"]})

    again, welcome = await participant_socket(server_b, ana["session_token"])
    assert welcome["event_state"] == {"question": "q2", "choices": ["A", "B"]}
    assert welcome["event_state_version"] == 2
    assert welcome["event"]["state_version"] == 2  # type: ignore[index]
    assert welcome["event"]["state"] == welcome["event_state"]  # type: ignore[index]
    assert not [m for m in await again.drain(0.5) if m["type"] == "event_state"], "no replay"
    await set_state(http_a, event, {"question": "q3"})
    assert (await again.until(of_type("event_state"), timeout=2))["version"] == 3
    await again.close()


async def test_hosts_get_event_state_and_actions_in_their_stream_in_seq_order(
    server_a: RollcallServer, server_b: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    started = await room(http_a, server_a, phone_server=server_b)
    event, host, phone, ana = started.event, started.host, started.phone, started.joined
    await set_state(http_a, event, {"question": "q1"})
    await phone.send({"type": "action", "id": "q1", "name": "answer", "data": {"choice": "B"}})
    ack = await phone.until(of_type("action.ack"), timeout=2)

    changed = await host.until(of_type("event.state"), timeout=2)
    acted = await host.until(of_type("participant.action"), timeout=2)
    assert changed == {
        "type": "event.state",
        "seq": changed["seq"],
        "state": {"question": "q1"},
        "version": 1,
    }
    assert acted["seq"] == ack["seq"] == changed["seq"] + 1
    assert {key: acted[key] for key in ("participant_id", "id", "name", "data")} == {
        "participant_id": ana["participant"]["id"],
        "id": "q1",
        "name": "answer",
        "data": {"choice": "B"},
    }
    assert acted["at"]
    await phone.close()
    await host.close()


# --- actions


async def test_a_repeated_action_id_is_one_action_over_ws_http_and_reconnects(
    server_a: RollcallServer, server_b: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    started = await room(http_a, server_a)
    event, host, phone, ana = started.event, started.host, started.phone, started.joined
    answer = {"type": "action", "id": "q1", "name": "answer", "data": {"choice": "B"}}
    await phone.send(answer)
    first = await phone.until(of_type("action.ack"), timeout=2)
    assert first == {"type": "action.ack", "id": "q1", "seq": first["seq"], "duplicate": False}
    await phone.send({**answer, "data": {"choice": "C"}})  # a double tap with another choice
    again = await phone.until(of_type("action.ack"), timeout=2)
    assert again == {**first, "duplicate": True}
    await phone.close()

    # The ack was lost with the socket, say: the phone sends it again after reconnecting.
    back, _ = await participant_socket(server_b, ana["session_token"])
    await back.send(answer)
    assert await back.until(of_type("action.ack"), timeout=2) == {**first, "duplicate": True}
    over_http = await http_a.post(
        "/api/session/actions",
        json={"id": "q1", "name": "answer"},
        headers=bearer(ana["session_token"]),
    )
    assert over_http.status_code == 200
    assert over_http.json() == {"id": "q1", "seq": first["seq"], "duplicate": True}

    [stored] = await actions_of(http_a, event)
    assert (stored["seq"], stored["data"]) == (first["seq"], {"choice": "B"})
    await back.send({"type": "action", "id": "q2", "name": "answer"})
    await back.until(of_type("action.ack"), timeout=2)
    acted = [m for m in await host.drain(1.0) if m["type"] == "participant.action"]
    acted += [m for m in host.seen if m["type"] == "participant.action" and m not in acted]
    assert sorted(m["id"] for m in acted) == ["q1", "q2"], "one message per action"
    await back.close()
    await host.close()


async def test_refused_actions_are_error_messages_and_the_socket_stays_open(
    server_a: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    event = await create_event(http_a)
    ana = (await join(http_a, event.code)).json()
    phone, _ = await participant_socket(server_a, ana["session_token"])
    refused = [
        ({"id": "q 1", "name": "answer"}, "validation_error", "q 1"),
        ({"id": "q1", "name": "Answer"}, "validation_error", "q1"),
        ({"id": 7, "name": "answer"}, "validation_error", None),
        ({"id": "q1", "name": "answer", "data": "x" * 5000}, "action_too_large", "q1"),
        ({"id": "q1", "name": "answer", "extra": 1}, "validation_error", "q1"),
    ]
    for fields, code, about in refused:
        await phone.send({"type": "action", **fields})
        error = await phone.until(of_type("error", "action.ack"), timeout=2)
        assert (error["type"], error["code"], error["id"]) == ("error", code, about), error
        assert error["detail"]
    await phone.send({"type": "heartbeat"})
    assert (await phone.until(of_type("ack"), timeout=2))["server_time"]
    assert await actions_of(http_a, event) == []

    await phone.ws.send("not json")
    assert await phone.closed() == 4400, "only a malformed frame closes the socket"


async def test_a_waiting_participant_acting_on_ws_gets_an_error_and_stays(
    server_a: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    event = await create_event(http_a, admission="approval")
    waiting = (await join(http_a, event.code)).json()
    phone, welcome = await participant_socket(server_a, waiting["session_token"])
    assert welcome["participant"]["status"] == "pending"  # type: ignore[index]
    await phone.send({"type": "action", "id": "q1", "name": "answer"})
    error = await phone.until(of_type("error"), timeout=2)
    assert (error["code"], error["id"]) == ("participant_pending", "q1")
    pid = waiting["participant"]["id"]
    await http_a.post(
        f"/api/events/{event.code}/participants/{pid}/admit", headers=event.host_headers
    )
    await phone.until(of_type("admitted"), timeout=2)
    await phone.send({"type": "action", "id": "q1", "name": "answer"})
    assert (await phone.until(of_type("action.ack"), timeout=2))["duplicate"] is False
    await phone.close()


@pytest.fixture(scope="module")
def limited(module_db: str, logs: Path) -> Iterator[RollcallServer]:
    """A server that lets each participant send 3 actions a second."""
    with rollcall_server(module_db, logs, **FAST, limit_actions="3/second") as server:
        yield server


async def test_actions_past_the_limit_are_errors_naming_them_and_the_socket_stays_open(
    limited: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    event = await create_event(http_a)
    ana = (await join(http_a, event.code)).json()
    phone, _ = await participant_socket(limited, ana["session_token"])
    for n in range(4):
        await phone.send({"type": "action", "id": f"tap{n}", "name": "tap"})
    answers = [await phone.until(of_type("action.ack", "error"), timeout=2) for _ in range(4)]
    assert [m["type"] for m in answers] == ["action.ack"] * 3 + ["error"]
    assert (answers[3]["code"], answers[3]["id"]) == ("rate_limited", "tap3")
    assert answers[3]["retry_after_s"] >= 1
    await phone.send({"type": "heartbeat"})
    assert (await phone.until(of_type("ack"), timeout=2))["server_time"]
    assert [a["id"] for a in await actions_of(http_a, event)] == ["tap0", "tap1", "tap2"]
    await phone.close()


# --- receipts


async def test_receipts_count_and_list_who_is_behind_online_first(
    server_a: RollcallServer, server_b: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    event = await create_event(http_a)
    joined = [(await join(http_a, event.code, name=f"P{n}")).json() for n in range(5)]
    ids = [j["participant"]["id"] for j in joined]
    host = await host_socket(server_a, event.code, event.host_token)
    assert host.seen[0]["receipts"] == {"event_version": 0, "seen": 5, "of": 5}
    # P0 never opens a socket (offline once 2 s silent), P1 is away, P2 and P3 will report,
    # P4 is online and will not: behind, in join order, are P0, P1 and P4.
    phones = {}
    for n, server in [(1, server_b), (2, server_a), (3, server_b), (4, server_a)]:
        phones[n], _ = await participant_socket(server, joined[n]["session_token"])
    await phones[1].send({"type": "away"})
    async with beating(*phones.values()):
        changed = await set_state(http_a, event, {"question": "q1"})
        for phone in phones.values():
            assert (await phone.until(of_type("event_state"), timeout=2))["version"] == 1
        for n in (2, 3):
            await phones[n].send({"type": "seen", "event_version": 1, "version": 0})
        told = await host.until(lambda m: m["type"] == "receipts" and m["seen"] == 2, timeout=5)
        assert told == {"type": "receipts", "event_version": changed["version"], "seen": 2, "of": 5}
        await host.until(
            lambda m: m.get("participant_id") == ids[0] and m.get("presence") == "offline",
            timeout=5,
        )

        found = await until_receipts(http_a, event, {"event_version": 1, "seen": 2, "of": 5})
        assert [(b["id"], b["presence"]) for b in found["behind"]] == [
            (ids[4], "online"),
            (ids[1], "away"),
            (ids[0], "offline"),
        ]
        assert all(b["seen_event_version"] == 0 for b in found["behind"])
        assert [b["display_name"] for b in found["behind"]] == ["P4", "P1", "P0"]

        roster = await http_a.get(
            f"/api/events/{event.code}/participants", headers=event.host_headers
        )
        seen = {p["id"]: p["seen_event_version"] for p in roster.json()["participants"]}
        assert seen == {ids[0]: 0, ids[1]: 0, ids[2]: 1, ids[3]: 1, ids[4]: 0}

        # The rest report, one after the other: the second is told a second after the first.
        await phones[1].send({"type": "seen", "event_version": 1})
        await host.until(lambda m: m["type"] == "receipts" and m["seen"] == 3, timeout=5)
        told_at = time.monotonic()
        await phones[4].send({"type": "seen", "event_version": 1})  # written within 0.5 s
        more = await host.until(lambda m: m["type"] == "receipts" and m["seen"] == 4, timeout=5)
        assert time.monotonic() - told_at >= 0.8, "at most one receipts message a second"
        assert more["of"] == 5
        found = await until_receipts(http_a, event, {"seen": 4, "of": 5})
        assert [b["id"] for b in found["behind"]] == [ids[0]]
    for phone in phones.values():
        await phone.close()
    await host.close()


async def test_a_new_versions_count_is_not_held_back_by_the_last_count_of_the_one_before(
    server_a: RollcallServer, server_b: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    event, host, phones = await phones_in_a_new_event(http_a, server_a, server_a, server_b)
    for version in (1, 2):
        await set_state(http_a, event, {"question": f"q{version}"})
        for phone in phones:
            await phone.until(of_type("event_state"), timeout=2)
            await phone.send({"type": "seen", "event_version": version})
        await host.until(
            lambda m, v=version: (
                m["type"] == "receipts" and m == {**m, "event_version": v, "seen": 2}
            ),
            timeout=5,
        )
        if version == 1:
            counted_at = time.monotonic()
    # One change a second needs each version's "everyone" within the second: the pace (a
    # message a second) holds for one version, not across them.
    assert time.monotonic() - counted_at < 0.9
    for phone in phones:
        await phone.close()
    await host.close()


async def test_receipts_all_in_are_counted_at_once_not_a_flush_interval_later(
    module_db: str, logs: Path
) -> None:
    """A process that sent a state to its phones writes their receipts as soon as all of them
    have reported it, not when its flush interval (here a long one) comes round."""
    flush_s = 3.0
    with rollcall_server(module_db, logs, **{**FAST, "receipt_flush_s": flush_s}) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            event, host, phones = await phones_in_a_new_event(http, server, *[server] * 3)
            async with beating(*phones):
                changed_at = time.monotonic()
                await set_state(http, event, {"question": "q1"})
                for phone in phones:
                    await phone.until(of_type("event_state"), timeout=2)
                    await phone.send({"type": "seen", "event_version": 1})
                await host.until(
                    lambda m: m["type"] == "receipts" and m == {**m, "event_version": 1, "seen": 3},
                    timeout=2 * flush_s,
                )
                assert time.monotonic() - changed_at < flush_s / 2
            for socket in (*phones, host):
                await socket.close()


async def test_the_count_that_says_everyone_is_not_held_back_by_the_pace(
    server_a: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    event, host, phones = await phones_in_a_new_event(http_a, server_a, server_a, server_a)
    async with beating(*phones):
        await set_state(http_a, event, {"question": "q1"})
        for phone in phones:
            await phone.until(of_type("event_state"), timeout=2)
        await phones[0].send({"type": "seen", "event_version": 1})
        await host.until(lambda m: m["type"] == "receipts" and m["seen"] == 1, timeout=5)
        first_at = time.monotonic()
        await phones[1].send({"type": "seen", "event_version": 1})
        everyone = await host.until(lambda m: m["type"] == "receipts" and m["seen"] == 2, timeout=5)
        # Within the second that paces counts of one version: the last one is news.
        assert time.monotonic() - first_at < 0.9
        assert everyone == {"type": "receipts", "event_version": 1, "seen": 2, "of": 2}
    for socket in (*phones, host):
        await socket.close()


async def test_a_seen_for_a_version_that_does_not_exist_is_an_error_and_stores_nothing(
    server_a: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    event = await create_event(http_a)
    ana = (await join(http_a, event.code)).json()
    phone, _ = await participant_socket(server_a, ana["session_token"])
    await set_state(http_a, event, {"question": "q1"})
    await phone.until(of_type("event_state"), timeout=2)
    for seen, code in [
        ({"event_version": 5}, "unknown_version"),
        ({"event_version": 1, "version": 3}, "unknown_version"),
        ({}, "validation_error"),
        ({"event_version": "1"}, "validation_error"),
        ({"event_version": -1}, "validation_error"),
        ({"event_version": True}, "validation_error"),
    ]:
        await phone.send({"type": "seen", **seen})
        error = await phone.until(of_type("error"), timeout=2)
        assert error["code"] == code, (seen, error)

    # A state version it has been sent, now: 1, and no more than 1.
    await set_state(http_a, event, {"question": "q2"})
    await phone.until(of_type("event_state"), timeout=2)
    await phone.send({"type": "seen", "event_version": 1})
    await until_receipts(
        http_a,
        event,
        {"event_version": 2, "seen": 0, "of": 1},
        behind=lambda listed: [b["seen_event_version"] for b in listed] == [1],  # 5 never was
    )
    await phone.close()
