"""Colyseus 0.18, the arrival's peer: the same arrival, at a game server that persists nothing.

Installed with npm into artifacts/colyseus (from bench/peers/colyseus/package.json) when node
and npm are on the PATH; otherwise the peer is skipped and says so. One Node process serves one
room type ("event", bench/peers/colyseus/server.mjs), with as many rooms as rollcall's run has
events; two Node drivers (driver.mjs; rollcall's arrival has two load generators too) keep
IN_FLIGHT arrivals going: a new @colyseus/sdk client per phone, `joinById` (an HTTP seat
reservation, then a WebSocket and the room's join confirmation), the socket kept open to the
end, counted in the same window as rollcall's.

`--legacy-peer-deps`: the `colyseus` package names @colyseus/uwebsockets-transport as a peer,
which pulls uWebSockets.js from GitHub rather than the registry; the bench uses the
ws-transport, so the peers npm would add are left out and the ones used are listed instead.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field

from bench.cluster import REPO, CpuMeter, MachineMeter, Sampler, Usage, free_port
from bench.harness import percentile

PEER = REPO / "bench" / "peers" / "colyseus"
INSTALL = REPO / "artifacts" / "colyseus"
FILES = ("package.json", "server.mjs", "driver.mjs")
INSTALL_TIMEOUT_S = 300
READY_TIMEOUT_S = 30
DRIVERS = 2  # load generator processes, as rollcall's arrival has
OUTPUT_LIMIT = 1 << 26  # the driver's one line: every arrival's times
NPM_FLAGS = ("--legacy-peer-deps", "--loglevel", "error")


@dataclass(frozen=True)
class PeerRun:
    """One shape of Colyseus arrivals: the rate in the window and what it cost."""

    rate: float
    arrivals: int
    p50_ms: float | None
    p99_ms: float | None
    failures: dict[str, int]
    usage: Usage = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)


def install() -> str | None:
    """Install the peer into artifacts/colyseus; returns why it was skipped, or None."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return "node and npm are not both on the PATH"
    INSTALL.mkdir(parents=True, exist_ok=True)
    wanted = (PEER / "package.json").read_text()
    installed = INSTALL / "package.json"
    fresh = (
        (INSTALL / "node_modules").is_dir()
        and installed.exists()
        and installed.read_text() == wanted
    )
    for name in FILES:
        shutil.copyfile(PEER / name, INSTALL / name)
    if fresh:
        return None
    print("   installing Colyseus 0.18 into artifacts/colyseus (npm)", flush=True)
    done = subprocess.run(
        [npm, "install", "--prefix", str(INSTALL), "--no-audit", "--no-fund", *NPM_FLAGS],
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        installed.unlink(missing_ok=True)
        return f"npm install failed: {done.stderr.strip()[-300:]}"
    return None


def versions() -> dict[str, str]:
    found: dict[str, str] = {}
    for name in ("colyseus", "@colyseus/core", "@colyseus/ws-transport", "@colyseus/sdk"):
        manifest = INSTALL / "node_modules" / name / "package.json"
        if manifest.exists():
            found[name] = str(json.loads(manifest.read_text()).get("version", "?"))
    return found


async def arrivals(
    rooms: int, *, in_flight: int, warmup: float, seconds: float, max_arrivals: int
) -> PeerRun:
    """Serve `rooms` rooms and drive arrivals at them; the rate counts the measured window."""
    node = shutil.which("node")
    assert node is not None
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        node,
        str(INSTALL / "server.mjs"),
        str(port),
        str(rooms),
        cwd=INSTALL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert server.stdout is not None
        line = (await asyncio.wait_for(server.stdout.readline(), READY_TIMEOUT_S)).decode()
        if not line.startswith("ready "):
            raise RuntimeError(f"the Colyseus server did not start: {line!r}")
        room_ids = line.removeprefix("ready ").strip()
        per_driver = in_flight // DRIVERS
        drivers = [
            await asyncio.create_subprocess_exec(
                node,
                str(INSTALL / "driver.mjs"),
                f"ws://127.0.0.1:{port}",
                room_ids,
                str(per_driver),
                str(warmup),
                str(seconds),
                str(max_arrivals // DRIVERS),
                str(n * per_driver),
                cwd=INSTALL,
                limit=OUTPUT_LIMIT,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
            for n in range(DRIVERS)
        ]
        meters = {
            "colyseus": CpuMeter([server.pid], with_children=False),
            "clients": CpuMeter([d.pid for d in drivers], with_children=False),
            "machine": MachineMeter(),
        }
        with Sampler(meters) as sampler:
            results = [
                json.loads(line)
                for line in await asyncio.wait_for(
                    asyncio.gather(*(_first_line(d) for d in drivers)),
                    timeout=warmup + seconds + 90,
                )
            ]
            for driver in drivers:  # each closes its sockets, then exits
                try:
                    await asyncio.wait_for(driver.wait(), timeout=30)
                except TimeoutError:
                    driver.kill()
                    await driver.wait()
    finally:
        server.terminate()
        try:
            await asyncio.wait_for(server.wait(), timeout=10)
        except TimeoutError:
            server.kill()
            await server.wait()
    inside: list[float] = []
    failures: Counter[str] = Counter()
    for result in results:
        failures.update(result["failures"])
        inside.extend(
            d
            for at, d in zip(result["doneAt"], result["durations"], strict=True)
            if warmup <= at / 1000 < warmup + seconds
        )
    started = min(float(result["started"]) for result in results) / 1000
    return PeerRun(
        rate=len(inside) / seconds,
        arrivals=sum(len(result["doneAt"]) for result in results),
        p50_ms=percentile(inside, 50),
        p99_ms=percentile(inside, 99),
        failures=dict(failures),
        usage=sampler.window(started + warmup, started + warmup + seconds),
        versions=versions(),
    )


async def _first_line(process: asyncio.subprocess.Process) -> bytes:
    assert process.stdout is not None
    return await process.stdout.readline()


def note(run: PeerRun) -> str:
    cpu = ", ".join(
        f"{name} {u['cpu_cores']:.2f}" for name, u in run.usage.items() if name != "machine"
    )
    return (
        f"Colyseus {run.versions.get('colyseus', '?')} (core"
        f" {run.versions.get('@colyseus/core', '?')}), 1 process; p50 {run.p50_ms or 0:.0f} ms,"
        f" p99 {run.p99_ms or 0:.0f} ms; {sum(run.failures.values())} failed;"
        f" {cpu} cores"
    )
