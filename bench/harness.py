"""The state one `python -m bench` run shares: database, server settings, figures, output files."""

from __future__ import annotations

import contextlib
import json
import platform
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil

from bench.cluster import (
    REPO,
    CpuMeter,
    Database,
    MachineMeter,
    Sampler,
    Servers,
    Usage,
    rollcall_source,
)
from bench.workers import JobFn, JobT, Workers

T = TypeVar("T")

# Every bench server allows events this large, so one event can take a whole stampede.
MAX_CAPACITY = 1_000_000


UNBINDING_LIMITS = {
    "limit_joins": "100000000/minute",
    "limit_guesses": "100000000/minute",
    "limit_events": "100000000/minute",
    "limit_ws_messages": "1000000/second",
    "limit_actions": "1000000/second",
}
"""The load comes from one address: the rate limits are checked on every request, as in
production, but set so high that none refuses the bench."""


@dataclass
class Figure:
    """One measured figure, printed beside its target."""

    scenario: str
    name: str
    value: float | None
    unit: str
    target: str = ""
    met: bool | None = None
    note: str = ""

    def shown(self) -> str:
        if self.value is None:
            return "n/a"
        if self.unit == "" and float(self.value).is_integer():
            return f"{self.value:,.0f}"
        if self.unit == "%":
            return f"{self.value:.0f} %"
        if abs(self.value) >= 100:
            return f"{self.value:,.0f} {self.unit}".strip()
        return f"{self.value:.2f} {self.unit}".strip()


@dataclass
class Harness:
    out: Path
    quick: bool = False
    processes: int | None = None
    phones: int | None = None  # the soak's phones, when not its default
    database: Database | None = None
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    _postmaster: int | None = None

    @property
    def db(self) -> Database:
        assert self.database is not None
        return self.database

    @property
    def work(self) -> Path:
        """Raw files (pgbench logs, py-spy stacks): never recorded in docs/."""
        path = REPO / "artifacts" / "bench"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def open(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.work / "logs", ignore_errors=True)  # the servers' logs of this run only
        print("== setting up: PostgreSQL and the schema", flush=True)
        self.database = Database.start()
        Servers(self.db.url, 1).migrate()
        self.details["database"] = {"where": self.db.where, **self.db.server_facts()}
        _, source = rollcall_source()
        self.details["rollcall"] = source
        self.details["machine"] = machine()
        print(f"   database: {self.db.where}", flush=True)
        print(f"   rollcall: {source}", flush=True)

    def close(self) -> None:
        if self.database is not None:
            self.database.close()
            self.database = None

    def figure(
        self,
        scenario: str,
        name: str,
        value: float | None,
        unit: str,
        target: str = "",
        met: bool | None = None,
        note: str = "",
    ) -> Figure:
        figure = Figure(scenario, name, value, unit, target, met, note)
        self.figures.append(figure)
        mark = {True: "ok  ", False: "MISS", None: "    "}[figure.met]
        target = f"  (target {figure.target})" if figure.target else ""
        note = f"  [{figure.note}]" if figure.note else ""
        print(f"   {mark} {figure.name}: {figure.shown()}{target}{note}", flush=True)
        return figure

    def forget_participants(self) -> None:
        """Let every participant of the earlier runs leave, quietly, between runs.

        Phones of an earlier run that never opened a socket go offline 30 s after they
        joined, and the presence sweep then announces each of them: without this, that work
        would land in the middle of the next run's measurement. The rows stay (a server that
        has been running has them; emptying the table would also change the query plans).
        The table is vacuumed after it, so that cleaning up the rows this update (and the run
        before) left behind is not the autovacuum's work during the next run's measurement.
        """
        with self.db.connect() as conn:
            conn.execute(
                "UPDATE event_participants SET status = 'left', reported_presence = 'left',"
                " session_token_hash = NULL WHERE status <> 'left'"
            )
            conn.execute("VACUUM (ANALYZE) event_participants")

    @contextlib.contextmanager
    def servers(self, count: int, **settings: str | float) -> Iterator[Servers]:
        env = {
            "max_capacity": str(MAX_CAPACITY),
            **UNBINDING_LIMITS,
            **{k: str(v) for k, v in settings.items()},
        }
        servers = Servers(self.db.url, count, settings=env)
        with servers.running():
            yield servers

    def postgres_meter(self) -> CpuMeter | None:
        if self._postmaster is None:
            found = self.db.postmaster()
            self._postmaster = found.pid if found is not None else 0
        if not self._postmaster:
            return None
        return CpuMeter([self._postmaster], with_children=True)

    def sampler(self, servers: Servers, clients: list[int], *, interval: float = 0.5) -> Sampler:
        meters = {
            "rollcall": CpuMeter(servers.pids, with_children=False),
            "clients": CpuMeter(clients, with_children=False),
        }
        postgres = self.postgres_meter()
        if postgres is not None:
            meters["postgres"] = postgres
        meters["machine"] = MachineMeter()
        return Sampler(meters, interval=interval)

    async def run_jobs(
        self,
        servers: Servers,
        fn: JobFn[JobT],
        jobs: Sequence[JobT],
        result: type[T],
        *,
        label: str,
        limit_s: float,
        progress: Callable[[float, int], str],
    ) -> tuple[list[T], Sampler]:
        """Run one job per worker process to its end, sampling CPU meanwhile.

        Returns each worker's result, in worker order, and the sampler. `progress` gets the
        seconds since the workers started and the count they have done, for a line printed
        every few seconds.
        """
        async with Workers(fn, jobs, label=label) as pool:
            began = time.monotonic()
            with self.sampler(servers, pool.pids) as meters:
                results = await pool.gather(
                    "result",
                    result,
                    limit_s=limit_s,
                    progress=lambda done: progress(time.monotonic() - began, done),
                )
        return results, meters

    def save(self) -> Path:
        path = self.out / "results.json"
        path.write_text(
            json.dumps(
                {
                    "figures": [asdict(f) for f in self.figures],
                    "details": self.details,
                    "seconds": time.time() - self.started,
                },
                indent=1,
                default=str,
            )
        )
        return path


def others(usage: Usage) -> float | None:
    """CPU (cores) that processes outside the benchmark used in a window: noise to report."""
    if "machine" not in usage:
        return None
    ours = sum(u["cpu_cores"] for name, u in usage.items() if name != "machine")
    return max(0.0, usage["machine"]["cpu_cores"] - ours)


def usage_note(usage: Usage) -> str:
    """'rollcall 1.2, postgres 0.5, clients 0.1 cores; others 0.0' for a figure's note."""
    parts = [f"{name} {u['cpu_cores']:.2f}" for name, u in usage.items() if name != "machine"]
    noise = others(usage)
    text = ", ".join(parts) + " cores"
    if noise is not None:
        text += f"; other processes {noise:.2f}"
    return text


def cost_per(usage: Usage, rate: float) -> tuple[float | None, str]:
    """CPU milliseconds per operation: (rollcall's, unit), PostgreSQL's in the note.

    Unlike a rate, this hardly moves when other processes take CPU away, so it is the figure
    to compare between runs (and before and after a change) on a shared machine.
    """
    if not rate or "rollcall" not in usage:
        return None, "ms"
    return 1000 * usage["rollcall"]["cpu_cores"] / rate, "ms"


def pg_cost(usage: Usage, rate: float) -> str:
    if not rate or "postgres" not in usage:
        return ""
    return f"PostgreSQL {1000 * usage['postgres']['cpu_cores'] / rate:.2f} ms"


@dataclass(frozen=True)
class NewEvent:
    """An event the bench created: its join code and the host's token."""

    code: str
    host_token: str


def create_event(base_url: str, title: str, capacity: int = MAX_CAPACITY) -> NewEvent:
    """A new event through the API."""
    answer = httpx.post(
        f"{base_url}/api/events", json={"title": title, "capacity": capacity}, timeout=10
    )
    answer.raise_for_status()
    created = answer.json()
    return NewEvent(code=str(created["event"]["code"]), host_token=str(created["host_token"]))


def machine() -> dict[str, Any]:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": psutil.cpu_count(logical=True),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "os": _os_name(),
    }


def _os_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    return platform.system()


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
