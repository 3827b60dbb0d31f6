"""Heartbeat soak: 10,000 open participant WebSockets, each beating every 10 s, for 60 s.

The phones join one event over HTTP, open their sockets, and beat at the heartbeat interval
from a random phase (as phones do, not all at once). Once all are open, the 60-second window
starts. In it the bench measures the rollcall process's CPU and RSS and PostgreSQL's CPU, counts
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
import time
from collections import Counter
from typing import Any

import httpx

from bench import plots
from bench.harness import Harness, create_event, percentile, usage_note
from bench.phones import PhoneStats, arrive_all
from bench.wire import Wire, open_websocket
from bench.workers import Channel, Workers

PHONES = 10_000
SOAK_S = 60.0
BEAT_S = 10.0
TARGET_CPU = 0.5
TARGET_UPDATES = 2.0
TARGET_RSS_MB = 500

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


async def soak_job(job: dict[str, Any], channel: Channel) -> dict[str, Any]:
    """Join `phones` participants, open their sockets, beat; report after each phase."""
    ports: list[int] = job["ports"]
    worker: int = job["worker"]
    stats = PhoneStats()
    failures: Counter[str] = Counter()
    arrived = await asyncio.wait_for(
        arrive_all(
            ports=ports,
            code=job["code"],
            count=job["phones"],
            name_prefix=f"h{worker}",
            stats=stats,
            channel=channel,
            failures=failures,
            concurrency=job["concurrency"],
            beat_s=job["beat_s"],
        ),
        job["ramp_timeout"],
    )
    phones = [phone for _, phone in arrived]
    channel.send("ramped", {"open": len(phones), "failures": dict(failures)})
    kind, end_at = await channel.receive(limit_s=job["ramp_timeout"])
    assert kind == "soak"
    stats.ack_ms = type(stats.ack_ms)("d")  # from here on, the window only
    stats.beats = 0
    stats.closes.clear()
    await asyncio.sleep(max(0.0, end_at - time.time()))
    window = stats.summary()
    window["ack_ms"] = list(window["ack_ms"])
    open_now = sum(1 for p in phones if p.wire is not None and not p.wire.closed)
    channel.send("soaked", {**window, "open": open_now})
    kind, _ = await channel.receive(limit_s=120)
    for phone in phones:
        phone.close()
    return {"closed": len(phones)}


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
        if message["type"] == "welcome":
            self.welcome = message
            self.welcomed_at = time.monotonic()
            self._welcome.set()
        elif message["type"] == "participant.presence":
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
            {"type": "hello", "role": "host", "event": code, "token": token},
            on_message=self.on_message,
            on_close=self.on_close,
            limit_s=30,
        )


async def run(h: Harness) -> None:
    processes = h.processes or 1
    phones = 2_000 if h.quick else PHONES
    soak_s = 20.0 if h.quick else SOAK_S
    workers = 2
    print(
        f"== heartbeats: {phones:,} sockets beating every {BEAT_S:.0f} s for {soak_s:.0f} s,"
        f" {processes} rollcall process(es)"
    )
    h.forget_participants()
    with h.servers(processes) as servers:
        created = create_event(servers.url(), "heartbeat soak", capacity=phones)
        code, host_token = created["event"]["code"], created["host_token"]
        jobs = [
            {
                "ports": servers.ports,
                "code": code,
                "phones": phones // workers,
                "concurrency": 50,
                "beat_s": BEAT_S,
                "ramp_timeout": 240,
            }
            for _ in range(workers)
        ]
        pool = Workers(soak_job, jobs, label="heartbeats")
        pool.start()
        host = HostWatch()
        try:
            began = time.monotonic()
            with h.sampler(servers, pool.pids, interval=1.0) as meters:
                ramped = await pool.gather(
                    "ramped",
                    limit_s=260,
                    progress=lambda n: f"{time.monotonic() - began:.0f} s: {n:,} sockets open",
                )
                ramp_s = time.monotonic() - began
                opened = sum(r["open"] for r in ramped)
                retried: Counter[str] = Counter()
                for r in ramped:
                    retried.update(r["failures"])
                if retried:
                    print(f"   errors while opening (each retried): {dict(retried)}")
                print(
                    f"   {opened:,} sockets open after {ramp_s:.0f} s; soaking for {soak_s:.0f} s",
                    flush=True,
                )
                # The host connects before the window: its welcome carries the whole roster,
                # which is a cost of its own (timed here), not of the steady state measured.
                host_began = time.monotonic()
                await host.open(servers.ports[0], code, host_token)
                host_welcome_s = await host.welcomed(limit_s=60) - host_began
                await asyncio.sleep(2 * BEAT_S)  # let acks delayed by it come back first
                with h.db.connect() as conn:
                    conn.execute(COUNT_UPDATES)
                    rows_before = _rows_updated(conn)
                start = time.time()
                end = start + soak_s
                pool.broadcast("soak", end)
                soaked = await pool.gather(
                    "soaked",
                    limit_s=soak_s + 60,
                    progress=lambda n: f"{time.time() - start:.0f} s of {soak_s:.0f} s",
                )
                with h.db.connect() as conn:
                    rows_after = _rows_updated(conn)
                    updates = conn.execute(
                        "SELECT query, count(*) FROM bench_updates"
                        " WHERE at >= to_timestamp(%s) AND at < to_timestamp(%s) GROUP BY query",
                        (start, end),
                    ).fetchall()
                    conn.execute(STOP_COUNTING)
                roster = await roster_of(servers.url(), code, host_token)
            pool.broadcast("close")
            await pool.gather("result", limit_s=60)
        finally:
            if host.wire is not None:
                host.wire.abort()
            pool.close()
    usage = meters.window(start, end)
    heartbeat_statements = sum(n for q, n in updates if "SET last_heartbeat" in q)
    other_statements = {q[:80]: n for q, n in updates if "SET last_heartbeat" not in q}
    presence = Counter(p["presence"] for p in roster)
    not_online = sum(n for p, n in presence.items() if p != "online")
    acks = [ms for s in soaked for ms in s["ack_ms"]]
    beats = sum(s["beats"] for s in soaked)
    still_open = sum(s["open"] for s in soaked)
    closes: Counter[int] = Counter()
    for s in soaked:
        closes.update({int(k): v for k, v in s["closes"].items()})
    h.details["heartbeats"] = {
        "processes": processes,
        "phones": phones,
        "ramp_s": ramp_s,
        "host_welcome_s": host_welcome_s,
        "ramp_failures": [r["failures"] for r in ramped],
        "usage": usage,
        "update_statements": {q: n for q, n in updates},
        "rows_updated": rows_after - rows_before,
        "roster_presence": dict(presence),
        "host_presence_messages": dict(host.presence),
        "beats": beats,
        "acks": len(acks),
        "closes": dict(closes),
    }
    rollcall = usage.get("rollcall", {})
    cpu = rollcall.get("cpu_cores")
    rss_mb = rollcall.get("rss_peak", 0) / 2**20 if rollcall else None
    h.figure(
        "heartbeats",
        "sockets open through the soak",
        still_open,
        "",
        f"{phones:,}",
        still_open == phones,
        f"opened in {ramp_s:.0f} s; closes seen: {dict(closes) or 'none'}",
    )
    h.figure(
        "heartbeats",
        "server CPU (rollcall)",
        cpu,
        "cores",
        f"<= {TARGET_CPU}",
        cpu is not None and cpu <= TARGET_CPU,
        f"{processes} process(es); {usage_note(usage)}" if usage else "",
    )
    rate = heartbeat_statements / soak_s
    h.figure(
        "heartbeats",
        "heartbeat UPDATE statements",
        rate,
        "/s",
        f"<= {TARGET_UPDATES:.0f}",
        rate <= TARGET_UPDATES,
        f"{heartbeat_statements} in {soak_s:.0f} s for {beats:,} beats"
        f" ({rows_after - rows_before:,} rows updated);"
        f" other UPDATEs: {sum(other_statements.values())}",
    )
    h.figure(
        "heartbeats",
        "server RSS (rollcall)",
        rss_mb,
        "MB",
        f"<= {TARGET_RSS_MB}",
        rss_mb is not None and rss_mb <= TARGET_RSS_MB,
        "peak in the window",
    )
    wrongly = len(host.offline) + not_online
    h.figure(
        "heartbeats",
        "participants wrongly shown offline",
        wrongly,
        "",
        "0",
        wrongly == 0,
        f"host saw {dict(host.presence) or 'no presence change'};"
        f" roster at the end: {dict(presence)}",
    )
    h.figure(
        "heartbeats",
        "  heartbeat ack p99",
        percentile(acks, 99),
        "ms",
        note=f"p50 {percentile(acks, 50) or 0:.1f} ms, {len(acks):,} acks of {beats:,} beats",
    )
    h.figure(
        "heartbeats",
        f"  host welcome with {phones:,} in the roster",
        host_welcome_s,
        "s",
        note="the host connects before the window; while its roster is built, that process"
        " answers nobody",
    )
    plots.resources(h.out, "heartbeats", meters, (start, end))


async def roster_of(base: str, code: str, host_token: str) -> list[dict[str, Any]]:
    """The host's roster, through the API."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        answer = await client.get(
            f"/api/events/{code}/participants", headers={"Authorization": f"Bearer {host_token}"}
        )
    answer.raise_for_status()
    participants: list[dict[str, Any]] = answer.json()["participants"]
    return participants


def _rows_updated(conn: Any) -> int:
    row = conn.execute(
        "SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'event_participants'"
    ).fetchone()
    return int(row[0]) if row else 0
