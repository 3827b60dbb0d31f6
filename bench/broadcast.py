"""Broadcast: 10,000 phones in one event, the host changes the event state 20 times, once a second.

The phones join over HTTP and keep their sockets open, beating every 10 s, spread over as many
rollcall processes as `rollcall serve` runs by default (one per core; more only when one
process's open files cannot hold its share). Each phone notes when each `event_state` reaches
it and answers with `seen`, as the SDK does once the page has drawn it. A host follows the event
on /ws and notes when its `receipts` say that everyone has the new version.

Measured, for each change (the PATCH's send time is the start): how long each phone waited for
it (p50, p99, max over all phones and changes), how long until every phone had it, how long
until the receipts said 100 %; the CPU of rollcall and of PostgreSQL in the window; and the
UPDATE statements that wrote receipts (a statement-level trigger notes each, as in the
heartbeat soak), per second and per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field

import httpx

from bench import plots
from bench.cluster import BEFORE, Sampler, Servers, on_tree_schema, raise_open_file_limit
from bench.harness import Harness, NewEvent, create_event, percentile, usage_note
from bench.heartbeats import (
    COUNT_UPDATES,
    IN_FLIGHT,
    RAMP_REPORT_S,
    STOP_COUNTING,
    Plan,
    Ramped,
    SoakJob,
    plan_for,
    ramp_limit,
)
from bench.phones import Phone, arrive_all
from bench.wire import Wire, open_websocket, use_source_address
from bench.workers import Channel, Workers
from rollcall.protocol import ClientMessage, Role, ServerMessage

PHONES = 10_000
CHANGES = 20
EVERY_S = 1.0  # one change a second
BEAT_S = 10.0
SETTLE_S = 5.0  # after the last change, for the last receipts to come
SETTLE_MAX_S = 60.0  # and longer while they have not said 100 % (a busy machine)
TARGET_DELIVERY_P99_MS = 500.0
TARGET_RECEIPTS_S = 2.0
TARGET_WRITES = 2.0  # receipt statements a second, per rollcall process


@dataclass(frozen=True)
class Arrivals:
    """When each event-state version reached a worker's phones (wall clock), and their closes."""

    at: dict[int, array[float]] = field(default_factory=dict)
    closes: dict[int, int] = field(default_factory=dict)
    open: int = 0


def phone_that_reports(arrivals: dict[int, array[float]]) -> type[Phone]:
    """A Phone that notes each event state's arrival and says `seen` for it at once."""

    class Reporting(Phone):
        def _on_message(self, payload: bytes) -> None:
            message = json.loads(payload)
            if message.get("type") != ServerMessage.EVENT_STATE:
                super()._on_message(payload)
                return
            version = int(message["version"])
            arrivals.setdefault(version, array("d")).append(time.time())
            if self.wire is not None and not self.wire.closed:
                seen = {"type": ClientMessage.SEEN, "event_version": version}
                self.wire.send_text(json.dumps(seen, separators=(",", ":")))

    return Reporting


async def broadcast_job(job: SoakJob, channel: Channel) -> int:
    """Join the phones, report them in, and note every event state until told to stop."""
    raise_open_file_limit()
    use_source_address(job.source)
    arrivals: dict[int, array[float]] = {}
    crowd = await arrive_all(
        channel,
        ports=job.ports,
        code=job.code,
        count=job.phones,
        name_prefix=f"b{job.worker}",
        concurrency=job.concurrency,
        limit_s=job.ramp_timeout,
        beat_s=job.beat_s,
        phone=phone_that_reports(arrivals),
    )
    phones = [phone for _, phone in crowd.arrived]
    channel.send("ramped", Ramped(open=len(phones), failures=dict(crowd.failures)))
    crowd.stats.restart_window()
    await channel.expect("measured", float, limit_s=job.ramp_timeout + 600)
    open_now = sum(1 for p in phones if p.wire is not None and not p.wire.closed)
    channel.send("arrivals", Arrivals(arrivals, dict(crowd.stats.closes), open_now))
    await channel.receive(limit_s=120)  # "close", or the bench is gone
    crowd.close()
    return len(phones)


class HostReceipts:
    """A host's /ws connection, noting when each receipts message came."""

    def __init__(self) -> None:
        self.receipts: list[tuple[float, int, int, int]] = []  # at, event_version, seen, of
        self.welcomed = asyncio.Event()
        self.counted = asyncio.Event()  # a receipts message came
        self.wire: Wire | None = None

    def on_message(self, payload: bytes) -> None:
        message = json.loads(payload)
        kind = message["type"]
        if kind == ServerMessage.WELCOME:
            self.welcomed.set()
        elif kind == ServerMessage.RECEIPTS:
            self.receipts.append(
                (time.time(), message["event_version"], message["seen"], message["of"])
            )
            self.counted.set()

    async def open(self, port: int, event: NewEvent) -> None:
        hello = {
            "type": ClientMessage.HELLO,
            "role": Role.HOST,
            "event": event.code,
            "token": event.host_token,
        }
        self.wire = await open_websocket(
            port, hello, on_message=self.on_message, on_close=lambda _: None, limit_s=60
        )
        await asyncio.wait_for(self.welcomed.wait(), 60)

    async def until_complete(self, version: int, *, limit_s: float) -> None:
        """Until the receipts say everyone has `version`, or `limit_s` has passed."""
        deadline = time.monotonic() + limit_s
        while self.complete_at(version) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self.counted.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.counted.wait(), remaining)

    def complete_at(self, version: int) -> float | None:
        """When the receipts first said that every active participant has `version`."""
        for at, event_version, seen, of in self.receipts:
            if event_version == version and seen >= of:
                return at
        return None


@dataclass(frozen=True)
class Window:
    start: float
    end: float
    sent: dict[int, float]  # version -> when its PATCH was sent (wall clock)
    arrivals: list[Arrivals]
    statements: int  # UPDATE statements that wrote receipts
    ramp_s: float
    written: list[float]  # when each of them had run (wall clock, before its commit)


async def run(h: Harness, *, phones: int | None = None) -> None:
    """`phones` (the command's --phones) when given, else 10,000 (2,000 with --quick); with
    ROLLCALL_BENCH_BEFORE, on that rollcall first, then on this one, and their ratios."""
    plan = plan_for(phones or (2_000 if h.quick else PHONES), h.processes, CHANGES * EVERY_S)
    changes = 5 if h.quick else CHANGES
    before = os.environ.get(BEFORE)
    if not before:
        await _once(h, plan, changes)
        return
    with on_tree_schema(h.db.url, before):
        earlier = await _once(h, plan, changes, label=" (before)")
    now = await _once(h, plan, changes)
    for name, was, is_ in zip(
        ("delivery p99", "rollcall CPU per phone and change"), earlier, now, strict=True
    ):
        h.figure(
            "broadcast",
            f"  after / before, {name}",
            is_ / was if is_ is not None and was else None,
            "x",
            note=f"{is_ or 0:.1f} / {was or 0:.1f}; before: {before}",
        )


async def _once(
    h: Harness, plan: Plan, changes: int, label: str = ""
) -> tuple[float | None, float | None]:
    """One run on fresh servers; its delivery p99 (ms) and rollcall CPU per phone (µs)."""
    print(
        f"== broadcast{label}: {plan.phones:,} phones, {changes} event-state changes one a second,"
        f" {plan.processes} rollcall process(es) ({plan.why})"
    )
    h.forget_participants()
    with h.servers(plan.processes) as servers:
        event = create_event(servers.url(), "broadcast", capacity=plan.phones)
        host = HostReceipts()
        jobs = [
            SoakJob(
                ports=servers.ports,
                code=event.code,
                phones=plan.phones // plan.workers,
                concurrency=IN_FLIGHT // plan.workers,
                beat_s=BEAT_S,
                ramp_timeout=ramp_limit(plan.phones),
                source=f"127.0.0.{2 + n}",
            )
            for n in range(plan.workers)
        ]
        async with Workers(broadcast_job, jobs, label="broadcast") as pool:
            try:
                with h.sampler(servers, pool.pids, interval=0.5) as meters:
                    window = await _broadcast(h, plan, servers, event, host, pool, changes)
                pool.broadcast("close")
                await pool.gather("result", int, limit_s=60)
            finally:
                if host.wire is not None:
                    host.wire.abort()
    return _report(h, plan, window, host, meters, label)


async def _broadcast(
    h: Harness,
    plan: Plan,
    servers: Servers,
    event: NewEvent,
    host: HostReceipts,
    pool: Workers[SoakJob],
    changes: int,
) -> Window:
    began = time.monotonic()
    ramped = await pool.gather(
        "ramped",
        Ramped,
        limit_s=ramp_limit(plan.phones) + RAMP_REPORT_S,
        progress=lambda n: f"{time.monotonic() - began:.0f} s: {n:,} sockets open",
    )
    ramp_s = time.monotonic() - began
    retried: Counter[str] = Counter()
    for r in ramped:
        retried.update(r.failures)
    print(f"   {sum(r.open for r in ramped):,} sockets open after {ramp_s:.0f} s; {dict(retried)}")
    await host.open(servers.ports[0], event)
    await asyncio.sleep(2.0)  # the host's welcome (the whole roster) settles first

    with h.db.connect() as conn:
        conn.execute(COUNT_UPDATES)
    sent: dict[int, float] = {}
    start = time.time()
    async with httpx.AsyncClient(base_url=servers.url(), timeout=60) as http:
        for n in range(1, changes + 1):
            due = start + (n - 1) * EVERY_S
            await asyncio.sleep(max(0.0, due - time.time()))
            at = time.time()
            answer = await http.patch(
                f"/api/events/{event.code}/state",
                json={"question": {"id": f"q{n}", "text": f"Question {n}", "choices": 4}},
                headers={"Authorization": f"Bearer {event.host_token}"},
            )
            answer.raise_for_status()
            sent[int(answer.json()["version"])] = at
    await asyncio.sleep(SETTLE_S)
    await host.until_complete(max(sent), limit_s=SETTLE_MAX_S)
    end = time.time()
    pool.broadcast("measured", end)
    arrivals = await pool.gather("arrivals", Arrivals, limit_s=120)
    with h.db.connect() as conn:
        written = [
            float(row[0])
            for row in conn.execute(
                "SELECT extract(epoch FROM at) FROM bench_updates WHERE strpos(query, %s) > 0"
                " AND at >= to_timestamp(%s) AND at < to_timestamp(%s) ORDER BY at",
                ("seen_event_version", start, end),
            ).fetchall()
        ]
        conn.execute(STOP_COUNTING)
    return Window(start, end, sent, arrivals, len(written), ramp_s, written)


def _report(
    h: Harness, plan: Plan, window: Window, host: HostReceipts, meters: Sampler, label: str
) -> tuple[float | None, float | None]:
    phones = sum(a.open for a in window.arrivals)
    latencies: list[float] = []  # ms, one per phone and change
    everyone: list[float] = []  # ms, per change: until the last phone had it
    complete: list[float] = []  # s, per change: until the receipts said 100 %
    missing = 0
    for version, at in window.sent.items():
        got = [t for a in window.arrivals for t in a.at.get(version, array("d"))]
        missing += phones - len(got)
        waited = [(t - at) * 1000 for t in got]
        latencies.extend(waited)
        if waited:
            everyone.append(max(waited))
        done = host.complete_at(version)
        complete.append(done - at if done is not None else float("inf"))
    closes: Counter[int] = Counter()
    for a in window.arrivals:
        closes.update(a.closes)
    # CPU over the changes and their receipts only, not the wait for a count that may never
    # say everyone: the phones' heartbeats meanwhile would count against each delivery.
    cpu_end = min(window.end, max(window.sent.values(), default=window.start) + SETTLE_S)
    cpu_s = cpu_end - window.start
    usage = meters.window(window.start, cpu_end)
    seconds = window.end - window.start
    writes = window.statements / seconds
    changes = len(window.sent)
    h.details[f"broadcast{label}"] = {
        "processes": plan.processes,
        "load_generators": plan.workers,
        "phones": phones,
        "changes": changes,
        "ramp_s": window.ramp_s,
        "usage": usage,
        "receipt_statements": window.statements,
        "window_s": seconds,
        "closes": dict(closes),
        "until_everyone_ms": everyone,
        "receipts_complete_s": complete,
        # Each receipt write: s after the change before it (when its UPDATE had run).
        "receipt_writes": [
            round(at - max((t for t in window.sent.values() if t <= at), default=at), 3)
            for at in window.written
        ],
        # Each receipts message the host got: s after its version's change, version, seen, of.
        "receipts_messages": [
            (round(at - window.sent.get(version, at), 3), version, seen, of)
            for at, version, seen, of in host.receipts
        ],
    }
    delivered = 100.0 * (1 - missing / max(1, phones * changes))
    h.figure(
        "broadcast",
        f"changes delivered to every phone{label}",
        delivered,
        "%",
        "100 %",
        missing == 0,
        f"{phones:,} phones x {changes} changes; {missing} missing; closes: {dict(closes) or 'none'}",
    )
    p99 = percentile(latencies, 99)
    h.figure(
        "broadcast",
        f"event state delivery p99{label}",
        p99,
        "ms",
        f"<= {TARGET_DELIVERY_P99_MS:.0f}",
        p99 is not None and p99 <= TARGET_DELIVERY_P99_MS,
        f"p50 {percentile(latencies, 50) or 0:.0f} ms, max {max(latencies, default=0):.0f} ms,"
        f" from the PATCH's send to each phone",
    )
    h.figure(
        "broadcast",
        f"  until every phone had it (per change){label}",
        percentile(everyone, 50),
        "ms",
        note=f"p50 over the {changes} changes; max {max(everyone, default=0):.0f} ms",
    )
    said = [s for s in complete if s != float("inf")]
    worst = max(complete, default=float("inf"))
    h.figure(
        "broadcast",
        f"receipts say 100 % (after the change){label}",
        max(said, default=None),
        "s",
        f"<= {TARGET_RECEIPTS_S:.0f}",
        worst <= TARGET_RECEIPTS_S,
        f"the slowest of the {len(said)} of {changes} changes whose count said everyone (before"
        f" the next change, or within a minute of the last; p50 {percentile(said, 50) or 0:.2f} s)",
    )
    per_process = writes / plan.processes
    h.figure(
        "broadcast",
        f"receipt write statements per process{label}",
        per_process,
        "/s",
        f"<= {TARGET_WRITES:.0f}",
        per_process <= TARGET_WRITES,
        f"{window.statements} UPDATE statements in {seconds:.0f} s over {plan.processes}"
        f" process(es), for {phones * changes:,} receipts",
    )
    rollcall = usage.get("rollcall", {}).get("cpu_cores")
    postgres = usage.get("postgres", {}).get("cpu_cores")
    h.figure(
        "broadcast",
        f"  CPU, rollcall{label}",
        rollcall,
        "cores",
        note=usage_note(usage) if usage else "",
    )
    h.figure("broadcast", f"  CPU, PostgreSQL{label}", postgres, "cores")
    deliveries = phones * changes
    per_phone = rollcall * cpu_s / deliveries * 1e6 if rollcall is not None and deliveries else None
    h.figure(
        "broadcast",
        f"  rollcall CPU per phone and change{label}",
        per_phone,
        "us",
        note="sending the state and reading the receipt; the figure to compare between runs on"
        " a shared machine"
        + (
            f" (PostgreSQL {postgres * cpu_s / deliveries * 1e6:.1f} us)"
            if postgres is not None and deliveries
            else ""
        ),
    )
    plots.resources(
        h.out, "broadcast-before" if label else "broadcast", meters, (window.start, window.end)
    )
    return p99, per_phone
