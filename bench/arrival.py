"""Full participant arrival: join over HTTP, then open /ws, say hello and receive the welcome.

Each arrival is a phone that just scanned the QR code: a new TCP connection for the join, then
a second one for the WebSocket, kept open (silent) until the end of the run. 200 arrivals are
in flight at any time, spread over the rollcall processes.
"""

from __future__ import annotations

import asyncio
import time
from array import array
from collections import Counter
from typing import Any
from uuid import uuid4

from bench import plots
from bench.cluster import Sampler, Servers
from bench.harness import Harness, cost_per, create_event, percentile, pg_cost, usage_note
from bench.phones import Phone, PhoneStats, http_join
from bench.workers import Channel, Workers

IN_FLIGHT = 200
TARGET_RATE = 1000
COLYSEUS_RATE = 641
MAX_ARRIVALS = 30_000


async def arrival_job(job: dict[str, Any], channel: Channel) -> dict[str, Any]:
    ports: list[int] = job["ports"]
    codes: list[str] = job["codes"]
    worker: int = job["worker"]
    start_at: float = job["start_at"]
    end_at: float = job["end_at"]
    offset = time.time() - time.perf_counter()
    done_at = array("d")
    total_ms = array("d")
    join_ms = array("d")
    socket_ms = array("d")
    failures: Counter[str] = Counter()
    stats = PhoneStats()
    phones: list[Phone] = []
    per_slot = job["max_arrivals"] // job["slots"]

    async def arrive(slot: int) -> None:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        for n in range(per_slot):
            if time.time() >= end_at:
                return
            index = worker * job["slots"] + slot + n
            port = ports[index % len(ports)]
            code = codes[(worker * job["slots"] + slot) % len(codes)]
            started = time.perf_counter()
            try:
                status, body = await http_join(port, code, str(uuid4()), f"a{worker}s{slot}n{n}")
                if status != 201:
                    failures[f"join {status} {body.get('code', '')}"] += 1
                    continue
                joined = time.perf_counter()
                phone = Phone(port, body["session_token"], stats)
                await phone.connect()
            except (OSError, ConnectionError, TimeoutError) as exc:
                failures[type(exc).__name__] += 1
                continue
            finished = time.perf_counter()
            phones.append(phone)
            done_at.append(finished + offset)
            total_ms.append((finished - started) * 1000)
            join_ms.append((joined - started) * 1000)
            socket_ms.append((finished - joined) * 1000)
            channel.done += 1

    tasks = [asyncio.create_task(arrive(slot)) for slot in range(job["slots"])]
    _, pending = await asyncio.wait(tasks, timeout=max(1.0, end_at - time.time()) + 30)
    for task in pending:
        task.cancel()
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            failures[repr(task.exception())[:120]] += 1
    for phone in phones:
        phone.close()
    return {
        "done_at": done_at,
        "total_ms": total_ms,
        "join_ms": join_ms,
        "socket_ms": socket_ms,
        "failures": dict(failures),
        "phones": stats.summary(),
    }


SHAPES = [(1, "one event"), (50, "50 events")]


async def arrivals(
    h: Harness, servers: Servers, codes: list[str], *, warmup: float, seconds: float
) -> tuple[list[dict[str, Any]], Sampler, float, float]:
    """Run the arrivals; returns each worker's result, the meters, the start and the end."""
    workers = 2
    start_at = time.time() + 1.5
    end_at = start_at + warmup + seconds
    jobs = [
        {
            "ports": servers.ports,
            "codes": codes,
            "slots": IN_FLIGHT // workers,
            "start_at": start_at,
            "end_at": end_at,
            "max_arrivals": MAX_ARRIVALS // workers,
        }
        for _ in range(workers)
    ]
    pool = Workers(arrival_job, jobs, label="arrival")
    pool.start()
    began = time.monotonic()
    try:
        with h.sampler(servers, pool.pids) as meters:
            results = await pool.gather(
                "result",
                limit_s=warmup + seconds + 90,
                progress=lambda n: (
                    f"{time.monotonic() - began:.0f} s of {warmup + seconds + 1.5:.0f} s,"
                    f" {n:,} arrivals"
                ),
            )
    finally:
        pool.close()
    return results, meters, start_at, end_at


async def run(h: Harness) -> None:
    processes = h.processes or 2
    warmup, seconds = (2.0, 6.0) if h.quick else (2.0, 10.0)
    print(
        f"== arrival: join + /ws + welcome, {processes} rollcall process(es), {IN_FLIGHT} in flight"
    )
    details = h.details.setdefault("arrival", {"processes": processes, "in_flight": IN_FLIGHT})
    latency_series: list[tuple[str, list[float]]] = []
    meters = None
    for count, shape in SHAPES:
        h.forget_participants()
        with h.servers(processes) as servers:
            codes = [
                create_event(servers.url(), f"arrival {i}")["event"]["code"] for i in range(count)
            ]
            results, meters, start_at, end_at = await arrivals(
                h, servers, codes, warmup=warmup, seconds=seconds
            )
        window = (start_at + warmup, end_at)
        done_at: list[float] = []
        total: list[float] = []
        joins: list[float] = []
        sockets: list[float] = []
        failures: Counter[str] = Counter()
        for result in results:
            done_at.extend(result["done_at"])
            for at, t, j, s in zip(
                result["done_at"],
                result["total_ms"],
                result["join_ms"],
                result["socket_ms"],
                strict=True,
            ):
                if window[0] <= at < window[1]:
                    total.append(t)
                    joins.append(j)
                    sockets.append(s)
            failures.update(result["failures"])
        rate = len(total) / seconds
        usage = meters.window(*window)
        details[f"{count}ev"] = {
            "rate": rate,
            "failures": dict(failures),
            "usage": usage,
            "p50_ms": percentile(total, 50),
            "p99_ms": percentile(total, 99),
            "join_p50_ms": percentile(joins, 50),
            "socket_p50_ms": percentile(sockets, 50),
            "closes": [r["phones"]["closes"] for r in results],
        }
        h.figure(
            "arrival",
            f"participant arrival, {shape}",
            rate,
            "/s",
            f">= {TARGET_RATE:,} (Colyseus {COLYSEUS_RATE})",
            rate >= TARGET_RATE,
            f"p50 {percentile(total, 50) or 0:.0f} ms (join {percentile(joins, 50) or 0:.0f},"
            f" socket+welcome {percentile(sockets, 50) or 0:.0f}),"
            f" p99 {percentile(total, 99) or 0:.0f} ms; {sum(failures.values())} failed",
        )
        if usage:
            h.figure(
                "arrival",
                f"  CPU, {shape}",
                usage["rollcall"]["cpu_cores"],
                "cores",
                note=usage_note(usage),
            )
            h.figure(
                "arrival",
                f"  rollcall CPU per arrival, {shape}",
                *cost_per(usage, rate),
                note=pg_cost(usage, rate),
            )
        if failures:
            print("   failures:", dict(failures.most_common(4)))
        latency_series.append((f"arrival, {shape}", total))
        plots.throughput(
            h.out,
            f"arrival-{count}ev",
            f"participant arrival, {shape}",
            [(f"arrivals (join + /ws + welcome), {shape}", start_at, done_at)],
            cpu=meters,
            window=window,
        )
    plots.latency_figure(
        h.out,
        "arrival-latency",
        "Participant arrival latency (join + /ws + welcome)",
        latency_series,
    )
