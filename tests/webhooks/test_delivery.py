"""Webhook delivery against real servers and real receivers: order, outages, restarts, failovers."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from rollcall.protocol import HostMessage
from tests.factories import HostedEvent, bearer, create_event, join
from tests.realtime.client import Socket, of_type
from tests.servers import RollcallServer, rollcall_server
from tests.webhooks.conftest import FAST_WEBHOOKS, event_log_of
from tests.webhooks.receiver import Received, Receiver, first_of_each

DOWN_FOR_S = 20.0


async def put_webhook(http: httpx.AsyncClient, event: HostedEvent, url: str) -> str:
    response = await http.put(
        f"/api/events/{event.code}/webhook", json={"url": url}, headers=event.host_headers
    )
    assert response.status_code == 201, response.text
    secret: str = response.json()["secret"]
    return secret


async def busy_event(server: RollcallServer, http: httpx.AsyncClient, event: HostedEvent) -> None:
    """Joins, presence (online, away, back, offline), state, kicks, a leave and a lock."""
    joined = [(await join(http, event.code, name=f"Player {i}")).json() for i in range(20)]
    for phone in joined[:3]:
        socket = await Socket.open(
            server.ws_url, {"type": "hello", "token": phone["session_token"]}
        )
        await socket.until(of_type("welcome"))
        await socket.send({"type": "away"})
        await socket.send({"type": "back"})
        await socket.send({"type": "heartbeat"})
        await socket.until(of_type("ack"))
        await socket.close()
    for i, phone in enumerate(joined[3:8]):
        pid = phone["participant"]["id"]
        response = await http.patch(
            f"/api/events/{event.code}/participants/{pid}",
            json={"state": {"score": i}},
            headers=event.host_headers,
        )
        assert response.status_code == 200, response.text
    for phone in joined[8:10]:
        pid = phone["participant"]["id"]
        response = await http.post(
            f"/api/events/{event.code}/participants/{pid}/kick", headers=event.host_headers
        )
        assert response.status_code == 200, response.text
    left = await http.delete("/api/session", headers=bearer(joined[10]["session_token"]))
    assert left.status_code == 204
    locked = await http.patch(
        f"/api/events/{event.code}", json={"status": "locked"}, headers=event.host_headers
    )
    assert locked.status_code == 200


def assert_in_order_and_signed(
    received: list[Received], *, secret: str, code: str, log: dict[int, dict[str, Any]]
) -> list[int]:
    """Every request verifies, carries the stored message, and first deliveries run 1, 2, 3…"""
    by_id: dict[str, list[Received]] = defaultdict(list)
    for request in received:
        payload = request.verify(secret)
        seq = payload["message"]["seq"]
        assert payload == {"event": code, "message": log[seq]}
        assert request.webhook_id.endswith(f":{seq}")
        by_id[request.webhook_id].append(request)
    for copies in by_id.values():  # a duplicate is the same message under the same id
        assert len({copy.body for copy in copies}) == 1
    seqs = [request.payload()["message"]["seq"] for request in first_of_each(received)]
    assert seqs == list(range(1, len(seqs) + 1)), f"not in seq order: {seqs}"
    return seqs


def everything_in(log: dict[int, dict[str, Any]]) -> Callable[[list[Received]], bool]:
    wanted = set(log)
    return lambda got: wanted <= {request.payload()["message"]["seq"] for request in got}


@pytest.mark.slow
async def test_a_receiver_down_for_20_s_then_up_gets_every_message_in_order(
    webhook_db: str, logs: Path, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers("ok")
    with rollcall_server(webhook_db, logs, **FAST_WEBHOOKS) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            event = await create_event(http)
            secret = await put_webhook(http, event, receiver.url)
            await join(http, event.code, name="Early")
            await receiver.until(lambda got: len(got) == 1, timeout=10, what="the first join")

            receiver.stop()
            down_at = time.monotonic()
            await busy_event(server, http, event)
            path = f"/api/events/{event.code}/webhook/deliveries"
            deliveries = (await http.get(path, headers=event.host_headers)).json()
            while deliveries["state"] != "retrying":
                assert time.monotonic() - down_at < 10, deliveries
                await asyncio.sleep(0.1)
                deliveries = (await http.get(path, headers=event.host_headers)).json()
            assert deliveries["delivered_seq"] == 1
            assert "could not reach the receiver" in deliveries["last_error"]
            assert deliveries["attempts"][0]["status"] is None
            await asyncio.sleep(DOWN_FOR_S - (time.monotonic() - down_at))  # the outage itself
            assert len(receiver.snapshot()) == 1

            receiver.start()
            log = await event_log_of(webhook_db, event.code)
            received = await receiver.until(everything_in(log), timeout=15, what="every message")
            deliveries = (await http.get(path, headers=event.host_headers)).json()
        server_log = server.log()

    seqs = assert_in_order_and_signed(received, secret=secret, code=event.code, log=log)
    assert set(log) <= set(seqs)
    kinds = {log[seq]["type"] for seq in log}
    assert {
        HostMessage.JOINED,
        HostMessage.PRESENCE,
        HostMessage.STATE,
        HostMessage.KICKED,
        HostMessage.LEFT,
        HostMessage.EVENT_UPDATED,
    } <= kinds
    presences = {
        log[seq].get("presence") for seq in log if log[seq]["type"] == HostMessage.PRESENCE
    }
    assert {"away", "online", "offline"} <= presences
    assert deliveries["failed_attempts"] == 0 and deliveries["last_error"] is None
    assert secret not in server_log and secret.removeprefix("whsec_") not in server_log


async def test_two_processes_deliver_each_message_once(
    webhook_db: str, logs: Path, receivers: Callable[..., Receiver], global_secret: str
) -> None:
    receiver = receivers("ok")
    settings = {**FAST_WEBHOOKS, "webhook_url": receiver.url, "webhook_secret": global_secret}
    with (
        rollcall_server(webhook_db, logs, **settings) as a,
        rollcall_server(webhook_db, logs, **settings) as b,
    ):
        async with (
            httpx.AsyncClient(base_url=a.base_url, timeout=10) as http_a,
            httpx.AsyncClient(base_url=b.base_url, timeout=10) as http_b,
        ):
            events = [await create_event(http_a), await create_event(http_b)]
            for i in range(30):
                for event in events:
                    await join((http_a, http_b)[i % 2], event.code, name=f"P{i}")
            logs_by_code = {e.code: await event_log_of(webhook_db, e.code) for e in events}
            wanted = {(code, seq) for code, log in logs_by_code.items() for seq in log}

            def all_in(got: list[Received]) -> bool:
                return wanted <= {
                    (r.payload()["event"], r.payload()["message"]["seq"]) for r in got
                }

            received = await receiver.until(all_in, timeout=20, what="both events' messages")
            # Presence messages keep coming (nobody beats): let those settle, then count.
            await asyncio.sleep(1)
            received = receiver.snapshot()

    ids = [request.webhook_id for request in received]
    assert len(ids) == len(set(ids)), "a message was delivered twice"
    for event in events:
        mine = [r for r in received if r.payload()["event"] == event.code]
        log = await event_log_of(webhook_db, event.code)
        assert_in_order_and_signed(mine, secret=global_secret, code=event.code, log=log)


@pytest.mark.parametrize("stop", ["crash", "graceful"])
async def test_a_restart_during_delivery_loses_nothing(
    stop: str,
    webhook_db: str,
    logs: Path,
    receivers: Callable[..., Receiver],
    global_secret: str,
) -> None:
    receiver = receivers("slow", delay_s=0.03)
    settings = {
        **FAST_WEBHOOKS,
        "presence_timeout_s": 600,  # the log holds exactly the joins
        "webhook_url": receiver.url,
        "webhook_secret": global_secret,
    }
    with rollcall_server(webhook_db, logs, **settings) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            event = await create_event(http)
            for first in range(0, 150, 10):
                await asyncio.gather(
                    *(join(http, event.code, name=f"P{i}") for i in range(first, first + 10))
                )
        await receiver.until(lambda got: len(got) >= 20, timeout=20, what="delivery under way")
        if stop == "crash":
            server.process.kill()
            server.process.wait()
        else:
            server.stop()
        at_stop = len(first_of_each(receiver.snapshot()))
    assert at_stop < 150, "delivery was over before the restart; the test proves nothing"

    log = await event_log_of(webhook_db, event.code)
    assert len(log) == 150
    with rollcall_server(webhook_db, logs, **settings):
        received = await receiver.until(everything_in(log), timeout=30, what="every message")
    assert_in_order_and_signed(received, secret=global_secret, code=event.code, log=log)
    duplicates = len(received) - len(first_of_each(received))
    if stop == "graceful":
        assert duplicates <= 1, "a graceful stop stores how far delivery got"


async def test_event_state_and_actions_reach_the_webhook_in_seq_order(
    webhook_db: str, logs: Path, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers("ok")
    with rollcall_server(webhook_db, logs, **FAST_WEBHOOKS) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            event = await create_event(http)
            secret = await put_webhook(http, event, receiver.url)
            token = (await join(http, event.code, name="Ana")).json()["session_token"]
            changed = await http.patch(
                f"/api/events/{event.code}/state",
                json={"question": "q1"},
                headers=event.host_headers,
            )
            assert changed.status_code == 200
            for _ in range(2):  # a double tap: one action
                await http.post(
                    "/api/session/actions",
                    json={"id": "q1", "name": "answer", "data": "B"},
                    headers=bearer(token),
                )
            log = await event_log_of(webhook_db, event.code)
            received = await receiver.until(everything_in(log), timeout=10, what="every message")

    assert_in_order_and_signed(received, secret=secret, code=event.code, log=log)
    messages = [request.payload()["message"] for request in first_of_each(received)]
    messages = [m for m in messages if m["type"] != HostMessage.PRESENCE]  # Ana goes offline
    assert [m["type"] for m in messages] == [
        HostMessage.JOINED,
        HostMessage.EVENT_STATE,
        HostMessage.ACTION,
    ]
    assert (messages[1]["state"], messages[1]["version"]) == ({"question": "q1"}, 1)
    assert (messages[2]["id"], messages[2]["name"], messages[2]["data"]) == ("q1", "answer", "B")
