"""The default `rollcall serve` as an operator runs it, under an off-the-shelf load tool.

One `rollcall serve` with its default workers (one per core) on one port, and wrk (Debian's
`wrk`; scripts/install-wrk) against it: 64 keep-alive connections, each POSTing joins of new
devices to one event back to back (bench/wrk/join.lua). Beside it, in the same run and on the
same PostgreSQL, the plain-insert pgbench of the joins scenario (16 clients): the join rate is
given as a share of it. Each worker's CPU seconds in the window say whether the connections
were spread evenly; pg_stat_activity, sampled meanwhile, says what the join's database
sessions waited on. With ROLLCALL_BENCH_BEFORE the same runs on that tree first.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psutil

from bench.cluster import BEFORE, REPO, MachineMeter, Servers, on_tree_schema
from bench.harness import MAX_CAPACITY, UNBINDING_LIMITS, Harness, create_event
from bench.joins import plain_insert
from bench.profile import WaitSampler

CONNECTIONS = 64
WRK_THREADS = 2
SCRIPT = REPO / "bench" / "wrk" / "join.lua"
TARGET_SHARE = 0.40
"""The join rate over the plain-insert pgbench's, at least."""
TARGET_BALANCE = 1.5
"""The busiest worker's CPU over the idlest's, at most."""


@dataclass(frozen=True)
class WrkRun:
    """What wrk's script printed at the end, and what wrk itself used."""

    requests: int
    seconds: float
    failed: dict[str, int]  # answers other than 2xx or 3xx, and socket errors, by kind
    p50_ms: float
    p99_ms: float
    cpu_s: float

    @property
    def answered(self) -> int:
        return self.requests - sum(self.failed.values())

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0


def _wrk_binary() -> str | None:
    return shutil.which("wrk")


def _run_wrk(wrk: str, url: str, path: str, seconds: float) -> WrkRun:
    """wrk for `seconds`, its own CPU read from its exit (wait4)."""
    args = [wrk, "-t", str(WRK_THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds:.0f}s"]
    args += ["--timeout", "10s", "-s", str(SCRIPT), url, "--", path, str(secrets.randbits(31))]
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    line = next((x for x in text.splitlines() if x.startswith("result ")), None)
    if process.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{text[-2000:]}")
    result = json.loads(line.removeprefix("result "))
    errors = ("status", "connect", "read", "write", "timeout")
    return WrkRun(
        requests=int(result["requests"]),
        seconds=result["duration_us"] / 1e6,
        failed={name: int(result[name]) for name in errors if result[name]},
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        cpu_s=usage.ru_utime + usage.ru_stime,
    )


def worker_pids(parent: int) -> list[int]:
    """The worker processes of a `rollcall serve` (not multiprocessing's resource tracker)."""
    return [
        child.pid
        for child in psutil.Process(parent).children()
        if any("spawn_main" in part for part in child.cmdline())
    ]


def _wait_listening(servers: Servers, workers: int, timeout: float = 60) -> None:
    """Until each of the workers holds a listening socket on the port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listening = 0
        for pid in worker_pids(servers.pids[0]):
            with contextlib.suppress(psutil.Error):
                listening += any(
                    c.status == psutil.CONN_LISTEN and c.laddr.port == servers.ports[0]
                    for c in psutil.Process(pid).net_connections(kind="tcp")
                )
        if listening == workers:
            return
        time.sleep(0.05)
    raise TimeoutError(f"not all {workers} workers listen:\n{servers.log(servers.ports[0])}")


def _cpu_seconds(pids: list[int]) -> dict[int, float]:
    seconds: dict[int, float] = {}
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            seconds[pid] = times.user + times.system
    return seconds


@contextlib.contextmanager
def _tree(h: Harness, src: str | None) -> Iterator[None]:
    if src is None:
        yield
    else:
        with on_tree_schema(h.db.url, src):
            yield


async def run(h: Harness) -> None:
    wrk = _wrk_binary()
    seconds = 6 if h.quick else 12
    workers = os.cpu_count() or 1
    print(f"== serve: wrk against one `rollcall serve` ({workers} workers), {CONNECTIONS} conns")
    details: dict[str, Any] = h.details.setdefault(
        "serve", {"workers": workers, "connections": CONNECTIONS, "seconds": seconds}
    )
    if wrk is None:
        print("   wrk is missing (Debian's `wrk`: bash scripts/install-wrk): skipped", flush=True)
        details["skipped"] = "wrk missing"
        return
    plain = await plain_insert(h, seconds, details, scenario="serve")
    trees: list[tuple[str, str | None]] = []
    if os.environ.get(BEFORE):
        trees.append(("before", os.environ[BEFORE]))
    trees.append(("this tree", None))
    for label, src in trees:
        with _tree(h, src):
            measured = _serve_and_load(h, wrk, workers, seconds)
        h.forget_participants()
        _report(h, label, measured, plain.tps, details.setdefault(label, {}))


@dataclass(frozen=True)
class Measured:
    wrk: WrkRun
    workers: dict[int, float]  # each worker's CPU seconds in the window
    rollcall_s: float  # the parent and its workers
    postgres_s: float
    machine_s: float  # every process's, ours and others'
    waits: list[tuple[str, float]]
    replaced: int  # workers that uvicorn's supervisor replaced during the window


def _serve_and_load(h: Harness, wrk: str, workers: int, seconds: float) -> Measured:
    settings = {"max_capacity": str(MAX_CAPACITY), **UNBINDING_LIMITS}
    servers = Servers(h.db.url, 1, settings=settings, workers=None)
    postgres = h.postgres_meter()
    with servers.running():
        _wait_listening(servers, workers)
        code = create_event(servers.url(), "wrk").code
        path = f"/api/events/{code}/join"
        _run_wrk(wrk, servers.url(), path, 2)  # warm-up: every worker's pool and plans
        pids = worker_pids(servers.pids[0])
        everyone = [servers.pids[0], *pids]
        before = _cpu_seconds(everyone)
        pg_before = postgres.cpu_seconds() if postgres else 0.0
        machine_before = MachineMeter().cpu_seconds()
        with WaitSampler(h.db) as waits:
            run = _run_wrk(wrk, servers.url(), path, seconds)
        after = _cpu_seconds(everyone)
        replaced = len(set(pids) - set(worker_pids(servers.pids[0])))
        pg_after = postgres.cpu_seconds() if postgres else 0.0
        machine_after = MachineMeter().cpu_seconds()
    spent = {pid: after[pid] - before[pid] for pid in before if pid in after}
    return Measured(
        wrk=run,
        workers={pid: spent[pid] for pid in pids if pid in spent},
        rollcall_s=sum(spent.values()),
        postgres_s=pg_after - pg_before,
        machine_s=machine_after - machine_before,
        waits=waits.busy()[:6],
        replaced=replaced,
    )


def _report(
    h: Harness, label: str, measured: Measured, plain_tps: float, details: dict[str, Any]
) -> None:
    run = measured.wrk
    share = run.rate / plain_tps if plain_tps else None
    cpu = sorted(measured.workers.values())
    balance = cpu[-1] / cpu[0] if len(cpu) > 1 and cpu[0] > 0 else None
    details.update(
        rate=run.rate,
        requests=run.requests,
        failed=run.failed,
        p50_ms=run.p50_ms,
        p99_ms=run.p99_ms,
        share_of_plain_insert=share,
        worker_cpu_s=list(measured.workers.values()),
        rollcall_cpu_s=measured.rollcall_s,
        postgres_cpu_s=measured.postgres_s,
        wrk_cpu_s=run.cpu_s,
        waits=measured.waits,
    )
    h.figure(
        "serve",
        f"wrk joins, one event, {label}",
        run.rate,
        "joins/s",
        note=f"failed: {run.failed or 'none'}; p50 {run.p50_ms:.0f} ms, p99 {run.p99_ms:.0f} ms",
    )
    h.figure(
        "serve",
        f"  as share of plain INSERT, {label}",
        share,
        "x",
        f">= {TARGET_SHARE:.2f}",
        share is not None and share >= TARGET_SHARE,
        f"plain INSERT {plain_tps:,.0f} tx/s",
    )
    h.figure(
        "serve",
        f"  busiest worker's CPU over the idlest's, {label}",
        balance,
        "x",
        f"<= {TARGET_BALANCE}",
        balance is not None and balance <= TARGET_BALANCE,
        "CPU s: "
        + ", ".join(f"{s:.1f}" for s in measured.workers.values())
        + (f"; {measured.replaced} worker(s) replaced meanwhile" if measured.replaced else ""),
    )
    others = max(0.0, measured.machine_s - measured.rollcall_s - measured.postgres_s - run.cpu_s)
    per_join = 1000 * measured.rollcall_s / max(1, run.answered)
    h.figure(
        "serve",
        f"  rollcall CPU per join, {label}",
        per_join,
        "ms",
        note=f"rollcall {measured.rollcall_s / run.seconds:.2f} cores, PostgreSQL"
        f" {measured.postgres_s / run.seconds:.2f}, wrk {run.cpu_s / run.seconds:.2f};"
        f" other processes {others / run.seconds:.2f}",
    )
    for what, sessions in measured.waits:
        print(f"      {sessions:5.2f} sessions  {what}", flush=True)
