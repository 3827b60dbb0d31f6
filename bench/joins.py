"""Join stampede over HTTP, and the same join SQL through pgbench in the same run.

200 keep-alive connections (as wrk would hold them), spread over the rollcall processes, each
POSTing joins of new devices to one event back to back: 200 joins always in flight. The figures
count the answers that completed inside the measured window (after a warm-up).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from array import array
from collections import Counter
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from bench import baseline, limitcost, plots
from bench.cluster import BEFORE, Sampler, Servers, on_tree_schema
from bench.harness import (
    MAX_CAPACITY,
    UNBINDING_LIMITS,
    Harness,
    cost_per,
    create_event,
    percentile,
    pg_cost,
    usage_note,
)
from bench.wire import Wire, connect
from bench.workers import Channel, Job, run_slots

IN_FLIGHT = 200
TARGET_RATE = 2500
TARGET_RATIO = 40.0
TARGET_P99_MS = 250
TARGET_PLAIN_SHARE = 0.40
"""The join rate over the plain-insert baseline's rate, at least."""
PGBENCH_CLIENTS = 16


@dataclass(frozen=True, kw_only=True)
class StampedeJob(Job):
    codes: list[str]
    connections: int
    start_at: float  # wall clock (time.time())
    end_at: float
    max_per_connection: int


@dataclass(frozen=True)
class StampedeResult:
    """One worker's answers: when each completed (wall clock), its latency, the statuses."""

    done_at: array[float]
    latency_ms: array[float]
    statuses: dict[int, int]  # HTTP status (0: the connection failed): how many
    errors: list[str]


@dataclass(frozen=True)
class Stampede:
    """The whole stampede, all workers together; `latencies` and `rate` are the window's."""

    start_at: float
    window: tuple[float, float]
    done_at: list[float]
    latencies: list[float]
    rate: float
    statuses: dict[int, int]
    errors: list[str]


async def stampede_job(job: StampedeJob, channel: Channel) -> StampedeResult:
    """One worker's share of the stampede: `connections` back-to-back joiners."""
    ports = job.ports
    done_at = array("d")
    latency_ms = array("d")
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    offset = time.time() - time.perf_counter()

    async def joiner(slot: int) -> None:
        index = job.worker * job.connections + slot
        port = ports[index % len(ports)]
        codes = job.codes
        path = f"/api/events/{codes[index % len(codes)]}/join"
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode()
        wire: Wire | None = None
        await asyncio.sleep(max(0.0, job.start_at - time.time()))
        n = 0
        while time.time() < job.end_at and n < job.max_per_connection:
            if wire is None or wire.closed:
                wire = await connect(port)
            body = f'{{"device_id":"{uuid4()}","display_name":"w{job.worker}s{slot}n{n}"}}'.encode()
            request = head + str(len(body)).encode() + b"\r\n\r\n" + body
            n += 1
            started = time.perf_counter()
            try:
                status, answer = await wire.request(request)
            except ConnectionError as exc:
                statuses[0] += 1
                if len(errors) < 5:
                    errors.append(f"connection: {exc}")
                wire = None
                await asyncio.sleep(0.1)
                continue
            finished = time.perf_counter()
            statuses[status] += 1
            if status != 201 and len(errors) < 5:
                errors.append(f"{status}: {answer[:300]!r}")
            done_at.append(finished + offset)
            latency_ms.append((finished - started) * 1000)
            channel.done += 1
        if wire is not None:
            wire.close()

    failed = await run_slots(joiner, job.connections, end_at=job.end_at)
    errors.extend(repr(exc) for exc in failed)
    return StampedeResult(
        done_at=done_at, latency_ms=latency_ms, statuses=dict(statuses), errors=errors
    )


async def stampede(
    h: Harness,
    servers: Servers,
    codes: list[str],
    *,
    workers: int,
    warmup: float,
    seconds: float,
) -> tuple[Stampede, Sampler]:
    start_at = time.time() + 1.5  # the spawned workers need about a second to import
    jobs = [
        StampedeJob(
            ports=servers.ports,
            codes=codes,
            connections=IN_FLIGHT // workers,
            start_at=start_at,
            end_at=start_at + warmup + seconds,
            max_per_connection=100_000,
        )
        for _ in range(workers)
    ]
    results, meters = await h.run_jobs(
        servers,
        stampede_job,
        jobs,
        StampedeResult,
        label="joins",
        limit_s=warmup + seconds + 60,
        progress=lambda elapsed, n: (
            f"{elapsed:.0f} s of {warmup + seconds + 1.5:.0f} s, {n:,} joins"
        ),
    )
    window = (start_at + warmup, start_at + warmup + seconds)
    done_at: list[float] = []
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    for result in results:
        for at, ms in zip(result.done_at, result.latency_ms, strict=True):
            done_at.append(at)
            if window[0] <= at < window[1]:
                latencies.append(ms)
        statuses.update(result.statuses)
        errors.extend(result.errors)
    return Stampede(
        start_at=start_at,
        window=window,
        done_at=done_at,
        latencies=latencies,
        rate=len(latencies) / seconds,
        statuses=dict(statuses),
        errors=errors[:10],
    ), meters


SHAPES = [(1, "one event"), (50, "50 events")]


@dataclass(frozen=True)
class Plan:
    processes: int
    warmup: float
    seconds: float
    pg_seconds: int


async def run(h: Harness) -> None:
    plan = Plan(
        processes=h.processes or 3,  # serves joins best on 2 cores: see docs/benchmarks.md
        warmup=2.0 if h.quick else 3.0,
        seconds=6.0 if h.quick else 15.0,
        pg_seconds=6 if h.quick else 12,
    )
    print(
        f"== joins: stampede over HTTP, {plan.processes} rollcall process(es),"
        f" {IN_FLIGHT} in flight"
    )
    details = h.details.setdefault("joins", {"processes": plan.processes, "in_flight": IN_FLIGHT})
    latency_series: list[tuple[str, list[float]]] = []
    plain = await plain_insert(h, plan.pg_seconds, details)
    before = os.environ.get(BEFORE)
    with h.servers(plan.processes) as servers:
        for count, shape in SHAPES:
            tag = f"{count}ev"
            pg_codes, rc_codes = _setup(servers, count, tag)
            script, pg = await _baseline(h, plan, pg_codes[0], count, tag, shape)
            earlier = await _before(h, plan, before, count, shape) if before else None
            result, meters = await _load(h, plan, servers, rc_codes, shape)
            if before and earlier is not None:
                _after_before(h, shape, (result, meters), earlier, before)
            _report(
                h,
                plan,
                shape,
                tag,
                script,
                result,
                (pg, plain),
                meters,
                details.setdefault(tag, {}),
            )
            latency_series += [
                (f"rollcall, {shape}", result.latencies),
                (f"pgbench, {shape}", pg.latencies_ms),
            ]
    await _limits_off(h, details)
    plots.latency_figure(
        h.out,
        "joins-latency",
        f"Join latency with {IN_FLIGHT} in flight ({plan.processes} rollcall processes),"
        " and pgbench",
        latency_series,
        target_ms=TARGET_P99_MS,
    )


async def _limits_off(h: Harness, details: dict[str, Any]) -> None:
    """The stampede as measured has its limits on; what they cost it, and so its rate without.

    The rate without them is the measured rate scaled by rollcall's CPU per join less the
    checks' (rollcall's CPU is what bounds the stampede): an estimate, labelled as one.
    """
    crowd = await limitcost.crowd_us()
    for count, shape in SHAPES:
        measured = details.get(f"{count}ev", {})
        usage, rate = measured.get("usage"), measured.get("rate")
        cpu_ms, _ = cost_per(usage, rate) if usage and rate else (None, "ms")
        if cpu_ms is None or rate is None:
            continue
        window = int(rate * 60)  # the bench's one address: a minute of its stampede
        bench_us = await limitcost.one_address_us(window, UNBINDING_LIMITS)
        share = bench_us / (1000 * cpu_ms)
        measured["limit_checks_us"] = {"crowd": crowd, "bench": bench_us, "window": window}
        h.figure(
            "joins",
            f"  rate-limit checks per join, {shape}",
            bench_us,
            "µs",
            note=f"{100 * share:.1f} % of rollcall's CPU per join; one address, {window:,} in"
            f" its window; a crowd at the defaults: {crowd:.0f} µs",
        )
        h.figure(
            "joins",
            f"  join stampede with no limits, {shape} (estimate)",
            rate / (1 - share),
            "joins/s",
            note=f"{rate:,.0f} with them: {100 * share:.1f} % apart",
        )


async def _before(
    h: Harness, plan: Plan, src: str, count: int, shape: str
) -> tuple[Stampede, Sampler]:
    """The same stampede on the rollcall of another src/ directory (ROLLCALL_BENCH_BEFORE),
    on servers of its own, right before this tree's: a baseline in the same run."""
    with on_tree_schema(h.db.url, src), h.servers(plan.processes) as servers:
        codes = [create_event(servers.url(), f"before {i}").code for i in range(count)]
        print(f"   {shape}: before ({src})", flush=True)
        result, meters = await _load(h, plan, servers, codes, shape)
    p99 = percentile(result.latencies, 99)
    note = f"p99 {p99:.0f} ms" if p99 is not None else ""
    h.figure("joins", f"  before: join stampede, {shape}", result.rate, "joins/s", note=note)
    usage = meters.window(*result.window)
    h.figure("joins", f"  before: rollcall CPU per join, {shape}", *cost_per(usage, result.rate))
    return result, meters


def _after_before(
    h: Harness,
    shape: str,
    after: tuple[Stampede, Sampler],
    before: tuple[Stampede, Sampler],
    src: str,
) -> None:
    """This tree's rate and CPU per join over the other tree's (the CPU is the steadier)."""
    (now, now_meters), (then, then_meters) = after, before
    if then.rate:
        h.figure(
            "joins",
            f"  after / before, join rate, {shape}",
            now.rate / then.rate,
            "x",
            note=f"{now.rate:,.0f} / {then.rate:,.0f} joins/s; before: {src}",
        )
    now_cpu, _ = cost_per(now_meters.window(*now.window), now.rate)
    then_cpu, _ = cost_per(then_meters.window(*then.window), then.rate)
    if now_cpu and then_cpu:
        h.figure(
            "joins",
            f"  after / before, CPU per join, {shape}",
            now_cpu / then_cpu,
            "x",
            note=f"{now_cpu:.2f} / {then_cpu:.2f} ms",
        )


def _setup(servers: Servers, count: int, tag: str) -> tuple[list[str], list[str]]:
    """`count` events for pgbench's joins and `count` for rollcall's: their codes."""
    pg = [create_event(servers.url(), f"pgbench{tag} {i}").code for i in range(count)]
    rc = [create_event(servers.url(), f"stampede{tag} {i}").code for i in range(count)]
    return pg, rc


async def _baseline(
    h: Harness, plan: Plan, pg_code: str, count: int, tag: str, shape: str
) -> tuple[baseline.JoinScript, baseline.PgbenchResult]:
    """pgbench running the join's own SQL into the pgbench events: the database's rate."""
    script = await baseline.record_join_sql(h.db.url, pg_code, f"pgbench{tag} ")
    print(
        f"   {shape}: pgbench runs the join SQL ({script.statements} statement(s)) with "
        f"{PGBENCH_CLIENTS} clients for {plan.pg_seconds} s",
        flush=True,
    )
    pg = await asyncio.to_thread(
        baseline.run_pgbench,
        pgbench=h.db.pgbench,
        env=h.db.pgbench_env(),
        script=script,
        clients=PGBENCH_CLIENTS,
        seconds=plan.pg_seconds,
        events=count,
        work_dir=h.work / "pgbench" / tag,
    )
    h.forget_participants()
    return script, pg


async def plain_insert(
    h: Harness, seconds: int, details: dict[str, Any], *, scenario: str = "joins"
) -> baseline.PgbenchResult:
    """pgbench inserting bare participant rows over many events: the database's limit for the
    row a join must write, without anything else a join does."""
    from rollcall.events.service import new_code

    with h.db.connect() as conn:
        for k in range(baseline.PLAIN_INSERT_EVENTS):
            title = f"{baseline.PLAIN_INSERT_TITLE} {k}"
            conn.execute(
                "INSERT INTO events (id, code, title, capacity, host_token_hash)"
                " VALUES (md5(%s)::uuid, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (title, new_code(), title, MAX_CAPACITY, secrets.token_hex(16)),
            )
    print(
        f"   pgbench: a plain INSERT of a participant row over {baseline.PLAIN_INSERT_EVENTS}"
        f" events with {PGBENCH_CLIENTS} clients for {seconds} s",
        flush=True,
    )
    plain = await asyncio.to_thread(
        baseline.run_pgbench,
        pgbench=h.db.pgbench,
        env=h.db.pgbench_env(),
        script=baseline.plain_insert_script(),
        clients=PGBENCH_CLIENTS,
        seconds=seconds,
        events=baseline.PLAIN_INSERT_EVENTS,
        work_dir=h.work / "pgbench" / "plain-insert",
    )
    h.forget_participants()
    details["plain_insert"] = {
        "clients": plain.clients,
        "events": baseline.PLAIN_INSERT_EVENTS,
        "tps": plain.tps,
        "failed": plain.failed,
        "p50_ms": percentile(plain.latencies_ms, 50),
        "p99_ms": percentile(plain.latencies_ms, 99),
        "script": baseline.plain_insert_script().text,
    }
    h.figure(
        scenario,
        f"pgbench, plain participant INSERT, {baseline.PLAIN_INSERT_EVENTS} events",
        plain.tps,
        "tx/s",
        note=f"{plain.clients} clients, p99 {percentile(plain.latencies_ms, 99) or 0:.0f} ms",
    )
    return plain


async def _load(
    h: Harness, plan: Plan, servers: Servers, codes: list[str], shape: str
) -> tuple[Stampede, Sampler]:
    """The stampede over HTTP into the rollcall events."""
    print(
        f"   {shape}: rollcall for {plan.seconds:.0f} s after {plan.warmup:.0f} s of warm-up",
        flush=True,
    )
    result, meters = await stampede(
        h, servers, codes, workers=2, warmup=plan.warmup, seconds=plan.seconds
    )
    h.forget_participants()
    return result, meters


def _report(
    h: Harness,
    plan: Plan,
    shape: str,
    tag: str,
    script: baseline.JoinScript,
    result: Stampede,
    baselines: tuple[baseline.PgbenchResult, baseline.PgbenchResult],
    meters: Sampler,
    details: dict[str, Any],
) -> None:
    """The figures of one shape, its details and its throughput plot."""
    pg, plain = baselines
    _figures(h, shape, plan.processes, result, pg, meters, details)
    share = result.rate / plain.tps if plain.tps else None
    details["share_of_plain_insert"] = share
    h.figure(
        "joins",
        f"  as share of plain INSERT, {shape}",
        share,
        "x",
        f">= {TARGET_PLAIN_SHARE:.2f}",
        share is not None and share >= TARGET_PLAIN_SHARE,
        f"plain INSERT {plain.tps:,.0f} tx/s",
    )
    details["script"] = script.text
    plots.throughput(
        h.out,
        f"joins-{tag}",
        f"join stampede, {shape}",
        [(f"rollcall joins, {shape}", result.start_at, result.done_at)],
        pgbench=pg.per_second,
        cpu=meters,
        window=result.window,
    )


def _figures(
    h: Harness,
    shape: str,
    processes: int,
    result: Stampede,
    pg: baseline.PgbenchResult,
    meters: Sampler,
    details: dict[str, Any],
) -> None:
    usage = meters.window(*result.window)
    p50 = percentile(result.latencies, 50)
    p99 = percentile(result.latencies, 99)
    ratio = 100 * result.rate / pg.tps if pg.tps else None
    details.update(
        statuses=result.statuses,
        errors=result.errors,
        usage=usage,
        rate=result.rate,
        p50_ms=p50,
        p99_ms=p99,
        pgbench={
            "clients": pg.clients,
            "tps": pg.tps,
            "failed": pg.failed,
            "p50_ms": percentile(pg.latencies_ms, 50),
            "p99_ms": percentile(pg.latencies_ms, 99),
            "statement_ms": pg.statement_ms,
        },
    )
    ok = result.statuses.get(201, 0)
    bad = sum(v for k, v in result.statuses.items() if k != 201)
    h.figure(
        "joins",
        f"pgbench, join SQL, {shape}",
        pg.tps,
        "tx/s",
        note=f"{pg.clients} clients, p99 {percentile(pg.latencies_ms, 99) or 0:.0f} ms",
    )
    h.figure(
        "joins",
        f"join stampede, {shape}",
        result.rate,
        "joins/s",
        f">= {TARGET_RATE:,}",
        result.rate >= TARGET_RATE,
        f"{processes} processes; {ok:,} × 201, {bad} other",
    )
    h.figure(
        "joins",
        f"  as % of pgbench, {shape}",
        ratio,
        "%",
        f">= {TARGET_RATIO:.0f} %",
        ratio is not None and ratio >= TARGET_RATIO,
    )
    h.figure(
        "joins",
        f"  p99 latency, {shape}",
        p99,
        "ms",
        f"<= {TARGET_P99_MS}",
        p99 is not None and p99 <= TARGET_P99_MS,
        f"p50 {p50:.0f} ms" if p50 else "",
    )
    if usage:
        h.figure(
            "joins",
            f"  CPU, {shape}",
            usage["rollcall"]["cpu_cores"],
            "cores",
            note=usage_note(usage),
        )
        h.figure(
            "joins",
            f"  rollcall CPU per join, {shape}",
            *cost_per(usage, result.rate),
            note=pg_cost(usage, result.rate),
        )
    if result.errors:
        print("   first errors:", *result.errors[:3], sep="\n     ")
