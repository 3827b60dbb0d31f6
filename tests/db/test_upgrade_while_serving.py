"""The previous release keeps serving while `rollcall db upgrade` runs, and beside the new one.

A database at the previous release's head, with a big participants table; the previous
release's `rollcall serve` (its code from git) serving phones that beat on their sockets, a
stream of joins and rejoins, and a host changing participants' states. This release's
`rollcall db upgrade` runs meanwhile, then a process of this release starts beside the old
one and takes half of the joins. Not one write fails, nobody is shown offline, and every row
is as it was written.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import websockets

from rollcall.db import schema
from rollcall.participants.names import normalize_display_name
from rollcall.protocol import ClientMessage, HostMessage, ServerMessage
from tests.factories import HostedEvent, create_event
from tests.pg import PgServer
from tests.previous_release import (
    CURRENT,
    PREVIOUS_HEAD,
    PREVIOUS_RELEASE,
    Release,
    export_release,
    load_legacy_rows,
)
from tests.servers import RollcallServer, rollcall_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

LEGACY_ROWS = 200_000
"""Participants already there, 1,000 an event, so that every step that reads the table
would show."""
PHONES = 40
JOINS_IN_FLIGHT = 4
TIMINGS = {
    "heartbeat_interval_s": 2,
    "presence_timeout_s": 8,
    "heartbeat_flush_s": 1,
    "presence_sweep_s": 1,
}


@pytest.fixture(scope="session")
def previous_release(tmp_path_factory: pytest.TempPathFactory) -> Release:
    return export_release(PREVIOUS_RELEASE, tmp_path_factory.mktemp("previous-release"))


@dataclass
class Writes:
    """What the previous release (and then both) were asked to write, and what failed."""

    joined: dict[str, str] = field(default_factory=dict)  # participant id: display name
    states: dict[str, int] = field(default_factory=dict)  # participant id: last round stored
    failures: list[str] = field(default_factory=list)
    done: int = 0

    def failed(self, what: str) -> None:
        self.failures.append(what)


@dataclass
class Phone:
    token: str
    participant: str
    welcomes: int = 0
    closes: list[int] = field(default_factory=list)

    async def beat(self, server: RollcallServer, stop: asyncio.Event, interval: float) -> None:
        """One socket for the whole run, a heartbeat every interval."""
        try:
            async with websockets.connect(server.ws_url, open_timeout=10) as ws:
                await ws.send(json.dumps({"type": ClientMessage.HELLO, "token": self.token}))
                welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert welcome["type"] == ServerMessage.WELCOME, welcome
                self.welcomes += 1
                while not stop.is_set():
                    await ws.send(json.dumps({"type": ClientMessage.HEARTBEAT}))
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), interval)
        except websockets.ConnectionClosed as closed:
            self.closes.append(closed.rcvd.code if closed.rcvd else 1006)


async def _join(http: httpx.AsyncClient, base: str, code: str, writes: Writes) -> dict[str, Any]:
    name = f"Joiner {uuid.uuid4().hex[:10]}"
    device = str(uuid.uuid4())
    try:
        answer = await http.post(
            f"{base}/api/events/{code}/join", json={"device_id": device, "display_name": name}
        )
    except httpx.HTTPError as error:
        writes.failed(f"join via {base}: {error!r}")
        return {}
    if answer.status_code != 201:
        writes.failed(f"join via {base}: {answer.status_code} {answer.text[:200]}")
        return {}
    body: dict[str, Any] = answer.json()
    writes.joined[body["participant"]["id"]] = name
    writes.done += 1
    if random.random() < 0.3:  # the same phone again: a rejoin
        again = await http.post(
            f"{base}/api/events/{code}/join", json={"device_id": device, "display_name": name}
        )
        if again.status_code != 200:
            writes.failed(f"rejoin via {base}: {again.status_code} {again.text[:200]}")
            return {}
        writes.done += 1
        body = again.json()  # the rejoin revoked the first token
    return body


async def _keep_writing(
    http: httpx.AsyncClient,
    servers: list[RollcallServer],
    event: HostedEvent,
    writes: Writes,
    stop: asyncio.Event,
) -> None:
    """Joins and state changes, round-robin over `servers` (which may grow), until `stop`."""
    n = 0

    async def one() -> None:
        nonlocal n
        mine: list[str] = []  # each writer changes only the states of its own joins, in order
        while not stop.is_set():
            n += 1
            turn = n
            base = servers[turn % len(servers)].base_url
            if turn % 3 and mine:
                target = random.choice(mine)
                try:
                    answer = await http.patch(
                        f"{base}/api/events/{event.code}/participants/{target}",
                        json={"state": {"round": turn}},
                        headers=event.host_headers,
                    )
                except httpx.HTTPError as error:
                    writes.failed(f"state via {base}: {error!r}")
                    continue
                if answer.status_code != 200:
                    writes.failed(f"state via {base}: {answer.status_code} {answer.text[:200]}")
                    continue
                writes.states[target] = turn
                writes.done += 1
            elif body := await _join(http, base, event.code, writes):
                mine.append(body["participant"]["id"])
            await asyncio.sleep(0.02)

    await asyncio.gather(*(one() for _ in range(JOINS_IN_FLIGHT)))


async def test_the_previous_release_writes_through_the_upgrade_and_beside_the_new_one(
    pg: PgServer, tmp_path: Path, previous_release: Release
) -> None:
    with pg.fresh_database() as url:
        previous_release.command("db", "upgrade", database_url=url)
        assert schema.current(url) == PREVIOUS_HEAD
        load_legacy_rows(url, LEGACY_ROWS)
        with rollcall_server(
            url, tmp_path, environment=previous_release.environment, **TIMINGS
        ) as old:
            writes, phones, event = await _drill(url, tmp_path, old)
            old_log = old.log()
        assert "Traceback" not in old_log, old_log[-4000:]
        _check(url, writes, phones, event)


async def _drill(
    url: str, tmp_path: Path, old: RollcallServer
) -> tuple[Writes, list[Phone], HostedEvent]:
    writes = Writes()
    stop_writing, stop_beating = asyncio.Event(), asyncio.Event()
    began = time.monotonic()

    def progress(what: str) -> None:
        print(f"  {time.monotonic() - began:6.1f} s  {what}", flush=True)

    limits = httpx.Limits(max_connections=16, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        async with httpx.AsyncClient(base_url=old.base_url) as api:
            event = await create_event(api, capacity=10_000)
        joined = [await _join(http, old.base_url, event.code, writes) for _ in range(PHONES)]
        phones = [Phone(j["session_token"], j["participant"]["id"]) for j in joined if j]
        beating = [
            asyncio.create_task(p.beat(old, stop_beating, TIMINGS["heartbeat_interval_s"]))
            for p in phones
        ]
        servers = [old]
        writing = asyncio.create_task(_keep_writing(http, servers, event, writes, stop_writing))
        progress(f"{len(phones)} phones beating, writes under way")
        upgrade = CURRENT.start("db", "upgrade", database_url=url)
        output, _ = await asyncio.to_thread(upgrade.communicate, timeout=600)
        assert upgrade.returncode == 0, output
        assert schema.current(url) == schema.head()
        upgraded_at = time.monotonic()
        progress(f"upgraded to head; {writes.done} writes so far")
        with contextlib.ExitStack() as beside:
            # Started in a thread: waiting for it to be healthy must not stop the phones' beats.
            new = await asyncio.to_thread(
                beside.enter_context, rollcall_server(url, tmp_path, **TIMINGS)
            )
            servers.append(new)  # the new release takes every other write from now on
            before = writes.done
            deadline = time.monotonic() + 60
            while writes.done < before + 100:
                assert time.monotonic() < deadline, "writes stopped after the new one started"
                await asyncio.sleep(0.1)
            stop_writing.set()
            await writing
            progress(f"{writes.done} writes; a process of this release beside the old one")
        # Past the presence timeout (and a sweep) since the upgrade: a beat it lost, or a
        # sweep it confused, would show by now.
        await asyncio.sleep(upgraded_at + TIMINGS["presence_timeout_s"] + 2 - time.monotonic())
        # The phones' own sockets closing at the end will say offline; until then, nobody.
        offline = await asyncio.to_thread(_phones_shown_offline, url, phones, event)
        assert offline == 0, "no phone was shown offline (the other joins never beat)"
        stop_beating.set()
        await asyncio.gather(*beating)
    return writes, phones, event


def _phones_shown_offline(url: str, phones: list[Phone], event: HostedEvent) -> int:
    """How often the hosts were told that one of the phones went offline."""
    with psycopg.connect(url) as conn:
        found = conn.execute(
            "SELECT count(*) FROM event_log AS l JOIN events AS e ON e.id = l.event_id"
            " WHERE e.code = %s AND l.message->>'type' = %s"
            " AND l.message->>'presence' = 'offline' AND l.message->>'participant_id' = ANY(%s)",
            (event.code, HostMessage.PRESENCE.value, [phone.participant for phone in phones]),
        ).fetchone()
    assert found is not None
    return int(found[0])


def _check(url: str, writes: Writes, phones: list[Phone], event: HostedEvent) -> None:
    assert writes.failures == [], Counter(f[:120] for f in writes.failures)
    assert all(phone.welcomes == 1 and not phone.closes for phone in phones)
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT p.id::text, p.display_name, p.name_key, p.status, p.state"
            " FROM event_participants AS p JOIN events AS e ON e.id = p.event_id"
            " WHERE e.code = %s",
            (event.code,),
        ).fetchall()
        seats = conn.execute(
            "SELECT seats_taken FROM events WHERE code = %s", (event.code,)
        ).fetchone()
        legacy = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE name_key = lower(display_name))"
            " FROM event_participants AS p JOIN events AS e ON e.id = p.event_id"
            " WHERE e.title LIKE 'Legacy %'"
        ).fetchone()
    found = {row[0]: row for row in rows}
    assert set(found) == set(writes.joined), "every join is there, and nothing else"
    for participant, name in writes.joined.items():
        _, stored_name, key, status, _ = found[participant]
        assert (stored_name, key, status) == (name, normalize_display_name(name)[1], "active")
    for participant, round_ in writes.states.items():
        assert found[participant][4] == {"round": round_}
    assert seats == (len(writes.joined),)
    assert legacy == (LEGACY_ROWS, LEGACY_ROWS)
