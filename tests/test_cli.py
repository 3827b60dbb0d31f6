"""`rollcall serve` on its embedded database, as the README's quick start runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.servers import free_port


def _serve(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("ROLLCALL_")
    }
    with log.open("ab") as out:
        return subprocess.Popen(
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


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"not healthy in time:\n{log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def test_serve_starts_the_embedded_database_and_keeps_its_data(tmp_path: Path) -> None:
    data_dir, log, port = tmp_path / "data", tmp_path / "serve.log", free_port()
    url = f"http://127.0.0.1:{port}"
    process = _serve(data_dir, port, log)
    try:
        _wait_healthy(url, process, log)
        code = httpx.post(f"{url}/api/events", json={"title": "Kept"}).json()["event"]["code"]
    finally:
        _stop(process)
    output = log.read_text()
    assert f"open {url}/" in output
    assert "phones cannot reach it" in output and "--host 0.0.0.0" in output
    assert (data_dir / "pgdata" / "PG_VERSION").exists()
    assert not (data_dir / "pgdata" / "postmaster.pid").exists(), "the database stopped with it"

    process = _serve(data_dir, port, log)  # the same data directory, started again
    try:
        _wait_healthy(url, process, log)
        again = httpx.get(f"{url}/api/events/{code}")
        assert again.status_code == 200 and again.json()["title"] == "Kept"
    finally:
        _stop(process)
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
