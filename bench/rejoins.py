"""Rejoin storm: the server restarts under 2,000 connected phones, and they all come back.

2,000 phones join one event and keep their sockets, beating. The host gives each a state of
its own (a JSON merge patch through the API, so each has a version > 0). Then every rollcall
process gets SIGTERM, as a deploy would, and is started again on the same port. The phones
reconnect by themselves with their session tokens, with the join page's own retry rule
(live.js, as bench/phones.py follows it). The figures: how long until every
phone has a welcome again, counted from the moment the restarted server answers /healthz and
from the SIGTERM; whether anyone came back as a different participant or a second one
(duplicates); and whether each came back with the state and version it had.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx

from bench.cluster import Servers
from bench.harness import Harness, NewEvent, create_event, percentile
from bench.heartbeats import RosterEntry, roster_of
from bench.phones import Phone, PhoneSummary, arrive_all
from bench.workers import Channel, Job, Workers

PHONES = 2_000
TARGET_S = 3.0


@dataclass(frozen=True, kw_only=True)
class StormJob(Job):
    code: str
    phones: int
    wait_s: float  # how long the phones have to come back after the restart


@dataclass(frozen=True)
class Connected:
    """A worker's phones are in: their participant ids, and the errors retried on the way."""

    ids: list[str]
    failures: dict[str, int]


@dataclass(frozen=True)
class PhoneBack:
    """One phone after the restart: when its first new welcome came, and what it said."""

    back_at: float | None  # wall clock; None: not back
    welcomes: int
    id: str | None
    state: Any
    version: int | None


@dataclass(frozen=True)
class Back:
    """A worker's phones after the restart, by participant id, and what they saw."""

    phones: dict[str, PhoneBack]
    stats: PhoneSummary


@dataclass(frozen=True)
class Kept:
    """A participant's state and version, as the host set them."""

    state: Any
    version: int


async def storm_job(job: StormJob, channel: Channel) -> int:
    """Connect the phones, then wait for them to come back after the restart.

    Returns how many phones it closed at the end.
    """
    crowd = await arrive_all(
        channel,
        ports=job.ports,
        code=job.code,
        count=job.phones,
        name_prefix=f"r{job.worker}",
        concurrency=50,
        limit_s=120,
        beat_s=10.0,
        reconnect=True,
    )
    phones: dict[str, Phone] = dict(crowd.arrived)
    channel.send("connected", Connected(ids=list(phones), failures=dict(crowd.failures)))
    restart_at = await channel.expect("restarting", float, limit_s=120)
    channel.done = 0
    deadline = time.time() + job.wait_s
    while time.time() < deadline:
        back = [p for p in phones.values() if p.welcomed_at and p.welcomed_at[-1] > restart_at]
        channel.done = len(back)
        if len(back) == len(phones):
            break
        await asyncio.sleep(0.05)
    report = {pid: _phone_back(phone, restart_at) for pid, phone in phones.items()}
    channel.send("back", Back(phones=report, stats=crowd.stats.summary(with_acks=False)))
    await channel.receive(limit_s=120)  # "close", or the bench is gone
    crowd.close()
    return len(phones)


def _phone_back(phone: Phone, restart_at: float) -> PhoneBack:
    participant = (phone.welcome or {}).get("participant", {})
    return PhoneBack(
        back_at=next((t for t in phone.welcomed_at if t > restart_at), None),
        welcomes=len(phone.welcomed_at),
        id=participant.get("id"),
        state=participant.get("state"),
        version=participant.get("version"),
    )


async def _set_states(base: str, code: str, host_token: str, ids: list[str]) -> dict[str, Kept]:
    """Give each participant a state of its own; returns what the API answered for each."""
    expected: dict[str, Kept] = {}
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        semaphore = asyncio.Semaphore(20)

        async def patch(index: int, pid: str) -> None:
            async with semaphore:
                answer = await client.patch(
                    f"/api/events/{code}/participants/{pid}",
                    json={"state": {"score": index, "team": "blue" if index % 2 else "red"}},
                    headers={"Authorization": f"Bearer {host_token}"},
                )
                answer.raise_for_status()
                participant = answer.json()
                expected[pid] = Kept(state=participant["state"], version=participant["version"])

        await asyncio.gather(*(patch(i, pid) for i, pid in enumerate(ids)))
    return expected


@dataclass(frozen=True)
class Storm:
    """What the storm measured: the clock of the restart, each phone's return, the roster."""

    ids: list[str]
    expected: dict[str, Kept]
    restart_at: float  # SIGTERM sent (wall clock)
    stopped_at: float  # every process exited
    ready_at: float  # every restarted process answers /healthz
    back: list[Back]
    roster: list[RosterEntry]


async def run(h: Harness) -> None:
    processes = h.processes or 2
    phones = 500 if h.quick else PHONES
    print(f"== rejoins: {processes} rollcall process(es) restart under {phones:,} connected phones")
    h.forget_participants()
    with h.servers(processes) as servers:
        event = create_event(servers.url(), "rejoin storm", capacity=phones)
        storm = await _storm(servers, event, phones=phones)
    _report(h, processes, storm)


async def _storm(servers: Servers, event: NewEvent, *, phones: int) -> Storm:
    """Connect the phones, give each a state, restart the servers, wait for the phones."""
    workers = 2
    jobs = [
        StormJob(ports=servers.ports, code=event.code, phones=phones // workers, wait_s=60)
        for _ in range(workers)
    ]
    async with Workers(storm_job, jobs, label="rejoins") as pool:
        connected = await pool.gather("connected", Connected, limit_s=180)
        ids = [pid for c in connected for pid in c.ids]
        expected = await _set_states(servers.url(), event.code, event.host_token, ids)
        await asyncio.sleep(1)  # the phones get their `state` messages
        print(f"   {len(ids):,} phones connected with a state each; restarting", flush=True)
        restart_at, stopped_at, ready_at = await _restart(pool, servers)
        began = time.monotonic()
        back = await pool.gather(
            "back",
            Back,
            limit_s=90,
            progress=lambda n: f"{time.monotonic() - began:.0f} s: {n:,} phones back",
        )
        roster = await roster_of(servers.url(), event.code, event.host_token)
        pool.broadcast("close")
        await pool.gather("result", int, limit_s=60)
    return Storm(
        ids=ids,
        expected=expected,
        restart_at=restart_at,
        stopped_at=stopped_at,
        ready_at=ready_at,
        back=back,
        roster=roster,
    )


async def _restart(pool: Workers[StormJob], servers: Servers) -> tuple[float, float, float]:
    """SIGTERM every server and start it again; returns when: sent, all stopped, all ready."""
    restart_at = time.time()
    pool.broadcast("restarting", restart_at)
    await asyncio.to_thread(servers.stop)
    stopped_at = time.time()
    await asyncio.to_thread(servers.start)
    ready_at = time.time()
    return restart_at, stopped_at, ready_at


def _report(h: Harness, processes: int, storm: Storm) -> None:
    ids, expected, roster = storm.ids, storm.expected, storm.roster
    ready_at, restart_at = storm.ready_at, storm.restart_at
    reports = {pid: r for b in storm.back for pid, r in b.phones.items()}
    returned = [r.back_at for r in reports.values() if r.back_at is not None]
    missing = len(reports) - len(returned)
    last = max(returned) if returned else None
    from_ready = (last - ready_at) if last is not None else None
    from_stop = (last - restart_at) if last is not None else None
    wrong_identity = sum(1 for pid, r in reports.items() if r.id != pid)
    roster_ids = [p["id"] for p in roster]
    duplicates = len(roster_ids) - len(set(roster_ids)) + len(set(roster_ids) - set(ids))
    lost = sum(
        1
        for pid, r in reports.items()
        if r.state != expected[pid].state or r.version != expected[pid].version
    )
    roster_lost = sum(
        1
        for p in roster
        if p["id"] in expected
        and (p["state"] != expected[p["id"]].state or p["version"] != expected[p["id"]].version)
    )
    presence = Counter(p["presence"] for p in roster)
    closes: Counter[int] = Counter()
    for b in storm.back:
        closes.update(b.stats.closes)
    delays = sorted(t - ready_at for t in returned)
    h.details["rejoins"] = {
        "processes": processes,
        "phones": len(ids),
        "down_s": ready_at - restart_at,
        "stop_s": storm.stopped_at - restart_at,
        "from_ready_s": from_ready,
        "from_stop_s": from_stop,
        "p50_from_ready_s": percentile(delays, 50),
        "closes": dict(closes),
        "failed_connects": sum(b.stats.failed_connects for b in storm.back),
        "roster_presence": dict(presence),
    }
    h.figure(
        "rejoins",
        "all phones back after the restart",
        from_ready,
        "s",
        f"<= {TARGET_S:.0f}",
        from_ready is not None and missing == 0 and from_ready <= TARGET_S,
        f"counted from the restarted server's first /healthz; {from_stop or 0:.1f} s from SIGTERM"
        f" (server down {ready_at - restart_at:.1f} s); {missing} not back;"
        f" p50 {percentile(delays, 50) or 0:.2f} s",
    )
    h.figure(
        "rejoins",
        "duplicate or wrong participants",
        duplicates + wrong_identity,
        "",
        "0",
        duplicates + wrong_identity == 0,
        f"roster {len(roster_ids):,} for {len(ids):,} phones; presence {dict(presence)}",
    )
    h.figure(
        "rejoins",
        "participants whose state was lost",
        lost + roster_lost,
        "",
        "0",
        lost + roster_lost == 0,
        "state and version, in each welcome and in the roster",
    )
