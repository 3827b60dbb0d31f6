"""Receivers that hang, fail, redirect or answer with 1 GB hold up their own messages only."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from rollcall.webhooks.delivery import MAX_STREAMS
from tests.factories import HostedEvent, create_event, join
from tests.servers import RollcallServer, rollcall_server
from tests.webhooks.conftest import FAST_WEBHOOKS
from tests.webhooks.receiver import HUGE_BYTES, Receiver
from tests.webhooks.test_delivery import put_webhook

MB = 1 << 20


def rss(server: RollcallServer) -> int:
    """The server process's resident memory, in bytes."""
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise LookupError("no VmRSS")


async def deliveries_when(
    http: httpx.AsyncClient,
    event: HostedEvent,
    predicate: Callable[[dict[str, Any]], bool],
    *,
    timeout: float,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    path = f"/api/events/{event.code}/webhook/deliveries"
    while True:
        deliveries: dict[str, Any] = (await http.get(path, headers=event.host_headers)).json()
        if predicate(deliveries):
            return deliveries
        assert time.monotonic() < deadline, deliveries
        await asyncio.sleep(0.1)


async def test_bad_receivers_hold_up_nothing_but_their_own_messages(
    webhook_db: str, logs: Path, receivers: Callable[..., Receiver]
) -> None:
    good = receivers("ok")
    bad = {mode: receivers(mode) for mode in ("hang", "fail", "redirect", "huge")}
    settings = {
        **FAST_WEBHOOKS,
        "presence_timeout_s": 600,
        "webhook_timeout_s": 2,
        "webhook_retry_for_s": 4,
    }
    with rollcall_server(webhook_db, logs, **settings) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            events = {}
            for mode, receiver in bad.items():
                events[mode] = await create_event(http, title=mode)
                await put_webhook(http, events[mode], receiver.url)
            mine = await create_event(http, title="good")
            await put_webhook(http, mine, good.url)
            memory_before = rss(server)

            for round in range(1, 6):
                for event in events.values():
                    await join(http, event.code)
                await join(http, mine.code)
                started = time.monotonic()
                await good.until(
                    lambda got, n=round: len(got) == n, timeout=5, what=f"good message {round}"
                )
                assert time.monotonic() - started < 2, "the good receiver was kept waiting"

            hung = await deliveries_when(
                http, events["hang"], lambda d: d["failed_attempts"] >= 1, timeout=10
            )
            assert hung["last_error"] == "no answer within 2 s"
            assert hung["attempts"][0]["status"] is None
            failed = await deliveries_when(
                http, events["fail"], lambda d: d["state"] == "gave_up", timeout=15
            )
            assert failed["failed_attempts"] >= 3 and failed["next_attempt_at"] is None
            assert failed["last_error"] == "HTTP 500: receiver is broken"
            assert failed["delivered_seq"] == 0 and failed["seq"] >= 5
            redirected = await deliveries_when(
                http, events["redirect"], lambda d: d["failed_attempts"] >= 2, timeout=10
            )
            assert redirected["last_error"].startswith("HTTP 302: a redirect")
            assert redirected["attempts"][0]["status"] == 302
            huge = await deliveries_when(
                http, events["huge"], lambda d: d["failed_attempts"] >= 4, timeout=15
            )
            assert huge["last_error"].startswith("HTTP 500")
            assert len(huge["last_error"]) < 300
            memory_after = rss(server)

    assert all(request.path == "/hook" for request in bad["redirect"].snapshot())
    huge_requests = len(bad["huge"].snapshot())
    assert huge_requests >= 4
    # The receiver offered 1 GB each time; the kernel's socket buffers took a few MB at most.
    assert bad["huge"].huge_bytes_sent < huge_requests * 32 * MB < huge_requests * HUGE_BYTES
    assert memory_after - memory_before < 64 * MB, (memory_before, memory_after)


@pytest.mark.slow
async def test_dead_endpoints_in_backoff_hold_no_slot_and_the_global_endpoint_has_its_own(
    webhook_db: str, logs: Path, receivers: Callable[..., Receiver], global_secret: str
) -> None:
    """More dead webhooks than there are delivery slots, all waiting to retry: a live event's
    webhook and ROLLCALL_WEBHOOK_URL still get their messages at once."""
    dead = receivers("ok")
    dead.stop()  # its port now refuses connections
    live, everything = receivers("ok"), receivers("ok")
    settings = {
        **FAST_WEBHOOKS,
        "webhook_retry_base_s": 60,
        "webhook_retry_max_s": 600,
        "webhook_url": everything.url,
        "webhook_secret": global_secret,
    }
    with rollcall_server(webhook_db, logs, **settings) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            gate = asyncio.Semaphore(16)

            async def dead_event(i: int) -> HostedEvent:
                async with gate:
                    event = await create_event(http, title=f"dead {i}")
                    await put_webhook(http, event, dead.url)
                    await join(http, event.code)
                    return event

            deads = await asyncio.gather(*(dead_event(i) for i in range(MAX_STREAMS + 8)))
            failing = await deliveries_when(
                http, deads[0], lambda d: d["failed_attempts"] >= 1, timeout=20
            )
            assert failing["next_attempt_at"] is not None
            mine = await create_event(http, title="live")
            await put_webhook(http, mine, live.url)
            await join(http, mine.code, name="Ana")
            started = time.monotonic()
            await live.until(lambda got: len(got) >= 1, timeout=5, what="the live webhook")
            assert time.monotonic() - started < 3, "the live webhook waited for a slot"
            await everything.until(
                lambda got: any(r.payload()["event"] == mine.code for r in got),
                timeout=10,
                what="the global webhook",
            )
