"""Real `rollcall serve` processes on loopback, for tests that need sockets and several servers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.polling import eventually_sync

# Short timings for test servers: going offline shows within seconds (timeout > interval +
# flush), and receipts and sweeps come within a fraction of a second.
FAST = {
    "heartbeat_interval_s": 0.5,
    "presence_timeout_s": 2,
    "heartbeat_flush_s": 0.2,
    "presence_sweep_s": 0.2,
    "receipt_flush_s": 0.2,
}

UNLIMITED = {
    "limit_joins": "1000000/minute",
    "limit_events": "1000000/minute",
    "limit_guesses": "1000000/minute",
    "limit_ws_messages": "1000000/second",
    "limit_actions": "1000000/second",
}
"""Rate limits no test reaches unless it means to: every test's requests come from loopback.
A test of the limits themselves passes its own (or the defaults)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RollcallServer:
    def __init__(
        self, process: subprocess.Popen[bytes], port: int, log_path: Path, *, https: bool = False
    ) -> None:
        self.process = process
        self.port = port
        self.log_path = log_path
        self.https = https

    @property
    def base_url(self) -> str:
        return f"{'https' if self.https else 'http'}://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"{'wss' if self.https else 'ws'}://127.0.0.1:{self.port}/ws"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_healthy(self, timeout: float = 60) -> None:
        """Until /healthz answers 200; fails at once if the process exits."""

        def healthy() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"rollcall exited with {self.process.returncode}:\n{self.log()}")
            try:
                healthz = httpx.get(f"{self.base_url}/healthz", timeout=1, verify=not self.https)
            except httpx.HTTPError:
                return False
            return healthz.status_code == 200

        try:
            eventually_sync(healthy, timeout=timeout, what="/healthz answering 200")
        except AssertionError as late:
            raise TimeoutError(f"rollcall did not become healthy:\n{self.log()}") from late

    def stop(self, *, timeout: float = 15) -> int:
        """SIGTERM, as a process manager would: a graceful stop. Returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)


@contextmanager
def rollcall_server(
    database_url: str,
    log_dir: Path,
    *,
    port: int | None = None,
    migrate: bool = False,
    args: Sequence[str] = (),
    environment: dict[str, str] | None = None,
    **settings: str | float,
) -> Iterator[RollcallServer]:
    """Start `rollcall serve` on DATABASE_URL; settings become ROLLCALL_<NAME> variables.

    `args` are added to the command line (--ssl-certfile makes the server's URLs https).
    `environment` adds other variables (PROMETHEUS_MULTIPROC_DIR, say).
    """
    port = port or free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("ROLLCALL_")}
    env.update(environment or {})
    env["DATABASE_URL"] = database_url
    env["PYTHONUNBUFFERED"] = "1"
    env["ROLLCALL_WORKERS"] = "1"  # one process a port: tests start several servers instead
    for name, value in {**UNLIMITED, **settings}.items():
        env[f"ROLLCALL_{name.upper()}"] = str(value)
    log_path = log_dir / f"rollcall-{port}.log"
    command = [
        sys.executable,
        "-m",
        "rollcall.cli",
        "serve",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    if not migrate:
        command.append("--no-migrate")
    command.extend(args)
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    server = RollcallServer(process, port, log_path, https="--ssl-certfile" in args)
    try:
        server.wait_healthy()
        yield server
    finally:
        server.stop()
