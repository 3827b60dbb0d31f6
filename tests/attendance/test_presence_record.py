"""The roll call's figures against what a phone did, on a real server with short timings.

The server beats every 0.5 s and calls a phone offline after 2 s of silence, sweeping every
0.2 s (tests/realtime/conftest.py): the figures must match what happened within one heartbeat
interval plus a sweep.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from tests.factories import HostedEvent, create_event, join
from tests.polling import eventually
from tests.realtime.client import Socket, host_socket, of_type, participant_socket
from tests.servers import FAST, RollcallServer

TOLERANCE_S = FAST["heartbeat_interval_s"] + FAST["presence_sweep_s"]


async def roll(http: httpx.AsyncClient, event: HostedEvent) -> dict[str, Any]:
    answer = await http.get(f"/api/events/{event.code}/attendance", headers=event.host_headers)
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


async def beat_for(phone: Socket, seconds: float) -> float:
    """Beat at the phone's rhythm for about `seconds`; returns when the last beat was sent."""
    last = time.monotonic()
    stop = last + seconds
    while True:
        await phone.send({"type": "heartbeat"})
        last = time.monotonic()
        await phone.until(of_type("ack"))
        if last + FAST["heartbeat_interval_s"] > stop:
            return last
        await asyncio.sleep(FAST["heartbeat_interval_s"])  # the phone's own rhythm


async def test_a_phone_that_went_silent_and_came_back_is_one_row_with_what_happened(
    server_a: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    event = await create_event(http_a)
    host = await host_socket(server_a, event.code, event.host_token)
    joined_at = time.monotonic()
    joined = (await join(http_a, event.code, name="Commuter")).json()
    token, pid = joined["session_token"], joined["participant"]["id"]

    phone, _ = await participant_socket(server_a, token)
    silent_from = await beat_for(phone, 1.5)
    await phone.close()  # the train enters a tunnel: no more beats
    offline = await host.until(
        lambda m: m.get("type") == "participant.presence" and m["presence"] == "offline",
        timeout=FAST["presence_timeout_s"] + 2,
    )
    assert offline["participant_id"] == pid

    back_at = time.monotonic()
    phone, _ = await participant_socket(server_a, token)
    await host.until(
        lambda m: m.get("type") == "participant.presence" and m["presence"] == "online"
    )
    await beat_for(phone, 1.0)
    asked_at = time.monotonic()
    data = await roll(http_a, event)
    answered_at = time.monotonic()
    await phone.close()
    await host.close()

    [row] = data["participants"]
    assert row["id"] == pid and row["status"] == "active"
    online = (silent_from - joined_at) + (asked_at - back_at)
    offline_s = back_at - silent_from
    slack = answered_at - asked_at  # the request's own time
    assert row["online_s"] == pytest.approx(online, abs=TOLERANCE_S + slack), row
    assert row["offline_s"] == pytest.approx(offline_s, abs=TOLERANCE_S + slack), row
    assert row["away_s"] == 0
    assert row["connections"] == 2, "two sockets opened"
    assert row["reclaims"] == 0 and row["left_at"] is None


async def test_a_hidden_page_counts_as_away_until_it_is_shown(
    server_a: RollcallServer, http_a: httpx.AsyncClient
) -> None:
    event = await create_event(http_a)
    joined_at = time.monotonic()
    joined = (await join(http_a, event.code, name="Scroller")).json()
    phone, _ = await participant_socket(server_a, joined["session_token"])
    await beat_for(phone, 1.2)
    away_at = time.monotonic()
    await phone.send({"type": "away"})
    await beat_for(phone, 2.5)  # past the presence timeout: beats keep it away, not offline
    back_at = time.monotonic()
    await phone.send({"type": "back"})
    await beat_for(phone, 0.6)
    asked_at = time.monotonic()
    [row] = (await roll(http_a, event))["participants"]
    slack = time.monotonic() - asked_at
    await phone.close()

    assert row["away_s"] == pytest.approx(back_at - away_at, abs=TOLERANCE_S + slack), row
    online = (away_at - joined_at) + (asked_at - back_at)
    assert row["online_s"] == pytest.approx(online, abs=TOLERANCE_S + slack), row
    assert row["offline_s"] == 0 and row["connections"] == 1


def run_report(database_url: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "rollcall.cli", "event", "report", *args],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("ROLLCALL_")},
            "DATABASE_URL": database_url,
            **{f"ROLLCALL_{name.upper()}": str(value) for name, value in FAST.items()},
        },
        capture_output=True,
        timeout=120,
        check=False,
    )


def report(database_url: str, code: str, fmt: str) -> str:
    done = run_report(database_url, code, "--format", fmt)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode("utf-8")  # as printed: CRLF kept


async def test_rollcall_event_report_agrees_with_the_api(
    server_a: RollcallServer, http_a: httpx.AsyncClient, module_db: str
) -> None:
    event = await create_event(http_a)
    for name in ("Ana", "=1+2", "Bo, the second"):
        assert (await join(http_a, event.code, name=name)).status_code == 201
    kicked = (await join(http_a, event.code, name="Cy")).json()["participant"]["id"]
    await http_a.post(
        f"/api/events/{event.code}/participants/{kicked}/kick", headers=event.host_headers
    )
    closed = await http_a.patch(
        f"/api/events/{event.code}", json={"status": "closed"}, headers=event.host_headers
    )
    assert closed.status_code == 200

    # The event's counts come from presence now: wait until every phone's silence has passed
    # the timeout, so that both readings see the same counts.
    async def nobody_online() -> bool:
        counts = (await http_a.get(f"/api/events/{event.code}")).json()["counts"]
        return counts["online"] == 0

    await eventually(
        nobody_online, timeout=FAST["presence_timeout_s"] + 10, what="no one online any more"
    )

    api = await roll(http_a, event)
    printed = json.loads(report(module_db, event.code, "json"))
    assert printed["generated_at"] >= api["generated_at"]
    assert {**printed, "generated_at": None} == {**api, "generated_at": None}
    assert len(printed["participants"]) == 4

    api_csv = await http_a.get(
        f"/api/events/{event.code}/attendance?format=csv", headers=event.host_headers
    )
    assert report(module_db, event.code, "csv") == api_csv.text


def test_rollcall_event_report_says_what_is_wrong(module_db: str) -> None:
    unknown = run_report(module_db, "ZZZZZZ")
    assert unknown.returncode == 1
    assert unknown.stderr.decode().strip() == "rollcall: no event has the code 'ZZZZZZ'"
    wrong = run_report(module_db, "ZZZZZZ", "--format", "xlsx")
    assert wrong.returncode == 2 and b"invalid choice: 'xlsx'" in wrong.stderr
