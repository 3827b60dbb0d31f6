"""Heartbeat soak: 50,000 phones in one event, their WebSockets beating every 10 s, for 60 s.

The phones join one event over HTTP, open their sockets, and beat at the heartbeat interval
from a random phase (as phones do, not all at once). Once all are open, the 60-second window
starts. The rollcall processes are as many as the machine has cores, or more when one
process's open-file limit (the hard limit, which the bench cannot raise) cannot hold its share
of the sockets; the load generators likewise, each connecting from its own loopback address
(127.0.0.2, .3, …), so that no source address runs out of ephemeral ports or reaches the
servers' per-address socket cap. In it the bench measures the rollcall process's CPU and RSS and PostgreSQL's CPU, counts
the UPDATE statements on event_participants with a statement-level trigger (below), and
watches presence as a host does: over a host /ws connection (any `participant.presence`
offline is a participant wrongly shown offline, since every phone is beating) and with the
roster at the end.

Counting statements: the embedded PostgreSQL has no pg_stat_statements, so for the window the
bench adds an AFTER UPDATE … FOR EACH STATEMENT trigger that notes current_query() of every
UPDATE statement on event_participants in an unlogged table, and drops it afterwards. It fires
once per statement whatever the rows, so it counts statements, not rows; rows come from
pg_stat_user_tables (n_tup_upd).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, TypedDict

import httpx
import psycopg

from bench import plots
from bench.cluster import (
    BEFORE,
    Sampler,
    Servers,
    on_tree_schema,
    raise_open_file_limit,
)
from bench.harness import Harness, NewEvent, create_event, percentile, usage_note
from bench.phones import PhoneSummary, arrive_all
from bench.wire import Wire, open_websocket, use_source_address
from bench.workers import Channel, Job, Workers
from rollcall.protocol import ClientMessage, HostMessage, Role, ServerMessage

PHONES = 50_000
SOAK_S = 60.0
BEAT_S = 10.0
PER = 10_000  # CPU and memory are given per this many sockets
TARGET_CPU = 0.5  # cores per PER sockets
TARGET_UPDATES = 2.0  # heartbeat statements a second, per rollcall process
TARGET_RSS_MB = 500  # per PER sockets
SOCKETS_PER_PROCESS = 10_000
"""Measured: above about 12,000 sockets a process spends most of its CPU in the garbage
collector (docs/benchmarks.md, "50,000 phones in one event"); 10,000 each held well."""
SPARE_FILES = 1_000  # a process's files besides its sockets: pool, listener, logs, libraries
IN_FLIGHT = 200  # phones arriving at once, over all load generators

COUNT_UPDATES = """
CREATE UNLOGGED TABLE IF NOT EXISTS bench_updates (
    at timestamptz NOT NULL DEFAULT clock_timestamp(), query text NOT NULL);
CREATE OR REPLACE FUNCTION bench_note_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench_updates (query) VALUES (left(current_query(), 300));
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS bench_note_update ON event_participants;
CREATE TRIGGER bench_note_update AFTER UPDATE ON event_participants
    FOR EACH STATEMENT EXECUTE FUNCTION bench_note_update();
"""
STOP_COUNTING = """
DROP TRIGGER IF EXISTS bench_note_update ON event_participants;
DROP FUNCTION IF EXISTS bench_note_update();
DROP TABLE IF EXISTS bench_updates;
"""


@dataclass(frozen=True, kw_only=True)
class SoakJob(Job):
    code: str
    phones: int
    concurrency: int
    beat_s: float
    ramp_timeout: float
    source: str  # the loopback address its connections come from


@dataclass(frozen=True)
class Ramped:
    """A worker's phones are in: how many have their socket open, and the retried errors."""

    open: int
    failures: dict[str, int]


@dataclass(frozen=True)
class Soaked:
    """What a worker's phones saw in the window, and how many sockets were open at its end."""

    phones: PhoneSummary
    open: int


async def soak_job(job: SoakJob, channel: Channel) -> int:
    """Join `phones` participants, open their sockets, beat; report after each phase.

    Returns how many phones it closed at the end.
    """
    raise_open_file_limit()
    use_source_address(job.source)
    crowd = await arrive_all(
        channel,
        ports=job.ports,
        code=job.code,
        count=job.phones,
        name_prefix=f"h{job.worker}",
        concurrency=job.concurrency,
        limit_s=job.ramp_timeout,
        beat_s=job.beat_s,
    )
    phones = [phone for _, phone in crowd.arrived]
    channel.send("ramped", Ramped(open=len(phones), failures=dict(crowd.failures)))
    end_at = await channel.expect("soak", float, limit_s=job.ramp_timeout)
    crowd.stats.restart_window()
    await asyncio.sleep(max(0.0, end_at - time.time()))
    open_now = sum(1 for p in phones if p.wire is not None and not p.wire.closed)
    channel.send("soaked", Soaked(phones=crowd.stats.summary(), open=open_now))
    await channel.receive(limit_s=120)  # "close", or the bench is gone
    crowd.close()
    return len(phones)


class HostWatch:
    """A host's /ws connection, keeping every presence message it gets."""

    def __init__(self) -> None:
        self.presence: Counter[str] = Counter()
        self.offline: set[str] = set()
        self.welcome: dict[str, Any] | None = None
        self.welcomed_at: float | None = None
        self._welcome = asyncio.Event()
        self.wire: Wire | None = None
        self.closed: int | None = None

    def on_message(self, payload: bytes) -> None:
        message = json.loads(payload)
        if message["type"] == ServerMessage.WELCOME:
            self.welcome = message
            self.welcomed_at = time.monotonic()
            self._welcome.set()
        elif message["type"] == HostMessage.PRESENCE:
            self.presence[message["presence"]] += 1
            if message["presence"] == "offline":
                self.offline.add(message["participant_id"])

    def on_close(self, code: int) -> None:
        self.closed = code

    async def welcomed(self, limit_s: float) -> float:
        """When the welcome came (time.monotonic()), waiting for it up to limit_s."""
        await asyncio.wait_for(self._welcome.wait(), limit_s)
        assert self.welcomed_at is not None
        return self.welcomed_at

    async def open(self, port: int, code: str, token: str) -> None:
        self.wire = await open_websocket(
            port,
            {"type": ClientMessage.HELLO, "role": Role.HOST, "event": code, "token": token},
            on_message=self.on_message,
            on_close=self.on_close,
            limit_s=30,
        )


@dataclass(frozen=True)
class Plan:
    processes: int
    phones: int
    soak_s: float
    workers: int  # load generator processes
    why: str  # how the process counts were chosen


def plan_for(phones: int, processes: int | None, soak_s: float) -> Plan:
    """As many rollcall processes as cores, or enough that each holds at most
    SOCKETS_PER_PROCESS sockets (and its open files hold them); load generators by files."""
    files = raise_open_file_limit() - SPARE_FILES
    per_process = min(files, SOCKETS_PER_PROCESS)
    cores = os.cpu_count() or 1
    needed = math.ceil(phones / per_process)
    chosen = processes or max(cores, needed)
    workers = max(2, math.ceil(phones / files))
    why = (
        f"{cores} cores; at most {per_process:,} sockets a process (open files: at most"
        f" {files + SPARE_FILES:,}), so {phones:,} sockets need at least {needed}"
    )
    return Plan(processes=chosen, phones=phones, soak_s=soak_s, workers=workers, why=why)


@dataclass(frozen=True)
class Window:
    """The measured window: its wall-clock bounds, what the phones saw, what the table got."""

    start: float
    end: float
    soaked: list[Soaked]
    updates: list[tuple[str, int]]  # UPDATE statement on event_participants: how many
    rows_updated: int


@dataclass(frozen=True)
class Soak:
    """Everything the soak measured, for the report."""

    ramp_s: float
    ramped: list[Ramped]
    host_welcome_s: float
    window: Window
    roster: list[RosterEntry]
    host: HostWatch
    meters: Sampler


async def run(h: Harness) -> None:
    """The soak; with ROLLCALL_BENCH_BEFORE, on that rollcall (and its schema) first."""
    plan = plan_for(
        h.phones or (2_000 if h.quick else PHONES), h.processes, 20.0 if h.quick else SOAK_S
    )
    print(
        f"== heartbeats: {plan.phones:,} sockets beating every {BEAT_S:.0f} s for"
        f" {plan.soak_s:.0f} s, {plan.processes} rollcall process(es), {plan.workers} load"
        f" generators ({plan.why})"
    )
    before = os.environ.get(BEFORE)
    earlier = None
    if before:
        with on_tree_schema(h.db.url, before):
            earlier = await _one_soak(h, plan)
    soak = await _one_soak(h, plan)
    if earlier is None:
        _report(h, plan, soak)
        return
    baseline = _report(h, plan, earlier, label="before: ")
    _compare(h, baseline, _report(h, plan, soak))


async def _one_soak(h: Harness, plan: Plan) -> Soak:
    h.forget_participants()
    with h.servers(plan.processes) as servers:
        event = create_event(servers.url(), "heartbeat soak", capacity=plan.phones)
        return await _soak(h, plan, servers, event)


async def _soak(h: Harness, plan: Plan, servers: Servers, event: NewEvent) -> Soak:
    """Open the phones' sockets, connect the host, then measure the window."""
    workers = plan.workers
    jobs = [
        SoakJob(
            ports=servers.ports,
            code=event.code,
            phones=plan.phones // workers,
            concurrency=IN_FLIGHT // workers,
            beat_s=BEAT_S,
            ramp_timeout=ramp_limit(plan.phones),
            source=f"127.0.0.{2 + n}",
        )
        for n in range(workers)
    ]
    async with Workers(soak_job, jobs, label="heartbeats") as pool:
        host = HostWatch()
        try:
            with h.sampler(servers, pool.pids, interval=1.0) as meters:
                ramped, ramp_s = await _ramp(pool, plan)
                host_welcome_s = await _connect_host(host, servers, event)
                window = await _measure_window(h, pool, plan)
                roster = await roster_of(servers.url(), event.code, event.host_token)
            pool.broadcast("close")
            await pool.gather("result", int, limit_s=60)
        finally:
            if host.wire is not None:
                host.wire.abort()
    return Soak(
        ramp_s=ramp_s,
        ramped=ramped,
        host_welcome_s=host_welcome_s,
        window=window,
        roster=roster,
        host=host,
        meters=meters,
    )


ROSTER_ATTEMPTS = 3
RAMP_REPORT_S = 90.0
"""Beyond its ramp limit, how long a load generator may take to stop its late phones and
report: the bench waits that much longer than the generators' own limit."""


def ramp_limit(phones: int) -> float:
    """How long the phones may take to get in: at least 100 a second."""
    return max(240.0, phones / 100)


async def _ramp(pool: Workers[SoakJob], plan: Plan) -> tuple[list[Ramped], float]:
    """Wait until every phone has its socket open; returns each worker's word and the time."""
    began = time.monotonic()
    ramped = await pool.gather(
        "ramped",
        Ramped,
        limit_s=ramp_limit(plan.phones) + RAMP_REPORT_S,
        progress=lambda n: f"{time.monotonic() - began:.0f} s: {n:,} sockets open",
    )
    ramp_s = time.monotonic() - began
    opened = sum(r.open for r in ramped)
    retried: Counter[str] = Counter()
    for r in ramped:
        retried.update(r.failures)
    if retried:
        print(f"   errors while opening (each retried): {dict(retried)}")
    print(
        f"   {opened:,} sockets open after {ramp_s:.0f} s; soaking for {plan.soak_s:.0f} s",
        flush=True,
    )
    return ramped, ramp_s


async def _connect_host(host: HostWatch, servers: Servers, event: NewEvent) -> float:
    """The host connects before the window; returns how long its welcome took.

    Its welcome carries the whole roster, which is a cost of its own (timed here), not of the
    steady state measured.
    """
    host_began = time.monotonic()
    await host.open(servers.ports[0], event.code, event.host_token)
    host_welcome_s = await host.welcomed(limit_s=60) - host_began
    await asyncio.sleep(2 * BEAT_S)  # let acks delayed by it come back first
    return host_welcome_s


async def _measure_window(h: Harness, pool: Workers[SoakJob], plan: Plan) -> Window:
    """The soak window, with the UPDATE statements on event_participants counted."""
    with h.db.connect() as conn:
        conn.execute(COUNT_UPDATES)
        rows_before = _rows_updated(conn)
    start = time.time()
    end = start + plan.soak_s
    pool.broadcast("soak", end)
    soaked = await pool.gather(
        "soaked",
        Soaked,
        limit_s=plan.soak_s + 60,
        progress=lambda n: f"{time.time() - start:.0f} s of {plan.soak_s:.0f} s",
    )
    with h.db.connect() as conn:
        rows_after = _rows_updated(conn)
        updates = conn.execute(
            "SELECT query, count(*) FROM bench_updates"
            " WHERE at >= to_timestamp(%s) AND at < to_timestamp(%s) GROUP BY query",
            (start, end),
        ).fetchall()
        conn.execute(STOP_COUNTING)
    return Window(
        start=start,
        end=end,
        soaked=soaked,
        updates=[(str(query), int(n)) for query, n in updates],
        rows_updated=rows_after - rows_before,
    )


def _report(h: Harness, plan: Plan, soak: Soak, *, label: str = "") -> dict[str, float | None]:
    """The soak's details and figures, and its resources plot; returns the figures to compare.

    `label` goes before each figure's name (and the details' key); a labelled soak (the
    baseline of a before and after) has no plot.
    """

    def figure(name: str, *args: Any, **kwargs: Any) -> None:
        h.figure("heartbeats", label + name, *args, **kwargs)

    phones, soak_s, host, window = plan.phones, plan.soak_s, soak.host, soak.window
    usage = soak.meters.window(window.start, window.end)
    updates = window.updates
    heartbeat_statements = sum(n for q, n in updates if "SET last_heartbeat" in q)
    other_statements = {q[:80]: n for q, n in updates if "SET last_heartbeat" not in q}
    presence = Counter(p["presence"] for p in soak.roster)
    not_online = sum(n for p, n in presence.items() if p != "online")
    acks = [ms for s in window.soaked for ms in s.phones.ack_ms]
    beats = sum(s.phones.beats for s in window.soaked)
    still_open = sum(s.open for s in window.soaked)
    closes: Counter[int] = Counter()
    for s in window.soaked:
        closes.update(s.phones.closes)
    h.details["heartbeats" + ("-" + label.strip(" :") if label else "")] = {
        "processes": plan.processes,
        "load_generators": plan.workers,
        "why": plan.why,
        "phones": phones,
        "ramp_s": soak.ramp_s,
        "host_welcome_s": soak.host_welcome_s,
        "ramp_failures": [r.failures for r in soak.ramped],
        "usage": usage,
        "update_statements": dict(updates),
        "rows_updated": window.rows_updated,
        "roster_presence": dict(presence),
        "host_presence_messages": dict(host.presence),
        "beats": beats,
        "acks": len(acks),
        "closes": dict(closes),
    }
    rollcall = usage.get("rollcall", {})
    cpu = rollcall.get("cpu_cores")
    rss_mb = rollcall.get("rss_peak", 0) / 2**20 if rollcall else None
    figure(
        "sockets open through the soak",
        still_open,
        "",
        f"{phones:,}",
        still_open == phones,
        f"opened in {soak.ramp_s:.0f} s; closes seen: {dict(closes) or 'none'}",
    )
    per = phones / PER
    figure(
        f"server CPU (rollcall) per {PER:,} sockets",
        cpu / per if cpu is not None else None,
        "cores",
        f"<= {TARGET_CPU}",
        cpu is not None and cpu / per <= TARGET_CPU,
        f"{cpu or 0:.2f} cores for {phones:,}; {plan.processes} process(es); {usage_note(usage)}"
        if usage
        else "",
    )
    rate = heartbeat_statements / soak_s
    figure(
        "heartbeat UPDATE statements",
        rate,
        "/s",
        f"<= {TARGET_UPDATES * plan.processes:.0f} ({TARGET_UPDATES:.0f} a process)",
        rate <= TARGET_UPDATES * plan.processes,
        f"{heartbeat_statements} in {soak_s:.0f} s for {beats:,} beats"
        f" ({window.rows_updated:,} rows updated);"
        f" other UPDATEs: {sum(other_statements.values())}",
    )
    figure(
        f"server RSS (rollcall) per {PER:,} sockets",
        rss_mb / per if rss_mb is not None else None,
        "MB",
        f"<= {TARGET_RSS_MB}",
        rss_mb is not None and rss_mb / per <= TARGET_RSS_MB,
        f"{rss_mb or 0:,.0f} MB in all, peak in the window, over {plan.processes} process(es)",
    )
    wrongly = len(host.offline) + not_online
    figure(
        "participants wrongly shown offline (presence errors)",
        wrongly,
        "",
        "0",
        wrongly == 0,
        f"host saw {dict(host.presence) or 'no presence change'};"
        f" roster at the end: {dict(presence)}",
    )
    figure(
        "  heartbeat ack p99",
        percentile(acks, 99),
        "ms",
        note=f"p50 {percentile(acks, 50) or 0:.1f} ms, {len(acks):,} acks of {beats:,} beats",
    )
    figure(
        f"  host welcome with {phones:,} in the roster",
        soak.host_welcome_s,
        "s",
        note="the host connects before the window; while its roster is built, that process"
        " answers nobody",
    )
    if not label:
        plots.resources(h.out, "heartbeats", soak.meters, (window.start, window.end))
    postgres = usage.get("postgres", {}).get("cpu_cores")
    return {
        "rollcall CPU per 10,000 sockets (cores)": cpu / per if cpu is not None else None,
        "PostgreSQL CPU (cores)": postgres,
        "heartbeat UPDATE statements a second": rate,
        "rows updated a second": window.rows_updated / soak_s,
        "rollcall RSS per 10,000 sockets (MB)": rss_mb / per if rss_mb is not None else None,
        "heartbeat ack p99 (ms)": percentile(acks, 99),
    }


def _compare(h: Harness, before: dict[str, float | None], after: dict[str, float | None]) -> None:
    """After over before, for each figure both soaks measured."""
    for name, was in before.items():
        now = after.get(name)
        if was and now is not None:
            h.figure(
                "heartbeats",
                f"  after / before: {name}",
                now / was,
                "x",
                note=f"{now:,.2f} after, {was:,.2f} before",
            )


class RosterEntry(TypedDict):
    """A participant in the host's roster (GET /api/events/{code}/participants), as used here."""

    id: str
    presence: str
    state: Any
    version: int


async def roster_of(base: str, code: str, host_token: str) -> list[RosterEntry]:
    """The host's roster, through the API; asked again after a 503, as a dashboard would."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for _ in range(ROSTER_ATTEMPTS):
            answer = await client.get(
                f"/api/events/{code}/participants",
                headers={"Authorization": f"Bearer {host_token}"},
            )
            if answer.status_code != httpx.codes.SERVICE_UNAVAILABLE:
                break
            await asyncio.sleep(1.0)
    answer.raise_for_status()
    participants: list[RosterEntry] = answer.json()["participants"]
    return participants


def _rows_updated(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        "SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'event_participants'"
    ).fetchone()
    return int(row[0]) if row else 0
