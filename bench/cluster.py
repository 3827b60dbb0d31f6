"""What the benchmarks run against: a PostgreSQL, `rollcall serve` processes, and their meters.

The database is the embedded one (pgserver, in a temporary directory, deleted afterwards) unless
DATABASE_URL names a server; either way the bench makes a fresh database of its own and drops it.
Each rollcall process is a plain `rollcall serve` on its own loopback port, all sharing that
database, as several instances behind a load balancer would; the load generators spread their
connections over the ports round-robin.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import psutil
import psycopg
from psycopg import sql

if TYPE_CHECKING:
    from pgserver.postgres_server import PostgresServer

REPO = Path(__file__).resolve().parent.parent

# What a Sampler's window says: for each meter ("rollcall", "postgres", "clients", "machine"),
# its mean CPU in cores ("cpu_cores") and its peak RSS in bytes ("rss_peak").
Usage = dict[str, dict[str, float]]


def raise_open_file_limit() -> int:
    """Lift the soft open-file limit to the hard one (10,000 sockets need it); returns it."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Database:
    """A fresh database on the embedded server or on DATABASE_URL's server."""

    def __init__(
        self, admin_url: str, *, embedded: PostgresServer | None = None, root: Path | None = None
    ) -> None:
        self.admin_url = admin_url
        self.embedded = embedded
        self._root = root
        self.name = f"rollcall_bench_{secrets.token_hex(4)}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        info = psycopg.conninfo.conninfo_to_dict(admin_url)
        info["dbname"] = self.name
        self.conninfo = info
        self.url = _to_url(info)
        self.pgbench = _pgbench_binary()

    @classmethod
    def start(cls) -> Database:
        external = os.environ.get("DATABASE_URL")
        if external:
            return cls(external)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pgserver.postgres_server import get_server

            root = Path(tempfile.mkdtemp(prefix="rollcall-bench-pg-"))
            root.chmod(0o755)
            server = get_server(root / "pgdata", cleanup_mode="delete")
        return cls(server.get_uri(), embedded=server, root=root)

    @property
    def where(self) -> str:
        if self.embedded is not None:
            return "embedded (pgserver, its default configuration, Unix socket)"
        host = self.conninfo.get("host") or "local socket"
        return f"DATABASE_URL's server at {host}"

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url, autocommit=True)

    def server_facts(self) -> dict[str, str]:
        names = [
            "server_version",
            "shared_buffers",
            "fsync",
            "synchronous_commit",
            "max_connections",
        ]
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT name, setting, unit FROM pg_settings WHERE name = ANY(%s)", (names,)
            ).fetchall()
        return {
            name: f"{setting}{'' if unit in (None, '') else ' ' + unit}"
            for name, setting, unit in rows
        }

    def postmaster(self) -> psutil.Process | None:
        """The server's postmaster, when it runs on this machine (found through a backend)."""
        if self.embedded is not None:
            pid = self.embedded.get_pid()
            return psutil.Process(pid) if pid is not None else None
        with self.connect() as conn:
            row = conn.execute("SELECT pg_backend_pid()").fetchone()
            assert row is not None
            try:  # while this backend is still alive
                return psutil.Process(int(row[0])).parent()
            except psutil.Error:
                return None

    def pgbench_env(self) -> dict[str, str]:
        info = self.conninfo
        env = dict(os.environ)
        env.update(
            PGHOST=str(info.get("host") or ""),
            PGPORT=str(info.get("port") or "5432"),
            PGUSER=str(info.get("user") or "postgres"),
            PGDATABASE=self.name,
        )
        if info.get("password"):
            env["PGPASSWORD"] = str(info["password"])
        return env

    def close(self) -> None:
        with (
            contextlib.suppress(psycopg.Error),
            psycopg.connect(self.admin_url, autocommit=True) as conn,
        ):
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name))
            )
        if self.embedded is not None:
            self.embedded.cleanup()
        if self._root is not None:
            import shutil

            shutil.rmtree(self._root, ignore_errors=True)


def _pgbench_binary() -> str:
    """pgbench from the embedded server's own install, else the system's."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            from pgserver._commands import POSTGRES_BIN_PATH

            candidate = Path(POSTGRES_BIN_PATH) / "pgbench"
            if candidate.exists():
                return str(candidate)
        except ImportError:
            pass
    import shutil

    found = shutil.which("pgbench")
    if found is None:
        raise RuntimeError(
            "pgbench not found: install pgserver (it ships one) or postgresql-client"
        )
    return found


def _to_url(info: dict[str, Any]) -> str:
    user = info.get("user") or "postgres"
    password = info.get("password")
    host = str(info.get("host") or "")
    port = info.get("port")
    auth = f"{user}:{password}" if password else f"{user}"
    if host.startswith("/"):
        return f"postgresql://{auth}@/{info['dbname']}?host={host}" + (
            f"&port={port}" if port else ""
        )
    netloc = f"{host}:{port}" if port else host
    return f"postgresql://{auth}@{netloc}/{info['dbname']}"


SOURCE = "ROLLCALL_BENCH_SRC"
BEFORE = "ROLLCALL_BENCH_BEFORE"
"""A src/ directory: a scenario that supports it (joins, arrival, heartbeats) also runs on that
rollcall, right before this one: a baseline measured minutes apart in the same run."""


@contextlib.contextmanager
def rollcall_from(src: str) -> Iterator[None]:
    """Servers started meanwhile run the rollcall of this src/ directory."""
    kept = os.environ.get(SOURCE)
    os.environ[SOURCE] = src
    try:
        yield
    finally:
        if kept is None:
            del os.environ[SOURCE]
        else:
            os.environ[SOURCE] = kept


@contextlib.contextmanager
def on_tree_schema(database_url: str, src: str) -> Iterator[None]:
    """Servers started meanwhile run the rollcall of this src/ directory, on the database
    brought down to that tree's schema; brought back to head after."""
    head = schema_head(src)
    print(f"   before: {src}, its schema at {head}", flush=True)
    Servers(database_url, 1).migrate(to=head, down=True)
    try:
        with rollcall_from(src):
            yield
    finally:
        Servers(database_url, 1).migrate()
        print("   after: this rollcall, its schema at head", flush=True)


HEAD_OF_TREE = """
try:
    from rollcall.db.schema import head
except ImportError:  # a tree from before db/migrate.py became db/schema.py
    from rollcall.db.migrate import head
print(head())
"""


def schema_head(src: str) -> str:
    """The schema revision the rollcall of this src/ directory needs."""
    env = {**os.environ, "PYTHONPATH": str(Path(src).resolve())}
    return subprocess.run(
        [sys.executable, "-c", HEAD_OF_TREE],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def rollcall_source() -> tuple[Path | None, str]:
    """Which rollcall the servers run: ROLLCALL_BENCH_SRC (a src/ dir) or the installed one."""
    override = os.environ.get(SOURCE)
    src = Path(override).resolve() if override else None
    tree = src.parent if src is not None else REPO
    try:
        commit = subprocess.run(
            ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(tree), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        label = commit + (" with uncommitted changes in src/" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        label = "not a git checkout"
    return src, f"{tree} ({label})"


WS_IMPLEMENTATION = "ROLLCALL_BENCH_WS"
"""Set to one of uvicorn's `ws` choices (websockets, websockets-sansio, wsproto) to measure the
servers with that WebSocket protocol instead of `rollcall serve`'s own choice."""

_WITH_WS = (
    "import sys, uvicorn; "
    "run, ws = uvicorn.run, sys.argv.pop(1); "
    "uvicorn.run = lambda *a, **k: run(*a, **{**k, 'ws': ws}); "
    "from rollcall.cli import main; sys.exit(main(sys.argv[1:]))"
)


def serve_command() -> list[str]:
    """`rollcall serve`, or the same with uvicorn's WebSocket protocol set by WS_IMPLEMENTATION."""
    ws = os.environ.get(WS_IMPLEMENTATION)
    if ws:
        return [sys.executable, "-c", _WITH_WS, ws, "serve"]
    return [sys.executable, "-m", "rollcall.cli", "serve"]


@dataclass
class Servers:
    """N `rollcall serve` processes on one database, each on its own loopback port."""

    database_url: str
    count: int
    settings: dict[str, str] = field(default_factory=dict)
    workers: int | None = 1
    """Each process's workers; None: `rollcall serve`'s default (one per core)."""
    log_dir: Path = field(default_factory=lambda: REPO / "artifacts" / "bench" / "logs")
    ports: list[int] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROLLCALL_")}
        env["DATABASE_URL"] = self.database_url
        env["PYTHONUNBUFFERED"] = "1"
        # One process a port, so that each server's CPU is its pid's (a rollcall from before
        # --workers ignores the variable).
        if self.workers is not None:
            env["ROLLCALL_WORKERS"] = str(self.workers)
        src, _ = rollcall_source()
        if src is not None:
            env["PYTHONPATH"] = str(src) + os.pathsep + env.get("PYTHONPATH", "")
        env.update({f"ROLLCALL_{k.upper()}": v for k, v in self.settings.items()})
        return env

    def migrate(self, *, to: str = "head", down: bool = False) -> None:
        """`rollcall db upgrade` (or `downgrade`) to the revision `to`, by this rollcall."""
        subprocess.run(
            [sys.executable, "-m", "rollcall.cli", "db", "downgrade" if down else "upgrade", to],
            env=self.env(),
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        if not self.ports:
            self.ports = [free_port() for _ in range(self.count)]
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = self.env()
        self.processes = []
        for port in self.ports:
            log = (self.log_dir / f"rollcall-{port}.log").open("ab")
            args = [*serve_command(), "--port", str(port)]
            args += ["--no-migrate", "--log-level", "warning"]
            self.processes.append(
                subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
            )
            log.close()
        self.wait_ready()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        pending = list(zip(self.ports, self.processes, strict=True))
        while pending and time.monotonic() < deadline:
            port, process = pending[0]
            if process.poll() is not None:
                raise RuntimeError(f"rollcall on port {port} exited:\n{self.log(port)}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    pending.pop(0)
                    continue
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
        if pending:
            raise TimeoutError(f"rollcall did not become healthy:\n{self.log(pending[0][0])}")

    def log(self, port: int) -> str:
        path = self.log_dir / f"rollcall-{port}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self, timeout: float = 15) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def url(self, index: int = 0) -> str:
        return f"http://127.0.0.1:{self.ports[index]}"

    @contextlib.contextmanager
    def running(self) -> Iterator[Servers]:
        self.start()
        try:
            yield self
        finally:
            self.stop()


class CpuMeter:
    """CPU seconds and memory of a group of processes, read from /proc through psutil.

    For PostgreSQL the group is the postmaster and its children; the CPU of backends that have
    exited meanwhile is still counted, through the postmaster's children_user/system times.
    """

    def __init__(self, roots: list[int], *, with_children: bool) -> None:
        self.roots = [psutil.Process(pid) for pid in roots]
        self.with_children = with_children

    def _members(self) -> list[psutil.Process]:
        members = list(self.roots)
        if self.with_children:
            for root in self.roots:
                with contextlib.suppress(psutil.Error):
                    members.extend(root.children(recursive=True))
        return members

    def cpu_seconds(self) -> float:
        total = 0.0
        for process in self._members():
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total += times.user + times.system
        if self.with_children:
            for root in self.roots:
                with contextlib.suppress(psutil.Error):
                    times = root.cpu_times()
                    total += times.children_user + times.children_system
        return total

    def rss_bytes(self) -> int:
        total = 0
        for process in self._members():
            with contextlib.suppress(psutil.Error):
                total += process.memory_info().rss
        return total

    def uss_bytes(self) -> int:
        """Memory unique to the group (shared pages counted once is not possible here: USS)."""
        total = 0
        for process in self._members():
            with contextlib.suppress(psutil.Error):
                total += process.memory_full_info().uss
        return total


class MachineMeter(CpuMeter):
    """The whole machine's busy CPU (every process, ours and others'), for noise checks."""

    def __init__(self) -> None:
        self.roots = []
        self.with_children = False

    def cpu_seconds(self) -> float:
        times = psutil.cpu_times()
        return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))

    def rss_bytes(self) -> int:
        return int(psutil.virtual_memory().used)


@dataclass
class Sample:
    at: float
    cpu: dict[str, float]
    rss: dict[str, int]


class Sampler:
    """Samples named CpuMeters every `interval` seconds in a thread, for rates over time."""

    def __init__(self, meters: dict[str, CpuMeter], *, interval: float = 0.5) -> None:
        self.meters = meters
        self.interval = interval
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def _take(self) -> Sample:
        return Sample(
            at=time.time(),
            cpu={name: m.cpu_seconds() for name, m in self.meters.items()},
            rss={name: m.rss_bytes() for name, m in self.meters.items()},
        )

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self._take())
            self._stop.wait(self.interval)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(self._take())

    def window(self, start: float, end: float) -> Usage:
        """Mean CPU (in cores) and peak RSS (bytes) of each meter between two wall-clock times."""
        inside = [s for s in self.samples if start <= s.at <= end]
        if len(inside) < 2:
            return {}
        first, last = inside[0], inside[-1]
        span = last.at - first.at
        return {
            name: {
                "cpu_cores": (last.cpu[name] - first.cpu[name]) / span,
                "rss_peak": float(max(s.rss[name] for s in inside)),
            }
            for name in self.meters
        }

    def series(self, name: str) -> tuple[list[float], list[float]]:
        """(times, cores) of one meter, one point per sampling interval."""
        times: list[float] = []
        cores: list[float] = []
        for before, after in zip(self.samples, self.samples[1:], strict=False):
            span = after.at - before.at
            if span > 0:
                times.append(after.at)
                cores.append((after.cpu[name] - before.cpu[name]) / span)
        return times, cores
