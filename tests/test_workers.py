"""`rollcall serve --workers N`: N processes on one port, one embedded database, one stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from tests.factories import create_event, join
from tests.polling import eventually_sync
from tests.realtime.client import Socket, host_socket, of_type
from tests.servers import RollcallServer, free_port

HOST_SOCKETS = 12
KEEP_ALIVE_CONNECTIONS = 64
MOST_TO_LEAST = 3
"""DESIGN.md: no worker does three times another's work. With a hash per connection, a
worker's share of 64 is 32 ± 4 (one standard deviation): 48 to 16 is four of them."""


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
    _wait_listening(server, workers)
    return server


def _wait_listening(server: RollcallServer, workers: int, timeout: float = 60) -> None:
    """Until every worker listens on the port: each listens on its own socket once its app
    has started, and /healthz answers as soon as the first one does."""
    eventually_sync(
        lambda: len(_listening_workers(server)) == workers,
        timeout=timeout,
        what=f"{workers} workers listening",
    )


def _listening_workers(server: RollcallServer) -> set[int]:
    """The children of the parent that hold a listening socket on the port."""
    listening = set()
    for child in psutil.Process(server.process.pid).children():
        with contextlib.suppress(psutil.NoSuchProcess):
            if any(
                conn.status == psutil.CONN_LISTEN and conn.laddr.port == server.port
                for conn in child.net_connections(kind="tcp")
            ):
                listening.add(child.pid)
    return listening


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


async def _keep_alive_connections(port: int, count: int) -> list[asyncio.StreamWriter]:
    """`count` connections opened at once, as a load tool opens them; each has been answered
    once (so some worker has accepted it) and stays open."""
    opened = await asyncio.gather(
        *(asyncio.open_connection("127.0.0.1", port) for _ in range(count))
    )
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    for _, writer in opened:
        writer.write(request)
    heads = await asyncio.gather(*(reader.readuntil(b"\r\n\r\n") for reader, _ in opened))
    assert all(head.startswith(b"HTTP/1.1 200") for head in heads), heads[0]
    return [writer for _, writer in opened]


async def test_keep_alive_connections_opened_at_once_spread_over_the_workers(
    tmp_path: Path,
) -> None:
    server = _serve_workers(tmp_path / "data", free_port(), tmp_path / "serve.log", workers=2)
    try:
        writers = await _keep_alive_connections(server.port, KEEP_ALIVE_CONNECTIONS)
        holding = _workers_holding(server.process.pid, server.port)
        for writer in writers:
            writer.close()
    finally:
        assert server.stop() == 0, server.log()
    shares = sorted(len(ports) for ports in holding.values())
    assert sum(shares) == KEEP_ALIVE_CONNECTIONS, holding
    assert len(shares) == 2, f"one worker holds all {KEEP_ALIVE_CONNECTIONS} connections"
    assert shares[1] <= MOST_TO_LEAST * shares[0], f"the workers hold {shares}"


async def test_a_worker_that_dies_is_replaced_on_a_socket_of_its_own(tmp_path: Path) -> None:
    server = _serve_workers(tmp_path / "data", free_port(), tmp_path / "serve.log", workers=2)
    try:
        first = _listening_workers(server)
        killed = min(first)
        psutil.Process(killed).kill()
        assert _gone(killed), "the killed worker is gone"
        _wait_listening(server, 2)  # uvicorn's supervisor starts another, which binds its own
        assert killed not in _listening_workers(server)
        writers = await _keep_alive_connections(server.port, KEEP_ALIVE_CONNECTIONS)
        holding = _workers_holding(server.process.pid, server.port)
        for writer in writers:
            writer.close()
    finally:
        assert server.stop() == 0, server.log()
    assert len(holding) == 2, f"the connections are served by {len(holding)} worker(s)"


@pytest.mark.slow  # two embedded databases start
def test_a_second_serve_on_the_same_port_is_refused(tmp_path: Path) -> None:
    """Each worker's socket allows others on its port (SO_REUSEPORT); another `rollcall serve`
    must still not join them, and split the connections with a server of its own."""
    port = free_port()
    server = _serve_workers(tmp_path / "data", port, tmp_path / "serve.log", workers=2)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROLLCALL_")}
        command = [sys.executable, "-m", "rollcall.cli", "serve", "--port", str(port)]
        second = subprocess.Popen(
            [*command, "--data-dir", str(tmp_path / "other"), "--workers", "2"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            output, _ = second.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            second.terminate()  # it serves: stopped as an operator would, its database too
            output, _ = second.communicate(timeout=30)
    finally:
        assert server.stop() == 0, server.log()
    assert second.returncode == 3, output
    assert "cannot listen on 127.0.0.1 port" in output
