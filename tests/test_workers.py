"""`rollcall serve --workers N`: N processes on one port, one embedded database, one stop."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import psutil

from tests.factories import create_event, join
from tests.polling import eventually_sync
from tests.realtime.client import Socket, host_socket, of_type
from tests.servers import RollcallServer, free_port

HOST_SOCKETS = 12


def _serve_workers(data_dir: Path, port: int, log: Path, workers: int) -> RollcallServer:
    """As an operator runs it: no DATABASE_URL, so the parent starts the embedded database."""
    env = {
        k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("ROLLCALL_")
    }
    env["PYTHONUNBUFFERED"] = "1"
    command = [sys.executable, "-m", "rollcall.cli", "serve", "--port", str(port)]
    command += ["--data-dir", str(data_dir), "--workers", str(workers)]
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = RollcallServer(process, port, log)
    server.wait_healthy()
    return server


def _workers_holding(parent: int, port: int) -> dict[int, set[int]]:
    """Each child of the parent that holds accepted sockets on the port, and their peer ports."""
    holding: dict[int, set[int]] = {}
    for child in psutil.Process(parent).children():
        for conn in child.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_ESTABLISHED and conn.laddr.port == port and conn.raddr:
                holding.setdefault(child.pid, set()).add(conn.raddr.port)
    return holding


def _postgres_pids(data_dir: Path) -> list[int]:
    postmaster = psutil.Process(
        int((data_dir / "pgdata" / "postmaster.pid").read_text().split()[0])
    )
    return [postmaster.pid, *(child.pid for child in postmaster.children(recursive=True))]


def _gone(pid: int, within_s: float = 5) -> bool:
    """Whether the process has ended, or ends within a few seconds (a helper such as
    multiprocessing's resource tracker notices its parent is gone a moment later)."""

    def ended() -> bool:
        try:
            return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
        except psutil.NoSuchProcess:
            return True

    try:
        return eventually_sync(ended, timeout=within_s, what=f"process {pid} ending")
    except AssertionError:
        return False


async def test_two_workers_share_the_port_the_database_and_the_stop(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    server = _serve_workers(data_dir, port, tmp_path / "serve.log", workers=2)
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            event = await create_event(http)
            hosts: list[Socket] = []
            for _ in range(HOST_SOCKETS):
                hosts.append(await host_socket(server, event.code, event.host_token))
                await asyncio.sleep(0.05)  # let each worker get to the listening socket
            holding = _workers_holding(server.process.pid, port)
            assert len(holding) == 2, f"the sockets are served by {len(holding)} process(es)"
            async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as other:
                joined = (await join(other, event.code, name="Across")).json()
            # Some of the hosts are on the worker that did not take the join: all see it.
            for host in hosts:
                message = await host.until(of_type("participant.joined"), timeout=5)
                assert message["participant"]["id"] == joined["participant"]["id"]
                await host.close()
        workers = [child.pid for child in psutil.Process(server.process.pid).children()]
        database = _postgres_pids(data_dir)
    finally:
        code = server.stop()
    assert code == 0, server.log()
    assert all(_gone(pid) for pid in workers), "the workers stop with the parent"
    assert all(_gone(pid) for pid in database), "the embedded PostgreSQL stops with the parent"
    assert not (data_dir / "pgdata" / "postmaster.pid").exists(), "its data directory is unlocked"
    output = server.log()
    assert output.count("rollcall is listening on") == 1, "the listen address is said once"
