"""`rollcall serve` on its embedded database, as the README's quick start runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.servers import RollcallServer, free_port


def _serve(data_dir: Path, port: int, log: Path) -> RollcallServer:
    """`rollcall serve` as the quick start runs it: no DATABASE_URL, no ROLLCALL_ settings."""
    env = {
        k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("ROLLCALL_")
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rollcall.cli",
                "serve",
                "--port",
                str(port),
                "--data-dir",
                str(data_dir),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = RollcallServer(process, port, log)
    server.wait_healthy()
    return server


def test_serve_starts_the_embedded_database_and_keeps_its_data(tmp_path: Path) -> None:
    data_dir, log, port = tmp_path / "data", tmp_path / "serve.log", free_port()
    url = f"http://127.0.0.1:{port}"
    server = _serve(data_dir, port, log)
    try:
        code = httpx.post(f"{url}/api/events", json={"title": "Kept"}).json()["event"]["code"]
    finally:
        server.stop()
    output = log.read_text()
    assert f"open {url}/" in output
    assert "phones cannot reach it" in output and "--host 0.0.0.0" in output
    assert (data_dir / "pgdata" / "PG_VERSION").exists()
    assert not (data_dir / "pgdata" / "postmaster.pid").exists(), "the database stopped with it"

    server = _serve(data_dir, port, log)  # the same data directory, started again
    try:
        again = httpx.get(f"{url}/api/events/{code}")
        assert again.status_code == 200 and again.json()["title"] == "Kept"
    finally:
        server.stop()
    assert not (data_dir / "pgdata" / "postmaster.pid").exists()


def test_event_create_prints_the_links_and_a_terminal_qr(database_url: str) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ROLLCALL_PUBLIC_URL": "http://192.0.2.7:8000",
    }
    done = subprocess.run(
        [sys.executable, "-m", "rollcall.cli", "event", "create", "Pub quiz", "--capacity", "40"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    join_line = next(line for line in lines if "join URL:" in line)
    code = join_line.rsplit("/", 1)[-1]
    assert join_line.strip() == f"join URL:   http://192.0.2.7:8000/j/{code}"
    assert any(f"http://192.0.2.7:8000/host/{code}#host_token=" in line for line in lines)
    assert sum("█" in line for line in lines) > 10, "a QR code drawn in the terminal"
    refused = subprocess.run(
        [sys.executable, "-m", "rollcall.cli", "event", "create", "   "],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode == 2 and "title" in refused.stderr
