"""The roll call of a big event: GET /api/events/{code}/attendance for 10,000 participants.

One rollcall process. Two events are filled over HTTP, one of 1,000 participants and one of
10,000; then, in SQL, a quarter of each goes offline, a quarter away and a tenth leaves (each
change through the attendance trigger, as the sweep's and a leave's would). Each event's roll
call is read whole, as JSON and as CSV, ROUNDS times, each timed from the request to its last
byte, while the rollcall process's memory (RSS) is sampled every 10 ms.

Targets: the 10,000-participant export within 2 s in either format; memory flat: reading it
takes the process's RSS no higher than reading the 1,000 one did (within FLAT_MB), since the
rows stream a page at a time. The 1,000 runs go first and the process is warmed up before
them, so what the 10,000 runs add above that is what the size costs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from statistics import median

import httpx

from bench.cluster import CpuMeter, Sampler
from bench.harness import Harness, NewEvent, create_event
from bench.phones import join_silently

SIZES = (1_000, 10_000)
FORMATS = ("json", "csv")
ROUNDS = 3
TARGET_S = 2.0
FLAT_MB = 8.0
SAMPLE_EVERY_S = 0.01

HISTORY = """
WITH ranked AS (
    SELECT p.id, row_number() OVER (ORDER BY p.join_timestamp, p.id) AS n
    FROM event_participants AS p JOIN events AS e ON e.id = p.event_id
    WHERE e.code = %(code)s
)
UPDATE event_participants AS p SET
    last_heartbeat = CASE WHEN r.n %% 4 = 1 THEN now() - interval '10 minutes'
                          ELSE p.last_heartbeat END,
    away = r.n %% 4 = 2,
    reported_presence = CASE r.n %% 4 WHEN 1 THEN 'offline' WHEN 2 THEN 'away'
                                     ELSE p.reported_presence END,
    status = CASE WHEN r.n %% 10 = 3 THEN 'left' ELSE p.status END
FROM ranked AS r WHERE p.id = r.id
"""
"""Some history: offline, away, left; the attendance trigger keeps each change."""


@dataclass(frozen=True)
class Export:
    size: int
    fmt: str
    seconds: float
    bytes: int
    rows: int
    cpu_s: float  # the rollcall process's CPU for it
    rss_peak: int  # the rollcall process's RSS at its highest while it ran


async def _export(
    client: httpx.AsyncClient, event: NewEvent, size: int, fmt: str, meter: CpuMeter
) -> Export:
    cpu_before = meter.cpu_seconds()
    with Sampler({"rollcall": meter}, interval=SAMPLE_EVERY_S) as sampler:
        began = time.monotonic()
        received = 0
        lines = 0
        marker = b"\n" if fmt == "csv" else b'"display_name"'
        tail = b""  # a marker may span two chunks
        async with client.stream(
            "GET",
            f"/api/events/{event.code}/attendance",
            params={"format": fmt},
            headers={"Authorization": f"Bearer {event.host_token}"},
        ) as answer:
            answer.raise_for_status()
            async for chunk in answer.aiter_bytes():
                received += len(chunk)
                joined = tail + chunk
                lines += joined.count(marker) - tail.count(marker)
                tail = joined[-(len(marker) - 1) :] if len(marker) > 1 else b""
        seconds = time.monotonic() - began
    return Export(
        size=size,
        fmt=fmt,
        seconds=seconds,
        bytes=received,
        rows=lines - 1 if fmt == "csv" else lines,
        cpu_s=meter.cpu_seconds() - cpu_before,
        rss_peak=max(s.rss["rollcall"] for s in sampler.samples),
    )


async def run(h: Harness) -> None:
    print(
        f"== attendance: the roll call of {' and '.join(f'{n:,}' for n in SIZES)} participants,"
        f" JSON and CSV, {ROUNDS} rounds each, 1 rollcall process"
    )
    h.forget_participants()
    with h.servers(1) as servers:
        port = servers.ports[0]
        events: dict[int, NewEvent] = {}
        for size in SIZES:
            event = create_event(servers.url(), f"roll call of {size}", capacity=size)
            began = time.monotonic()
            joined = await join_silently(port, event.code, size, prefix="Person ")
            print(f"   {joined:,} joined in {time.monotonic() - began:.0f} s", flush=True)
            with h.db.connect() as conn:
                conn.execute(HISTORY, {"code": event.code})
            events[size] = event
        meter = CpuMeter(servers.pids, with_children=False)
        async with httpx.AsyncClient(base_url=servers.url(), timeout=60) as client:
            warm = create_event(servers.url(), "warm-up", capacity=10)
            await join_silently(port, warm.code, 10, prefix="Warm ")
            for fmt in FORMATS:
                await _export(client, warm, 10, fmt, meter)
            rest_rss = meter.rss_bytes()
            exports = [
                await _export(client, events[size], size, fmt, meter)
                for size in SIZES
                for fmt in FORMATS
                for _ in range(ROUNDS)
            ]
    _report(h, exports, rest_rss)


def _report(h: Harness, exports: list[Export], rest_rss: int) -> None:
    h.details["attendance"] = {
        "rest_rss": rest_rss,
        "exports": [e.__dict__ for e in exports],
    }
    peaks = {size: max(e.rss_peak for e in exports if e.size == size) for size in SIZES}
    small, large = SIZES
    for fmt in FORMATS:
        for size in SIZES:
            runs = [e for e in exports if e.size == size and e.fmt == fmt]
            worst = max(e.seconds for e in runs)
            rows = {e.rows for e in runs}
            h.figure(
                "attendance",
                f"roll call of {size:,}, {fmt.upper()}",
                worst,
                "s",
                f"<= {TARGET_S:g}" if size == large else "",
                worst <= TARGET_S if size == large else None,
                f"slowest of {len(runs)}; median {median(e.seconds for e in runs):.2f} s;"
                f" {runs[0].bytes / 2**20:.2f} MiB, {sorted(rows)} rows;"
                f" rollcall CPU {median(e.cpu_s for e in runs):.2f} s",
            )
    grown = (peaks[large] - peaks[small]) / 2**20
    h.figure(
        "attendance",
        f"memory: RSS peak reading {large:,} above reading {small:,}",
        grown,
        "MB",
        f"<= {FLAT_MB:g}",
        grown <= FLAT_MB,
        f"at rest {rest_rss / 2**20:.0f} MB; peak {peaks[small] / 2**20:.0f} MB reading"
        f" {small:,}, {peaks[large] / 2**20:.0f} MB reading {large:,}",
    )
