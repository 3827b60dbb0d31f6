"""Full participant arrival: join over HTTP, then open /ws, say hello and receive the welcome.

Each arrival is a phone that just scanned the QR code: a new TCP connection for the join, then
a second one for the WebSocket, kept open (silent) until the end of the run. 200 arrivals are
in flight at any time, spread over the rollcall processes. Beside it, in the same run, the
hello-join arrival: one connection, the join carried by the /ws hello, the token in the welcome.

Right before each shape, the same arrival at Colyseus 0.18 (bench/colyseus.py), its peer: the
target is rollcall at least PEER_RATIO times Colyseus's rate, measured minutes apart on the
same machine.
"""

from __future__ import annotations

import asyncio
import os
import time
from array import array
from collections import Counter
from dataclasses import asdict, dataclass
from uuid import uuid4

from bench import colyseus, plots
from bench.cluster import BEFORE, Sampler, Servers, on_tree_schema
from bench.harness import Harness, cost_per, create_event, percentile, pg_cost, usage_note
from bench.phones import Phone, PhoneStats, PhoneSummary, http_join
from bench.workers import Channel, Job, run_slots

IN_FLIGHT = 200
PEER_RATIO = 1.5
MAX_ARRIVALS = 30_000


@dataclass(frozen=True, kw_only=True)
class ArrivalJob(Job):
    codes: list[str]
    slots: int  # arrivals in flight in this worker
    start_at: float  # wall clock (time.time())
    end_at: float
    max_arrivals: int
    hello_join: bool = False  # the join rides on the /ws hello: one connection


@dataclass(frozen=True)
class ArrivalResult:
    """One worker's arrivals: when each completed (wall clock) and its timings."""

    done_at: array[float]
    total_ms: array[float]
    join_ms: array[float]
    socket_ms: array[float]
    failures: dict[str, int]
    phones: PhoneSummary


async def arrival_job(job: ArrivalJob, channel: Channel) -> ArrivalResult:
    ports = job.ports
    codes = job.codes
    worker = job.worker
    offset = time.time() - time.perf_counter()
    done_at = array("d")
    total_ms = array("d")
    join_ms = array("d")
    socket_ms = array("d")
    failures: Counter[str] = Counter()
    stats = PhoneStats()
    phones: list[Phone] = []
    per_slot = job.max_arrivals // job.slots

    async def arrive(slot: int) -> None:
        await asyncio.sleep(max(0.0, job.start_at - time.time()))
        for n in range(per_slot):
            if time.time() >= job.end_at:
                return
            index = worker * job.slots + slot + n
            port = ports[index % len(ports)]
            code = codes[(worker * job.slots + slot) % len(codes)]
            started = time.perf_counter()
            name = f"a{worker}s{slot}n{n}"
            try:
                if job.hello_join:
                    phone = Phone(port, "", stats)
                    join = {"event": code, "device_id": str(uuid4()), "display_name": name}
                    await phone.connect(join=join)
                    joined = time.perf_counter()  # one round trip: no split to show
                else:
                    status, body = await http_join(port, code, str(uuid4()), name)
                    if status != 201:
                        failures[f"join {status} {body.get('code', '')}"] += 1
                        continue
                    joined = time.perf_counter()
                    phone = Phone(port, body["session_token"], stats)
                    await phone.connect()
            except ConnectionError as exc:
                failures[str(exc)[:80]] += 1
                continue
            except (OSError, TimeoutError) as exc:
                failures[type(exc).__name__] += 1
                continue
            finished = time.perf_counter()
            phones.append(phone)
            done_at.append(finished + offset)
            total_ms.append((finished - started) * 1000)
            join_ms.append((joined - started) * 1000)
            socket_ms.append((finished - joined) * 1000)
            channel.done += 1

    for exc in await run_slots(arrive, job.slots, end_at=job.end_at):
        failures[repr(exc)[:120]] += 1
    for phone in phones:
        phone.close()
    return ArrivalResult(
        done_at=done_at,
        total_ms=total_ms,
        join_ms=join_ms,
        socket_ms=socket_ms,
        failures=dict(failures),
        phones=stats.summary(),
    )


SHAPES = [(1, "one event"), (50, "50 events")]


async def arrivals(
    h: Harness,
    servers: Servers,
    codes: list[str],
    *,
    warmup: float,
    seconds: float,
    hello_join: bool = False,
) -> tuple[list[ArrivalResult], Sampler, float, float]:
    """Run the arrivals; returns each worker's result, the meters, the start and the end."""
    workers = 2
    start_at = time.time() + 1.5
    end_at = start_at + warmup + seconds
    jobs = [
        ArrivalJob(
            ports=servers.ports,
            codes=codes,
            slots=IN_FLIGHT // workers,
            start_at=start_at,
            end_at=end_at,
            max_arrivals=MAX_ARRIVALS // workers,
            hello_join=hello_join,
        )
        for _ in range(workers)
    ]
    results, meters = await h.run_jobs(
        servers,
        arrival_job,
        jobs,
        ArrivalResult,
        label="arrival",
        limit_s=warmup + seconds + 90,
        progress=lambda elapsed, n: (
            f"{elapsed:.0f} s of {warmup + seconds + 1.5:.0f} s, {n:,} arrivals"
        ),
    )
    return results, meters, start_at, end_at


@dataclass(frozen=True)
class Arrivals:
    """All workers' arrivals together; the latencies and the rate are the window's."""

    start_at: float
    window: tuple[float, float]
    done_at: list[float]
    total: list[float]
    joins: list[float]
    sockets: list[float]
    rate: float
    failures: Counter[str]
    closes: list[dict[int, int]]  # each worker's phones' closes


async def run(h: Harness) -> None:
    processes = h.processes or 2
    warmup, seconds = (2.0, 6.0) if h.quick else (2.0, 10.0)
    print(
        f"== arrival: join + /ws + welcome, and the join on the hello, {processes} rollcall"
        f" process(es), {IN_FLIGHT} in flight"
    )
    details = h.details.setdefault("arrival", {"processes": processes, "in_flight": IN_FLIGHT})
    latency_series: list[tuple[str, list[float]]] = []
    skipped = colyseus.install()
    if skipped is not None:
        print(f"   Colyseus peer skipped: {skipped}", flush=True)
        details["colyseus"] = {"skipped": skipped}
    for count, shape in SHAPES:
        peer = None
        if skipped is None:
            peer = await colyseus.arrivals(
                count,
                in_flight=IN_FLIGHT,
                warmup=warmup,
                seconds=seconds,
                max_arrivals=MAX_ARRIVALS,
            )
            h.figure(
                "arrival", f"Colyseus arrival, {shape}", peer.rate, "/s", note=colyseus.note(peer)
            )
            details[f"colyseus-{count}ev"] = asdict(peer)
        before = os.environ.get(BEFORE)
        if before:
            with on_tree_schema(h.db.url, before):
                earlier, earlier_meters = await _shape(h, processes, count, warmup, seconds)
            details[f"{count}ev-before"] = _report_before(h, shape, earlier, earlier_meters)
        measured, meters = await _shape(h, processes, count, warmup, seconds)
        details[f"{count}ev"] = _report(h, shape, count, measured, meters, peer)
        on_hello, hello_meters = await _shape(h, processes, count, warmup, seconds, hello_join=True)
        details[f"{count}ev-hello-join"] = _report(
            h, shape, count, on_hello, hello_meters, peer, hello_join=True
        )
        if before and earlier.rate:
            h.figure(
                "arrival",
                f"  after / before, {shape}",
                measured.rate / earlier.rate,
                "x",
                note=f"{measured.rate:,.0f} / {earlier.rate:,.0f} arrivals/s; before: {before}",
            )
        latency_series.append((f"arrival, {shape}", measured.total))
        latency_series.append((f"hello-join arrival, {shape}", on_hello.total))
    plots.latency_figure(
        h.out,
        "arrival-latency",
        "Participant arrival latency (join + /ws + welcome)",
        latency_series,
    )


async def _shape(
    h: Harness,
    processes: int,
    count: int,
    warmup: float,
    seconds: float,
    *,
    hello_join: bool = False,
) -> tuple[Arrivals, Sampler]:
    """Arrivals into `count` fresh events on fresh servers, measured."""
    h.forget_participants()
    with h.servers(processes) as servers:
        codes = [create_event(servers.url(), f"arrival {i}").code for i in range(count)]
        results, meters, start_at, end_at = await arrivals(
            h, servers, codes, warmup=warmup, seconds=seconds, hello_join=hello_join
        )
    return _measure(results, start_at, (start_at + warmup, end_at), seconds), meters


def _report_before(
    h: Harness, shape: str, measured: Arrivals, meters: Sampler
) -> dict[str, object]:
    usage = meters.window(*measured.window)
    h.figure(
        "arrival",
        f"  before: participant arrival, {shape}",
        measured.rate,
        "/s",
        note=f"p50 {percentile(measured.total, 50) or 0:.0f} ms;"
        f" {sum(measured.failures.values())} failed",
    )
    if usage:
        h.figure(
            "arrival",
            f"  before: rollcall CPU per arrival, {shape}",
            *cost_per(usage, measured.rate),
            note=pg_cost(usage, measured.rate),
        )
    return {"rate": measured.rate, "usage": usage, "failures": dict(measured.failures)}


def _measure(
    results: list[ArrivalResult], start_at: float, window: tuple[float, float], seconds: float
) -> Arrivals:
    done_at: list[float] = []
    total: list[float] = []
    joins: list[float] = []
    sockets: list[float] = []
    failures: Counter[str] = Counter()
    for result in results:
        done_at.extend(result.done_at)
        for at, t, j, s in zip(
            result.done_at, result.total_ms, result.join_ms, result.socket_ms, strict=True
        ):
            if window[0] <= at < window[1]:
                total.append(t)
                joins.append(j)
                sockets.append(s)
        failures.update(result.failures)
    return Arrivals(
        start_at=start_at,
        window=window,
        done_at=done_at,
        total=total,
        joins=joins,
        sockets=sockets,
        rate=len(total) / seconds,
        failures=failures,
        closes=[r.phones.closes for r in results],
    )


def _report(
    h: Harness,
    shape: str,
    count: int,
    measured: Arrivals,
    meters: Sampler,
    peer: colyseus.PeerRun | None,
    *,
    hello_join: bool = False,
) -> dict[str, object]:
    """Print and keep the figures of one shape (HTTP join then hello, or the join on the
    hello), plot it; returns its details."""
    rate, total, failures = measured.rate, measured.total, measured.failures
    usage = meters.window(*measured.window)
    wanted = PEER_RATIO * peer.rate if peer is not None and peer.rate else None
    way = "hello-join arrival" if hello_join else "participant arrival"
    split = (
        ""
        if hello_join
        else f" (join {percentile(measured.joins, 50) or 0:.0f},"
        f" socket+welcome {percentile(measured.sockets, 50) or 0:.0f})"
    )
    h.figure(
        "arrival",
        f"{way}, {shape}",
        rate,
        "/s",
        f">= {wanted:,.0f} ({PEER_RATIO:g} x Colyseus)" if wanted else "(Colyseus not run)",
        rate >= wanted if wanted else None,
        f"p50 {percentile(total, 50) or 0:.0f} ms{split},"
        f" p99 {percentile(total, 99) or 0:.0f} ms; {sum(failures.values())} failed",
    )
    if wanted and peer is not None:
        h.figure(
            "arrival",
            f"  rollcall / Colyseus, {way}, {shape}",
            rate / peer.rate,
            "x",
            f">= {PEER_RATIO:g}",
            rate / peer.rate >= PEER_RATIO,
            f"{rate:,.0f} / {peer.rate:,.0f} arrivals/s, measured one after the other",
        )
    if usage:
        h.figure(
            "arrival",
            f"  CPU, {way}, {shape}",
            usage["rollcall"]["cpu_cores"],
            "cores",
            note=usage_note(usage),
        )
        h.figure(
            "arrival",
            f"  rollcall CPU per arrival, {way}, {shape}",
            *cost_per(usage, rate),
            note=pg_cost(usage, rate),
        )
    if failures:
        print("   failures:", dict(failures.most_common(4)))
    what = "hello with its join + welcome" if hello_join else "join + /ws + welcome"
    plots.throughput(
        h.out,
        f"arrival-hello-{count}ev" if hello_join else f"arrival-{count}ev",
        f"{way}, {shape}",
        [(f"arrivals ({what}), {shape}", measured.start_at, measured.done_at)],
        cpu=meters,
        window=measured.window,
    )
    return {
        "rate": rate,
        "failures": dict(failures),
        "usage": usage,
        "p50_ms": percentile(total, 50),
        "p99_ms": percentile(total, 99),
        "join_p50_ms": percentile(measured.joins, 50),
        "socket_p50_ms": percentile(measured.sockets, 50),
        "closes": measured.closes,
    }
