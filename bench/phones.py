"""Simulated phones: join over HTTP, then keep a /ws connection as the join page does (live.js).

A Phone says hello with its token, waits for the welcome, beats every heartbeat interval and
times each ack, and, when asked to, reconnects after any close that is not final as live.js
does: after a 1012 or 1001 close (the server restarting or going away), every 0-1 s (full
jitter) for 30 s; otherwise with backoff (exponential from 500 ms, capped at 15 s, jittered
between half and all of it).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

from bench.wire import Wire, connect, open_websocket, post_json
from bench.workers import Channel
from rollcall.protocol import ClientMessage, Close, ServerMessage

FINAL_CLOSES = {
    Close.INVALID_TOKEN,
    Close.KICKED,
    Close.EVENT_NOT_FOUND,
    Close.REPLACED,
    Close.EVENT_CLOSED,
}
RESTART_CLOSES = {Close.GOING_AWAY, Close.SERVICE_RESTART}
RESTART_WINDOW_S = 30.0
RESTART_RETRY_S = 1.0
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 15.0
HEARTBEAT = json.dumps({"type": ClientMessage.HEARTBEAT}, separators=(",", ":"))


def backoff_delay(attempt: int) -> float:
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0**attempt)
    return ceiling / 2 + random.random() * (ceiling / 2)  # jitter, not a secret


async def http_join(port: int, code: str, device_id: str, name: str) -> tuple[int, dict[str, Any]]:
    """POST the join on a fresh connection, as a phone that just scanned the QR code would."""
    wire = await connect(port)
    try:
        status, body = await asyncio.wait_for(
            wire.request(
                post_json(
                    port,
                    f"/api/events/{code}/join",
                    {"device_id": device_id, "display_name": name},
                )
            ),
            30,
        )
    finally:
        wire.abort()
    return status, json.loads(body) if body else {}


async def join_silently(
    port: int,
    code: str,
    count: int,
    *,
    prefix: str,
    in_flight: int = 100,
    joined: Callable[[], None] = lambda: None,
) -> int:
    """Join `count` new devices over HTTP, `in_flight` at a time, none opening a socket (each
    tried up to 4 times); `joined()` after each that got in. Returns how many got in."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)
    got_in = 0

    async def joiner() -> None:
        nonlocal got_in
        while not queue.empty():
            n = queue.get_nowait()
            for _ in range(4):
                status, _ = await http_join(port, code, str(uuid4()), f"{prefix}{n}")
                if status in (200, 201):
                    got_in += 1
                    joined()
                    break
                await asyncio.sleep(0.5)

    await asyncio.gather(*(joiner() for _ in range(in_flight)))
    return got_in


@dataclass(frozen=True)
class PhoneSummary:
    """What the phones of one worker saw, as a worker sends it to the bench."""

    beats: int
    closes: dict[int, int]  # close code: how many
    messages: dict[str, int]  # message type: how many
    welcomes: int
    failed_connects: int
    ack_ms: list[float] = field(default_factory=list)


class PhoneStats:
    """What the phones of one worker saw."""

    def __init__(self) -> None:
        self.ack_ms = array("d")
        self.beats = 0
        self.closes: Counter[int] = Counter()
        self.messages: Counter[str] = Counter()
        self.welcomes = 0
        self.failed_connects = 0

    def restart_window(self) -> None:
        """Forget the acks, beats and closes so far: from here on, a measured window only."""
        self.ack_ms = array("d")
        self.beats = 0
        self.closes.clear()

    def summary(self, *, with_acks: bool = True) -> PhoneSummary:
        return PhoneSummary(
            beats=self.beats,
            closes=dict(self.closes),
            messages=dict(self.messages),
            welcomes=self.welcomes,
            failed_connects=self.failed_connects,
            ack_ms=list(self.ack_ms) if with_acks else [],
        )


class Phone:
    def __init__(
        self,
        port: int,
        token: str,
        stats: PhoneStats,
        *,
        beat_s: float | None = None,
        reconnect: bool = False,
    ) -> None:
        self.port = port
        self.token = token
        self.stats = stats
        self.beat_s = beat_s
        self.reconnect = reconnect
        self.wire: Wire | None = None
        self.welcome: dict[str, Any] | None = None
        self.welcomed_at: list[float] = []
        self.attempt = 0
        self.stopped = False
        self._waiter: asyncio.Future[dict[str, Any]] | None = None
        self._connecting = False
        self._retry: asyncio.TimerHandle | None = None
        self._beating = False
        self._beat_sent = 0.0
        self._restarting_since: float | None = None
        self.refusal: str | None = None

    async def connect(
        self, limit_s: float = 10, *, join: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Open the socket and return the welcome (raises when there is none).

        With `join` (the event's code and a join's fields), the hello joins instead of
        presenting a token, and the welcome's token is the phone's from then on.
        """
        loop = asyncio.get_running_loop()
        self._waiter = loop.create_future()
        self._connecting = True
        hello: dict[str, Any] = {"type": ClientMessage.HELLO}
        if join is None:
            hello["token"] = self.token
        else:
            hello["join"] = join
        try:
            self.wire = await open_websocket(
                self.port,
                hello,
                on_message=self._on_message,
                on_close=self._on_close,
                limit_s=limit_s,
            )
            return await asyncio.wait_for(self._waiter, limit_s)
        except BaseException:
            if self.wire is not None:
                self.wire.abort()
            raise
        finally:
            self._connecting = False

    def _on_message(self, payload: bytes) -> None:
        message = json.loads(payload)
        kind = message.get("type")
        if kind == ServerMessage.ACK:
            if self._beat_sent:
                self.stats.ack_ms.append((time.perf_counter() - self._beat_sent) * 1000)
                self._beat_sent = 0.0
            return
        self.stats.messages[kind] += 1
        if kind == ServerMessage.ERROR and self._connecting:
            self.refusal = message.get("code")  # a refused hello-join says why, then closes
        if kind == ServerMessage.WELCOME:
            self.stats.welcomes += 1
            self.welcome = message
            self.token = message.get("session_token", self.token)
            self.welcomed_at.append(time.time())
            self.attempt = 0
            self._restarting_since = None
            if self._waiter is not None and not self._waiter.done():
                self._waiter.set_result(message)
            if self.beat_s and not self._beating:
                self._beating = True
                asyncio.get_running_loop().call_later(random.random() * self.beat_s, self._beat)

    def _beat(self) -> None:
        if self.stopped:
            return
        wire = self.wire
        if wire is not None and not wire.closed and self.welcome is not None:
            wire.send_text(HEARTBEAT)
            self.stats.beats += 1
            self._beat_sent = time.perf_counter()
        assert self.beat_s is not None
        asyncio.get_running_loop().call_later(self.beat_s, self._beat)

    def _on_close(self, code: int) -> None:
        self.stats.closes[code] += 1
        if code in RESTART_CLOSES:
            self._restarting_since = time.monotonic()
        if self._waiter is not None and not self._waiter.done():
            why = f" ({self.refusal})" if self.refusal else ""
            self._waiter.set_exception(
                ConnectionError(f"closed with {code} before the welcome{why}")
            )
        if self._connecting:
            return  # connect() fails, and whoever called it decides what next
        if self.reconnect and not self.stopped and code not in FINAL_CLOSES:
            self._schedule_reconnect()

    def _schedule_reconnect(self) -> None:
        if self._retry is not None or self.stopped:
            return
        since = self._restarting_since
        if since is not None and time.monotonic() - since < RESTART_WINDOW_S:
            delay = random.random() * RESTART_RETRY_S
        else:
            delay = backoff_delay(self.attempt)
        self.attempt += 1
        self._retry = asyncio.get_running_loop().call_later(delay, self._fire)

    def _fire(self) -> None:
        self._retry = None
        asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        if self.stopped:
            return
        try:
            await self.connect()
        except (OSError, ConnectionError, TimeoutError):
            self.stats.failed_connects += 1
            self._schedule_reconnect()

    def close(self) -> None:
        self.stopped = True
        if self._retry is not None:
            self._retry.cancel()
        if self.wire is not None:
            self.wire.abort()


@dataclass
class Crowd:
    """The phones that got in, with their participant ids, what they saw, and the errors
    retried on the way."""

    arrived: list[tuple[str, Phone]]
    stats: PhoneStats
    failures: Counter[str]

    def close(self) -> None:
        for _, phone in self.arrived:
            phone.close()


async def arrive_all(
    channel: Channel,
    *,
    ports: list[int],
    code: str,
    count: int,
    name_prefix: str,
    concurrency: int,
    limit_s: float,
    beat_s: float | None = None,
    reconnect: bool = False,
    phone: type[Phone] = Phone,
) -> Crowd:
    """Join `count` new phones and open their sockets, `concurrency` at a time, in `limit_s`.

    A phone that gets an error tries again (3 times), as people do. `channel.done` counts the
    phones in as they come. Those not in after `limit_s` are counted as failures, and the
    crowd is the phones that got in.
    """
    stats = PhoneStats()
    failures: Counter[str] = Counter()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)
    arrived: list[tuple[str, Phone]] = []

    async def arrive() -> None:
        while not queue.empty():
            n = queue.get_nowait()
            port = ports[n % len(ports)]
            device = str(uuid4())
            for attempt in range(4):
                try:
                    status, body = await http_join(port, code, device, f"{name_prefix}n{n}")
                    if status not in (200, 201):
                        failures[f"join {status}"] += 1
                        await asyncio.sleep(0.5 * 2**attempt)
                        continue
                    arriving = phone(
                        port, body["session_token"], stats, beat_s=beat_s, reconnect=reconnect
                    )
                    await arriving.connect(limit_s=30)
                except (OSError, ConnectionError, TimeoutError) as exc:
                    failures[type(exc).__name__] += 1
                    await asyncio.sleep(0.5 * 2**attempt)
                    continue
                arrived.append((body["participant"]["id"], arriving))
                channel.done += 1
                break

    tasks = [asyncio.ensure_future(arrive()) for _ in range(concurrency)]
    _, late = await asyncio.wait(tasks, timeout=limit_s)
    if late:  # a soak goes on with the phones that got in, and says how many did not
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        failures[f"not in within {limit_s:.0f} s"] += count - len(arrived)
    for task in tasks:
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error
    return Crowd(arrived=arrived, stats=stats, failures=failures)
