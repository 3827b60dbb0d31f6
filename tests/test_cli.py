"""`rollcall serve` on its embedded database, as the README's quick start runs it."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import trustme

from rollcall.exposure import lan_addresses
from tests.servers import RollcallServer, free_port, rollcall_server


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


def _run_serve(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rollcall.cli", "serve", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _clean_env(**settings: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("ROLLCALL_")
    }
    env.update(settings)
    return env


def test_serve_refuses_the_network_without_an_admin_token(tmp_path: Path) -> None:
    refused = _run_serve(
        "--host",
        "0.0.0.0",
        "--port",
        str(free_port()),
        "--data-dir",
        str(tmp_path),
        env=_clean_env(),
    )
    assert refused.returncode == 2, refused
    assert "ROLLCALL_ADMIN_TOKEN" in refused.stderr and "--open-creation" in refused.stderr
    assert not (tmp_path / "pgdata").exists(), "refused before anything started"


def test_serve_refuses_half_a_certificate(tmp_path: Path) -> None:
    refused = _run_serve(
        "--port",
        str(free_port()),
        "--ssl-certfile",
        str(tmp_path / "cert.pem"),
        "--data-dir",
        str(tmp_path),
        env=_clean_env(),
    )
    assert refused.returncode == 2 and "--ssl-keyfile" in refused.stderr


def test_serve_refuses_a_trusted_proxy_that_is_no_address(tmp_path: Path) -> None:
    refused = _run_serve(
        "--port",
        str(free_port()),
        "--data-dir",
        str(tmp_path),
        env=_clean_env(ROLLCALL_TRUSTED_PROXIES="proxy.example"),
    )
    assert refused.returncode == 2 and "ROLLCALL_TRUSTED_PROXIES" in refused.stderr


def test_serve_on_all_interfaces_says_where_it_listens_and_where_phones_go(
    database_url: str, tmp_path: Path
) -> None:
    with rollcall_server(
        database_url, tmp_path, args=["--host", "0.0.0.0", "--open-creation"]
    ) as server:
        output = server.log()
    port = server.port
    assert f"rollcall is listening on all network interfaces (0.0.0.0), port {port}" in output
    assert "serving on http://127.0.0.1" not in output
    lan = lan_addresses()
    if lan:
        assert f"phones will use http://{lan[0]}:{port} (detected;" in output
        assert f"open http://{lan[0]}:{port}/" in output
    else:
        assert "LAN address, which could not be found" in output
    assert "travel in" in output and "clear over the venue's Wi-Fi" in output


def test_serve_names_the_public_url_and_needs_no_flag_with_an_admin_token(
    database_url: str, tmp_path: Path
) -> None:
    with rollcall_server(
        database_url,
        tmp_path,
        args=["--host", "0.0.0.0"],
        public_url="http://192.0.2.7:8000",
        admin_token="a-long-enough-admin-token",
    ) as server:
        output = server.log()
    assert "phones will use http://192.0.2.7:8000 (ROLLCALL_PUBLIC_URL)" in output
    assert "open http://192.0.2.7:8000/" in output


def test_serve_passes_its_certificate_to_uvicorn_https_end_to_end(
    database_url: str, tmp_path: Path
) -> None:
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    issued.cert_chain_pems[0].write_to_path(str(certfile))
    issued.private_key_pem.write_to_path(str(keyfile))
    trust = ssl.create_default_context()
    ca.configure_trust(trust)
    with rollcall_server(
        database_url,
        tmp_path,
        args=["--host", "0.0.0.0", "--ssl-certfile", str(certfile), "--ssl-keyfile", str(keyfile)],
        admin_token="a-long-enough-admin-token",
    ) as server:
        with httpx.Client(base_url=server.base_url, verify=trust) as client:
            created = client.post(
                "/api/events",
                json={"title": "Over TLS"},
                headers={"Authorization": "Bearer a-long-enough-admin-token"},
            )
            joined = client.post(
                f"/api/events/{created.json()['event']['code']}/join",
                json={"device_id": str(uuid.uuid4()), "display_name": "Ana"},
            )
        output = server.log()
    assert server.base_url.startswith("https://")
    assert created.status_code == 201
    assert created.headers["strict-transport-security"].startswith("max-age=")
    assert joined.headers["set-cookie"].startswith("__Host-rollcall_session=")
    assert "plain http" not in output


def test_forwarded_https_counts_only_from_a_trusted_proxy(
    database_url: str, tmp_path: Path
) -> None:
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.4"}
    with rollcall_server(database_url, tmp_path) as server:  # trusts loopback by default
        behind_proxy = httpx.get(f"{server.base_url}/healthz", headers=forwarded)
    with rollcall_server(database_url, tmp_path, trusted_proxies="192.0.2.99") as server:
        not_a_proxy = httpx.get(f"{server.base_url}/healthz", headers=forwarded)
    assert behind_proxy.headers["strict-transport-security"].startswith("max-age=")
    assert "strict-transport-security" not in not_a_proxy.headers


def test_serve_refuses_an_allowed_origin_that_is_no_origin(tmp_path: Path) -> None:
    refused = _run_serve(
        "--port",
        str(free_port()),
        "--data-dir",
        str(tmp_path),
        env=_clean_env(ROLLCALL_ALLOWED_ORIGINS="https://app.example, app.example/quiz"),
    )
    assert refused.returncode == 2
    assert "ROLLCALL_ALLOWED_ORIGINS" in refused.stderr and "'app.example/quiz'" in refused.stderr


def test_serve_refuses_a_rate_limit_storage_it_cannot_count_in(tmp_path: Path) -> None:
    refused = _run_serve(
        "--port",
        str(free_port()),
        "--data-dir",
        str(tmp_path),
        env=_clean_env(ROLLCALL_RATE_LIMIT_STORAGE="memcached://:secret@cache.example:11211"),
    )
    assert refused.returncode == 2
    assert "ROLLCALL_RATE_LIMIT_STORAGE" in refused.stderr and "redis://" in refused.stderr
    assert "secret" not in refused.stderr


def test_serve_logs_each_request_only_when_asked(database_url: str, tmp_path: Path) -> None:
    """No line per request by default (the proxy in front logs them); --access-log adds it."""
    logged = {}
    for flag in ((), ("--access-log",)):
        with rollcall_server(database_url, tmp_path, args=["--log-level", "info", *flag]) as server:
            assert httpx.get(f"{server.base_url}/api/events/ZZZZZZ", timeout=5).status_code == 404
            server.stop()
            logged[flag] = server.log()
    assert "GET /api/events/ZZZZZZ" not in logged[()]
    assert "GET /api/events/ZZZZZZ" in logged[("--access-log",)]
