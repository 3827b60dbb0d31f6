"""`python -m bench migrate --writer previous [--rows N]`: the upgrade under the previous release.

N participants (1,000 an event) at the previous release's schema head; the previous release's
own `rollcall serve` (its code from git, tests/previous_release.py) serving phones that beat on
their sockets, and a writer sending it joins, rejoins and state changes at a steady rate. Then
`rollcall db upgrade head` of this release, as an operator runs it; then a `rollcall serve` of
this release starts beside the old one and takes every other write. Reports, per revision, the
writes, their latency and their errors, and at the end whether every write is in the table.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import websockets
from tests.previous_release import (
    PREVIOUS_HEAD,
    PREVIOUS_RELEASE,
    Release,
    export_release,
    load_legacy_rows,
)
from tests.servers import RollcallServer, rollcall_server

from bench.cluster import Database
from bench.harness import percentile
from bench.migrate import SERVER, Command, rollcall_db, say
from rollcall.protocol import ClientMessage

WRITES_PER_S = 25.0
PHONES = 100
BESIDE_S = 10.0
"""How long the two releases serve side by side after the upgrade."""
HEARTBEAT_INTERVAL_S = 2
PRESENCE_TIMEOUT_S = 8


@dataclass
class Write:
    kind: str
    at: float
    seconds: float
    error: str | None = None


class PreviousWriter:
    """Joins (a third of them rejoined at once), then state changes of what it joined."""

    def __init__(self, servers: list[RollcallServer], code: str, host_token: str) -> None:
        self.servers = servers
        self.code = code
        self.headers = {"Authorization": f"Bearer {host_token}"}
        self.writes: list[Write] = []
        self.joined: dict[str, str] = {}
        self.states: dict[str, int] = {}
        self._n = 0

    async def run(self, http: httpx.AsyncClient, stop: asyncio.Event) -> None:
        pending: set[asyncio.Task[None]] = set()
        due = time.monotonic()
        while not stop.is_set():
            self._n += 1
            task = asyncio.create_task(self._one(http, self._n))
            pending.add(task)
            task.add_done_callback(pending.discard)
            due += 1 / WRITES_PER_S
            await asyncio.sleep(max(0.0, due - time.monotonic()))
        await asyncio.gather(*pending)

    async def _one(self, http: httpx.AsyncClient, n: int) -> None:
        base = self.servers[n % len(self.servers)].base_url
        began = time.monotonic()
        changeable = [p for p in self.joined if p not in self.states or self.states[p] < n]
        if n % 2 and changeable:
            target = random.choice(changeable)
            kind, ok = "state", 200
            request = http.patch(
                f"{base}/api/events/{self.code}/participants/{target}",
                json={"state": {"n": n}},
                headers=self.headers,
            )
        else:
            target, kind, ok = f"Writer {uuid.uuid4().hex[:10]}", "join", 201
            request = http.post(
                f"{base}/api/events/{self.code}/join",
                json={"device_id": str(uuid.uuid4()), "display_name": target},
            )
        error = None
        try:
            answer = await request
            if answer.status_code != ok:
                error = f"{kind} {answer.status_code}: {answer.text[:160]}"
            elif kind == "join":
                self.joined[answer.json()["participant"]["id"]] = target
            else:
                self.states[target] = max(n, self.states.get(target, 0))
        except httpx.HTTPError as exc:
            error = f"{kind}: {exc!r}"
        self.writes.append(Write(kind, began, time.monotonic() - began, error))


async def _beat(server: RollcallServer, token: str, stop: asyncio.Event, closes: list[int]) -> None:
    try:
        async with websockets.connect(server.ws_url, open_timeout=30) as ws:
            await ws.send(json.dumps({"type": ClientMessage.HELLO, "token": token}))
            await ws.recv()
            while not stop.is_set():
                await ws.send(json.dumps({"type": ClientMessage.HEARTBEAT}))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), HEARTBEAT_INTERVAL_S)
    except websockets.ConnectionClosed as closed:
        closes.append(closed.rcvd.code if closed.rcvd else 1006)


async def run(rows: int) -> int:
    """The whole scenario; prints its figures. Exit status 1 when a write failed or is missing."""
    server = os.environ.get("DATABASE_URL", SERVER)
    say(f"== migrate, the previous release ({PREVIOUS_RELEASE[:10]}) writing: {rows:,} rows")
    workdir = Path(tempfile.mkdtemp(prefix="rollcall-bench-previous-"))
    previous = export_release(PREVIOUS_RELEASE, workdir)
    database = Database(server)
    try:
        url = database.url
        await asyncio.to_thread(previous.command, "db", "upgrade", database_url=url)
        began = time.monotonic()
        await asyncio.to_thread(load_legacy_rows, url, rows)
        say(f"loaded {rows:,} rows at {PREVIOUS_HEAD} in {time.monotonic() - began:.0f} s")
        return await _under_the_previous_release(url, previous, workdir)
    finally:
        database.close()


async def _under_the_previous_release(url: str, previous: Release, workdir: Path) -> int:
    stop_writing, stop_beating = asyncio.Event(), asyncio.Event()
    closes: list[int] = []
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=0)
    with rollcall_server(
        url,
        workdir,
        environment=previous.environment,
        heartbeat_interval_s=HEARTBEAT_INTERVAL_S,
        presence_timeout_s=PRESENCE_TIMEOUT_S,
    ) as old:
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:
            created = await http.post(f"{old.base_url}/api/events", json={"title": "Upgrade"})
            body = created.json()
            writer = PreviousWriter([old], body["event"]["code"], body["host_token"])
            tokens = []
            for i in range(PHONES):
                joined = await http.post(
                    f"{old.base_url}/api/events/{writer.code}/join",
                    json={"device_id": str(uuid.uuid4()), "display_name": f"Phone {i}"},
                )
                tokens.append(joined.json()["session_token"])
            beating = [asyncio.create_task(_beat(old, t, stop_beating, closes)) for t in tokens]
            writing = asyncio.create_task(writer.run(http, stop_writing))
            await asyncio.sleep(3)  # the writer's pace before the upgrade, for comparison
            command = await rollcall_db(url, "upgrade", "head", rows=0)
            beside_from = time.monotonic()
            with contextlib.ExitStack() as beside:
                # Started in a thread: its wait for /healthz must not hold up the phones' beats.
                new = await asyncio.to_thread(
                    beside.enter_context,
                    rollcall_server(
                        url,
                        workdir,
                        heartbeat_interval_s=HEARTBEAT_INTERVAL_S,
                        presence_timeout_s=PRESENCE_TIMEOUT_S,
                    ),
                )
                writer.servers.append(new)
                await asyncio.sleep(BESIDE_S)
                stop_writing.set()
                await writing
            beside_to = time.monotonic()
            stop_beating.set()
            await asyncio.gather(*beating)
    missing = await asyncio.to_thread(_missing, url, writer)
    failed = _report(command, writer, (beside_from, beside_to), closes, missing)
    return 1 if failed or missing or command.exit_code else 0


def _missing(url: str, writer: PreviousWriter) -> int:
    """Writes acknowledged but not in the table as acknowledged."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT id::text, display_name, state FROM event_participants"
            " WHERE id = ANY(%s::uuid[])",
            (list(writer.joined),),
        ).fetchall()
    found = {row[0]: row for row in rows}
    wrong = sum(1 for p, name in writer.joined.items() if p not in found or found[p][1] != name)
    wrong += sum(1 for p, n in writer.states.items() if found.get(p, (0, 0, {}))[2] != {"n": n})
    return wrong


def _report(
    command: Command,
    writer: PreviousWriter,
    beside: tuple[float, float],
    closes: list[int],
    missing: int,
) -> int:
    say("")
    say(f"rollcall db upgrade head: {command.seconds:.1f} s (exit {command.exit_code})")
    say(f"{'while':44} {'writes':>7} {'errors':>7}  {'p50 / p99 / max':>22}")
    spans = [(f"revision {p.step}", p.started, p.ended) for p in command.phases]
    spans.append(("both releases serving", *beside))
    for label, start, end in spans:
        ops = [w for w in writer.writes if start <= w.at < end]
        times = [w.seconds * 1000 for w in ops]
        shown = (
            f"{percentile(times, 50) or 0:,.0f} / {percentile(times, 99) or 0:,.0f}"
            f" / {max(times, default=0):,.0f} ms"
        )
        say(f"{label:44} {len(ops):7,} {sum(1 for w in ops if w.error):7}  {shown:>22}")
    errors = [w.error for w in writer.writes if w.error]
    say(
        f"writes in all: {len(writer.writes):,}, failed: {len(errors)}, missing or wrong: {missing}"
    )
    for error in sorted(set(errors))[:5]:
        say(f"  error: {error}")
    say(f"phones' sockets closed by a server before the end: {len(closes)} {sorted(set(closes))}")
    return len(errors) + len(closes)
