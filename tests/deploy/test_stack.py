"""compose.yaml as an operator runs it: PostgreSQL, two rollcall instances, Caddy in front with
`tls internal`. A phone joins through Caddy over https, keeps its socket through it, and comes
back as the same participant when the instance that held its socket restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import ssl
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from rollcall.auth import SECURE_SESSION_COOKIE
from rollcall.protocol import ClientMessage, Close, ServerMessage
from tests.deploy import podman
from tests.deploy.conftest import DOMAIN
from tests.deploy.podman import Stack, until

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(600)]

INSTANCES = ("rollcall-1", "rollcall-2")
BACK_WITHIN_S = 30
"""The presence timeout: a phone back within it was never shown offline."""


@pytest.fixture
def tls(stack: Stack) -> ssl.SSLContext:
    """Trust in Caddy's internal CA, and only in it, as a venue's devices would be given."""
    return ssl.create_default_context(cadata=stack.exec("caddy", "cat", podman.CADDY_ROOT_CA))


@pytest.fixture
def venue_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """The venue's DNS: the public name resolves to this machine, where Caddy is published."""
    resolve = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host  # anyio passes bytes
        return resolve("127.0.0.1" if name == DOMAIN else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_the_image_runs_rollcall_unprivileged_and_checks_its_own_health(stack: Stack) -> None:
    for instance in INSTANCES:
        assert stack.exec(instance, "id", "-un").strip() == "rollcall"
        assert stack.healthy(instance)
    config = stack.inspect("rollcall-1")["Config"]
    assert isinstance(config, dict)
    assert "/healthz" in " ".join(config["Healthcheck"]["Test"])


def test_forwarded_headers_count_from_caddy_and_from_no_one_else(
    stack: Stack, tls: ssl.SSLContext, venue_dns: None
) -> None:
    public_url = stack.settings["ROLLCALL_PUBLIC_URL"]
    through_caddy = httpx.get(f"{public_url}/healthz", verify=tls, timeout=10)
    assert through_caddy.status_code == 200
    # rollcall believed Caddy's X-Forwarded-Proto: the request was https, so HSTS is sent.
    assert "max-age" in through_caddy.headers["strict-transport-security"]
    # Another container on the same network claims https too, and is not believed.
    forged = json.loads(
        stack.exec(
            "rollcall-2",
            "python3",
            "-c",
            "import json, urllib.request\n"
            "request = urllib.request.Request('http://rollcall-1:8000/healthz', headers={\n"
            "    'Host': 'localhost', 'X-Forwarded-Proto': 'https',\n"
            "    'X-Forwarded-For': '203.0.113.7'})\n"
            "with urllib.request.urlopen(request, timeout=5) as answer:\n"
            "    print(json.dumps({'status': answer.status, 'headers': dict(answer.headers)}))",
        )
    )
    assert forged["status"] == 200
    assert "strict-transport-security" not in {name.lower() for name in forged["headers"]}


def caddy_adapts(stack: Stack, caddyfile: str, **variables: str) -> dict[str, Any]:
    """The JSON config Caddy makes of a Caddyfile, in the stack's Caddy with these variables
    and no others (not the stack's own)."""
    adapted = podman.podman(
        "exec",
        "--interactive",
        stack.container("caddy"),
        "env",
        "--ignore-environment",
        "PATH=/usr/bin:/bin",
        *(f"{name}={value}" for name, value in variables.items()),
        "caddy",
        "adapt",
        "--adapter=caddyfile",
        "--config=/dev/stdin",
        stdin=(podman.ROOT / caddyfile).read_text(),
    )
    config: dict[str, Any] = json.loads(adapted.stdout)
    return config


def test_caddy_gets_a_public_certificate_unless_told_tls_internal(stack: Stack) -> None:
    name = {"ROLLCALL_DOMAIN": "quiz.example.org"}
    # No issuer named: Caddy's automatic https, from a public ACME authority.
    assert "tls" not in caddy_adapts(stack, "deploy/Caddyfile", **name)["apps"]
    internal = caddy_adapts(stack, "deploy/Caddyfile", **name, ROLLCALL_TLS="internal")
    assert internal["apps"]["tls"]["automation"]["policies"] == [
        {"subjects": ["quiz.example.org"], "issuers": [{"module": "internal"}]}
    ]
    # The plain server's Caddyfile: the same name to rollcall on loopback.
    plain = json.dumps(caddy_adapts(stack, "deploy/systemd/Caddyfile"))
    assert '"host": ["quiz.example.org"]' in plain
    assert '"dial": "127.0.0.1:8000"' in plain


@dataclass
class Phone:
    """A phone's page as live.js runs it: a socket that says hello with the session cookie,
    beats, and reconnects with backoff whenever the socket is lost."""

    url: str
    origin: str
    cookie: str
    tls: ssl.SSLContext
    welcomes: list[dict[str, Any]] = field(default_factory=list)
    closes: list[int | None] = field(default_factory=list)
    lost_at: list[float] = field(default_factory=list)
    back_at: list[float] = field(default_factory=list)

    async def live(self, stop: asyncio.Event) -> None:
        attempt = 0
        while not stop.is_set():
            try:
                async with websockets.connect(
                    self.url,
                    ssl=self.tls,
                    open_timeout=10,
                    additional_headers={
                        "Cookie": f"{SECURE_SESSION_COOKIE}={self.cookie}",
                        "Origin": self.origin,
                    },
                ) as ws:
                    await ws.send(json.dumps({"type": ClientMessage.HELLO}))
                    welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    assert welcome["type"] == ServerMessage.WELCOME, welcome
                    self.welcomes.append(welcome)
                    self.back_at.append(time.monotonic())
                    attempt = 0
                    interval = float(welcome["heartbeat_interval_s"])
                    while not stop.is_set():
                        await ws.send(json.dumps({"type": ClientMessage.HEARTBEAT}))
                        beat_at = time.monotonic() + interval
                        while (left := beat_at - time.monotonic()) > 0 and not stop.is_set():
                            with contextlib.suppress(TimeoutError):  # read what comes meanwhile
                                await asyncio.wait_for(ws.recv(), min(left, 0.5))
            except (ConnectionClosed, InvalidHandshake, OSError, TimeoutError) as lost:
                if stop.is_set():
                    return
                self.lost_at.append(time.monotonic())
                received = lost.rcvd if isinstance(lost, ConnectionClosed) else None
                self.closes.append(received.code if received is not None else None)
                ceiling = min(15.0, 0.5 * 2**attempt)  # live.js: 0.5 s doubling, jittered
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), ceiling / 2 + random.random() * ceiling / 2)
                attempt += 1

    async def welcomed(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.welcomes) < count:
            assert time.monotonic() < deadline, (
                f"{len(self.welcomes)} welcomes, not {count}, within {timeout} s; "
                f"closes {self.closes}"
            )
            await asyncio.sleep(0.1)


def participant_sockets(stack: Stack, instance: str) -> float:
    """The instance's open participant sockets, from its /metrics (loopback may scrape)."""
    exposition = stack.exec(
        instance,
        "python3",
        "-c",
        "import urllib.request; print(urllib.request.urlopen("
        "'http://127.0.0.1:8000/metrics', timeout=5).read().decode())",
    )
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == "rollcall_open_sockets" and sample.labels == {"role": "participant"}:
                return float(sample.value)
    return 0.0


async def test_a_phone_joins_through_caddy_and_comes_back_when_its_instance_restarts(
    stack: Stack, tls: ssl.SSLContext, venue_dns: None
) -> None:
    public_url = stack.settings["ROLLCALL_PUBLIC_URL"]
    admin = {"Authorization": f"Bearer {stack.settings['ROLLCALL_ADMIN_TOKEN']}"}
    async with httpx.AsyncClient(base_url=public_url, verify=tls, timeout=15) as http:
        created = await http.post("/api/events", json={"title": "Deploy drill"}, headers=admin)
        assert created.status_code == 201, created.text
        code, host_token = created.json()["event"]["code"], created.json()["host_token"]
        assert created.json()["join_url"] == f"{public_url}/j/{code}"

        device = str(uuid.uuid4())
        joined = await http.post(
            f"/api/events/{code}/join", json={"device_id": device, "display_name": "Ada"}
        )
        assert joined.status_code == 201, joined.text
        participant_id = joined.json()["participant"]["id"]
        # https as rollcall saw it through Caddy: the cookie only https may carry.
        cookie = joined.cookies.get(SECURE_SESSION_COOKIE)
        assert cookie is not None, joined.headers.get_list("set-cookie")
        assert "secure" in joined.headers["set-cookie"].lower()

        phone = Phone(f"{public_url.replace('https', 'wss', 1)}/ws", public_url, cookie, tls)
        stop = asyncio.Event()
        living = asyncio.create_task(phone.live(stop))
        try:
            await phone.welcomed(1, timeout=15)
            holder = await asyncio.to_thread(
                until,
                "an instance holding the phone's socket",
                lambda: next((i for i in INSTANCES if participant_sockets(stack, i) == 1), None),
                20,
            )
            with stack.timed(f"{holder} restarted"):
                await asyncio.to_thread(stack.compose, "restart", holder)
            await phone.welcomed(2, timeout=BACK_WITHIN_S)
        finally:
            stop.set()
            await living

        # The restart closed the socket as a restart does, and the phone was back within the
        # presence timeout, as the same participant.
        assert phone.closes[0] == Close.SERVICE_RESTART, phone.closes
        back_after_s = phone.back_at[1] - phone.lost_at[0]
        stack.timings.append(f"the phone back {back_after_s:.1f} s after its socket closed")
        assert back_after_s < BACK_WITHIN_S
        assert {w["participant"]["id"] for w in phone.welcomes} == {participant_id}
        session = await http.get("/api/session")  # the cookie the join set, as the page sends it
        assert session.status_code == 200, session.text
        assert session.json()["participant"]["id"] == participant_id
        roster = await http.get(
            f"/api/events/{code}/participants",
            headers={"Authorization": f"Bearer {host_token}"},
        )
        assert roster.status_code == 200, roster.text
        [entry] = roster.json()["participants"]
        assert (entry["id"], entry["status"], entry["presence"]) == (
            participant_id,
            "active",
            "online",
        )
    await asyncio.to_thread(stack.wait_healthy, holder, 60)
