"""Where the time goes on the hot paths: py-spy on the rollcall processes, and PostgreSQL's waits.

Two views of the same load, taken together:

- py-spy (`record --nonblocking`, 100 samples/s, raw collapsed stacks) on every rollcall process
  tells where the Python CPU goes; the bench folds the stacks into the functions that take the
  most samples, inclusive (a function and what it calls) and on-CPU only (`--idle` is off).
- Sampling pg_stat_activity every 20 ms tells what rollcall's database sessions are doing:
  running, idle in a transaction (waiting on the app), or waiting, and for what (a row lock,
  the NOTIFY queue's lock, the WAL flush…). On a serialised path this is the profile that
  matters, since the CPU is not what is busy.

The loads: the join stampede into one event and into 50 events, and arrivals into 50 events
(a join, then the /ws hello; and the join on the hello).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench import arrival, joins
from bench.cluster import Database, Servers
from bench.harness import Harness, create_event

SAMPLE_EVERY_S = 0.02


def _py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


class WaitSampler:
    """pg_stat_activity of rollcall's sessions, every SAMPLE_EVERY_S, in a thread."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.counts: Counter[str] = Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with self.db.connect() as conn:
            while not self._stop.is_set():
                rows = conn.execute(
                    "SELECT state, wait_event_type, wait_event, left(query, 60)"
                    " FROM pg_stat_activity"
                    " WHERE application_name = 'rollcall' AND datname = current_database()"
                    " AND pid <> pg_backend_pid()"
                ).fetchall()
                self.samples += 1
                for state, kind, event, query in rows:
                    if state == "idle" and event == "ClientRead":
                        self.counts["idle (in the pool, or LISTENing)"] += 1
                    elif state == "idle in transaction":
                        self.counts["idle in transaction (waiting on rollcall)"] += 1
                    elif kind is None:
                        self.counts[f"running: {' '.join(query.split())}"] += 1
                    else:
                        self.counts[f"waiting: {kind}: {event}"] += 1
                self._stop.wait(SAMPLE_EVERY_S)

    def __enter__(self) -> WaitSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def busy(self) -> list[tuple[str, float]]:
        """Each non-idle state: the average number of sessions in it."""
        return [
            (what, n / max(1, self.samples))
            for what, n in self.counts.most_common()
            if not what.startswith("idle (")
        ]


def _spy(binary: str, pids: list[int], seconds: float, out: Path, tag: str) -> list[Path]:
    paths = [out / f"py-spy-{tag}-{i}.txt" for i in range(len(pids))]
    procs = [
        subprocess.Popen(
            [
                binary,
                "record",
                "--nonblocking",
                "-r",
                "100",
                "-d",
                str(round(seconds)),
                "-f",
                "raw",
                "-o",
                str(path),
                "-p",
                str(pid),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for pid, path in zip(pids, paths, strict=True)
    ]
    for proc in procs:
        try:
            proc.wait(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return [p for p in paths if p.exists()]


CATEGORIES = [
    ("rollcall/", "rollcall's own code"),
    ("asyncio/runners.py", "the event loop itself (uvloop's C code: sockets, callbacks)"),
    ("threading.py", "worker threads (sync code run off the loop, and their GIL waits)"),
    ("anyio/", "worker threads (sync code run off the loop, and their GIL waits)"),
    ("asyncpg", "asyncpg (queries, pool)"),
    ("pydantic", "pydantic (validation, serialisation)"),
    ("fastapi/", "FastAPI (routing, dependencies, encoders)"),
    ("starlette/", "Starlette (requests, middleware, websockets)"),
    ("uvicorn/", "uvicorn (HTTP and WebSocket protocol)"),
    ("websockets/", "websockets (framing)"),
    ("json/", "json"),
    ("asyncio/", "asyncio"),
]


def _category(file: str) -> str:
    for needle, label in CATEGORIES:
        if needle in file:
            return label
    return "other"


@dataclass(frozen=True)
class Folded:
    """py-spy's samples of one load, folded: where the on-CPU time went, as % of samples."""

    samples: int = 0
    by_package: list[tuple[str, float]] = field(default_factory=list)
    rollcall_functions: list[tuple[str, float]] = field(default_factory=list)


def fold(paths: list[Path], top: int = 12) -> Folded:
    """From py-spy's collapsed stacks: on-CPU samples by the package running (self time),
    and rollcall's own functions by inclusive share (the function and all it calls)."""
    by_package: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for path in paths:
        for line in path.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not count_text.isdigit():
                continue
            count = int(count_text)
            total += count
            frames = [f for f in stack.split(";") if f]
            if frames:
                by_package[_category(_frame_file(frames[-1]))] += count
            seen: set[str] = set()
            for frame in frames:
                file = _frame_file(frame)
                if "rollcall/" not in file or file.endswith("rollcall/cli.py"):
                    continue
                name = _frame_name(frame)
                if name not in seen:
                    seen.add(name)
                    inclusive[name] += count
    share = 100 / max(1, total)
    return Folded(
        samples=total,
        by_package=[(name, n * share) for name, n in by_package.most_common()],
        rollcall_functions=[(name, n * share) for name, n in inclusive.most_common(top)],
    )


def _frame_file(frame: str) -> str:
    _, _, where = frame.partition(" (")
    return where.split(":")[0].rstrip(")")


def _frame_name(frame: str) -> str:
    # "function (…/rollcall/participants/service.py:123)" -> "participants/service.py: function"
    name = frame.partition(" (")[0]
    file = _frame_file(frame)
    return f"{file.partition('rollcall/')[2]}: {name}"


LOADS = [
    ("joins-1ev", 1, "join stampede, one event"),
    ("joins-50ev", 50, "join stampede, 50 events"),
    ("arrival-50ev", 50, "arrival, 50 events"),
    ("arrival-hello-50ev", 50, "hello-join arrival, 50 events"),
]


async def run(h: Harness) -> None:
    processes = h.processes or 2
    seconds = 6.0 if h.quick else 10.0
    spy = _py_spy()
    print(
        f"== profile: py-spy {'found' if spy else 'MISSING (pip install py-spy)'},"
        f" pg_stat_activity every {SAMPLE_EVERY_S * 1000:.0f} ms; {processes} processes"
    )
    report: dict[str, object] = {}
    for tag, count, label in LOADS:
        h.forget_participants()
        with h.servers(processes) as servers:
            codes = [create_event(servers.url(), f"{tag} {i}").code for i in range(count)]
            waits, folded = await _profile(h, servers, codes, tag, seconds, spy)
        report[tag] = {
            "label": label,
            **asdict(folded),
            "waits": waits.busy(),
            "wait_samples": waits.samples,
        }
        _print(label, waits, folded)
    h.details["profile"] = report


async def _profile(
    h: Harness, servers: Servers, codes: list[str], tag: str, seconds: float, spy: str | None
) -> tuple[WaitSampler, Folded]:
    """Run one load, and profile both sides of it once it has warmed up."""

    async def load() -> None:
        if tag.startswith("joins"):
            await joins.stampede(h, servers, codes, workers=2, warmup=2.0, seconds=seconds + 1)
        else:
            await arrival.arrivals(
                h,
                servers,
                codes,
                warmup=2.0,
                seconds=seconds + 1,
                hello_join=tag.startswith("arrival-hello"),
            )

    waits = WaitSampler(h.db)
    spied: list[Path] = []
    task = asyncio.create_task(load())
    await asyncio.sleep(3.5)  # start-up and warm-up
    with waits:
        if spy:
            spied = await asyncio.to_thread(_spy, spy, servers.pids, seconds, h.work, tag)
        else:
            await asyncio.sleep(seconds)
    await task
    return waits, fold(spied) if spied else Folded()


def _print(label: str, waits: WaitSampler, folded: Folded) -> None:
    print(f"   {label}: rollcall's PostgreSQL sessions, on average:")
    for what, mean in waits.busy()[:8]:
        print(f"     {mean:5.1f}  {what}")
    if folded.samples:
        print(f"   {label}: py-spy, {folded.samples:,} on-CPU samples; running in:")
        for name, share in folded.by_package[:7]:
            print(f"     {share:5.1f} %  {name}")
        print("   rollcall functions, inclusive:")
        for name, share in folded.rollcall_functions[:8]:
            print(f"     {share:5.1f} %  {name}")
