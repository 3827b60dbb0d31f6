"""Slow clients cost only their own socket, on a real `rollcall serve`.

Bodies are read before any route takes a database connection, so a dozen trickling bodies
leave the event served; a header block or a body that trickles past its deadline is cut off;
a header block too large is refused; idle connections are closed; a client that goes away
mid-body is one quiet line in the log.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.factories import bearer, create_event, join
from tests.polling import eventually
from tests.rawhttp import Raw, head
from tests.servers import RollcallServer, rollcall_server

TRICKLES = 12
"""More trickling bodies than a process has pooled connections (10)."""
ANSWER_WITHIN_S = 2.0
STRICT = {
    "header_timeout_s": 1,
    "body_timeout_s": 1,
    "keep_alive_timeout_s": 1,
    "max_header_bytes": 4096,
}


@pytest.fixture(scope="module")
def server(module_db: str, logs: Path) -> Iterator[RollcallServer]:
    """Default deadlines and pool; logs at INFO, so that quiet lines show."""
    with rollcall_server(module_db, logs, args=("--log-level", "info")) as running:
        yield running


@pytest.fixture(scope="module")
def strict(module_db: str, logs: Path) -> Iterator[RollcallServer]:
    """Deadlines of a second and a small header limit."""
    with rollcall_server(module_db, logs, **STRICT) as running:
        yield running


@pytest.fixture(scope="module")
def public(module_db: str, logs: Path) -> Iterator[RollcallServer]:
    """Serving only the host name of its ROLLCALL_PUBLIC_URL."""
    with rollcall_server(module_db, logs, public_url="http://rollcall.test") as running:
        yield running


@pytest.fixture
async def http(server: RollcallServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        yield client


async def cut_off(server: RollcallServer, reason: str) -> float:
    """rollcall_requests_cut_off_total for this reason, from the server's /metrics."""
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        text = (await client.get("/metrics")).text
    found = re.search(rf'^rollcall_requests_cut_off_total{{reason="{reason}"}} (\S+)$', text, re.M)
    assert found is not None, text
    return float(found[1])


def problem_code(answer: bytes) -> str:
    code: str = json.loads(answer.split(b"\r\n\r\n", 1)[1])["code"]
    return code


async def timed(request: asyncio.Future[httpx.Response]) -> tuple[int, float]:
    started = time.monotonic()
    response = await request
    return response.status_code, time.monotonic() - started


async def test_trickling_bodies_of_one_participant_leave_the_event_served(
    server: RollcallServer, http: httpx.AsyncClient
) -> None:
    event = await create_event(http, admission="approval")
    pending = await join(http, event.code)
    assert pending.status_code == 202, pending.text
    participant_token = pending.json()["session_token"]
    own = await create_event(http)  # anyone may host: kicks need only an event of one's own
    victim = (await join(http, own.code)).json()["participant"]["id"]
    open_event = await create_event(http)
    heartbeat = head(server, "/api/session/heartbeat", length=64, token=participant_token)
    kick = head(
        server,
        f"/api/events/{own.code}/participants/{victim}/kick",
        length=64,
        token=own.host_token,
    )
    trickles = [await Raw.open(server) for _ in range(TRICKLES)]
    for number, raw in enumerate(trickles):
        await raw.send(kick if number % 3 == 0 else heartbeat)
        await raw.send(b"{")
    dripping = [asyncio.create_task(raw.trickle(b" " * 63, every_s=0.25)) for raw in trickles]
    try:
        until = time.monotonic() + 4
        rounds = 0
        while time.monotonic() < until:
            rounds += 1
            answers = await asyncio.gather(
                timed(asyncio.ensure_future(http.get("/healthz"))),
                timed(asyncio.ensure_future(http.get(f"/api/events/{event.code}"))),
                timed(asyncio.ensure_future(join(http, open_event.code))),
            )
            assert [status for status, _ in answers] == [200, 200, 201], (rounds, answers)
            assert all(seconds < ANSWER_WITHIN_S for _, seconds in answers), (rounds, answers)
        assert all(not raw.reader.at_eof() for raw in trickles), "a trickle was cut off early"
    finally:
        for task in dripping:
            task.cancel()
        for raw in trickles:
            raw.close()


async def test_a_body_that_trickles_past_its_deadline_is_answered_408_and_closed(
    strict: RollcallServer,
) -> None:
    counted = await cut_off(strict, "body_timeout")
    raw = await Raw.open(strict)
    await raw.send(head(strict, "/api/session/heartbeat", length=64) + b"{")
    started = time.monotonic()
    dripping = asyncio.create_task(raw.trickle(b" " * 63))
    status, answer = await raw.answer()
    dripping.cancel()
    assert status == 408, answer
    assert problem_code(answer) == "request_timeout"
    assert b"connection: close" in answer.lower()
    assert 0.9 <= time.monotonic() - started < 5
    assert await cut_off(strict, "body_timeout") == counted + 1


async def test_a_header_block_that_trickles_past_its_deadline_is_cut_off(
    strict: RollcallServer,
) -> None:
    counted = await cut_off(strict, "header_timeout")
    raw = await Raw.open(strict)
    started = time.monotonic()
    request = head(strict, "/healthz", length=0).replace(b"POST", b"GET")
    dripping = asyncio.create_task(raw.trickle(request, every_s=0.1))
    status, answer = await raw.answer()
    dripping.cancel()
    assert status == 408, answer
    assert problem_code(answer) == "request_timeout"
    assert 0.9 <= time.monotonic() - started < 5
    assert await cut_off(strict, "header_timeout") == counted + 1


async def test_a_connection_that_sends_nothing_is_closed(strict: RollcallServer) -> None:
    raw = await Raw.open(strict)
    started = time.monotonic()
    status, answer = await raw.answer()
    assert (status, answer) == (0, b"")
    assert 0.9 <= time.monotonic() - started < 5


async def test_a_header_block_over_the_limit_is_431_and_one_under_it_is_served(
    strict: RollcallServer,
) -> None:
    limit = int(STRICT["max_header_bytes"])
    big = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{strict.port}\r\nX-Padding: "
    counted = await cut_off(strict, "headers_too_large")
    raw = await Raw.open(strict)
    await raw.send(big.encode() + b"a" * limit + b"\r\n\r\n")
    status, answer = await raw.answer()
    assert status == 431, answer
    assert problem_code(answer) == "headers_too_large"
    assert await cut_off(strict, "headers_too_large") == counted + 1

    async with httpx.AsyncClient(base_url=strict.base_url) as client:
        served = await client.get("/healthz", headers={"X-Padding": "a" * (limit // 2)})
    assert served.status_code == 200


async def test_an_idle_connection_is_closed_after_the_keep_alive_timeout(
    strict: RollcallServer,
) -> None:
    raw = await Raw.open(strict)
    await raw.send(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{strict.port}\r\n\r\n".encode())
    started = time.monotonic()
    status, answer = await raw.answer()
    assert status == 200, answer
    assert b"connection: close" not in answer.lower()  # it was kept alive, then closed idle
    assert time.monotonic() - started < 3


async def test_a_client_gone_mid_body_is_one_quiet_line(
    server: RollcallServer, http: httpx.AsyncClient
) -> None:
    counted = await cut_off(server, "client_gone")
    before = len(server.log())
    raw = await Raw.open(server)
    await raw.send(head(server, "/api/session/heartbeat", length=64) + b'{"at":')
    raw.close()

    async def gone_logged() -> bool:
        return "went away" in server.log()[before:]

    await eventually(gone_logged, what="the line of a client gone mid-body")
    assert (await http.get("/healthz")).status_code == 200  # after it, in the log's order
    written = server.log()[before:]
    quiet = [line for line in written.splitlines() if "went away" in line]
    assert len(quiet) == 1 and quiet[0].startswith("INFO"), written
    assert "Traceback" not in written and "ERROR" not in written, written
    assert await cut_off(server, "client_gone") == counted + 1


async def test_a_kick_body_still_counts_once_read(http: httpx.AsyncClient) -> None:
    """Reading the body first changes nothing for a client that sends it at once."""
    event = await create_event(http)
    joined = (await join(http, event.code)).json()["participant"]["id"]
    kicked = await http.post(
        f"/api/events/{event.code}/participants/{joined}/kick",
        json={"ban": False},
        headers=bearer(event.host_token),
    )
    assert kicked.status_code == 200, kicked.text
    assert kicked.json()["status"] == "left"


async def test_a_request_answered_before_its_body_arrived_closes_its_connection(
    public: RollcallServer,
) -> None:
    """A foreign Host is answered 421 before the body is read; the rest of a trickling body
    must not keep the connection."""
    raw = await Raw.open(public)
    request = head(public, "/api/session/heartbeat", length=64).replace(
        f"127.0.0.1:{public.port}".encode(), b"elsewhere.example"
    )
    await raw.send(request + b"{")
    dripping = asyncio.create_task(raw.trickle(b" " * 63))
    status, answer = await raw.answer(timeout=5)
    dripping.cancel()
    assert status == 421, answer


async def test_an_early_answer_reaches_a_client_that_is_still_sending(
    public: RollcallServer,
) -> None:
    """The 421 goes out while the client's body is still arriving: the client reads the
    answer, not a reset (the connection is ended after the answer, not closed with unread
    bytes)."""
    for _ in range(5):
        raw = await Raw.open(public)
        request = head(public, "/api/session/heartbeat", length=4_000_000).replace(
            f"127.0.0.1:{public.port}".encode(), b"elsewhere.example"
        )
        await raw.send(request)
        raw.writer.write(b" " * 1_000_000)  # a large body on its way, unread by the server
        status, answer = await raw.answer(timeout=5)
        raw.close()
        assert status == 421, answer
