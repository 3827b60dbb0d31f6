"""Rate limits per client address: moving windows (the `limits` package), counted in this
process's memory or, with ROLLCALL_RATE_LIMIT_STORAGE=redis://…, in a Redis every process of a
fleet shares (one budget across them all).

Each limit counts attempts that are spent; an attempt may also be reserved while it runs, so that
a thousand requests arriving at once cannot all pass a check that none of them has spent yet.
Reservations are this process's own; spent attempts are counted wherever the storage is.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import time
from collections import Counter, deque
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter as SharedWindows
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from limits.util import WindowStats
from starlette.requests import HTTPConnection

from rollcall import metrics
from rollcall.errors import EventNotFound, InvalidToken, Problem, RateLimited
from rollcall.settings import Settings

log = logging.getLogger(__name__)

MEMORY = "memory://"
SHARED_TIMEOUT_S = 0.5
"""How long a call to the shared storage may take before this process counts alone."""
SHARED_RETRY_S = 5.0
"""After the shared storage failed, how long this process counts alone before it tries again."""


class Windows:
    """The moving windows of every limit: in the shared storage when there is one and it answers,
    else in this process's memory.

    Failing open to this process's own counts, not to no limit and not to refusing everyone: the
    limits guard against floods, the database still guards every rule, and a venue whose Redis
    restarts should go on joining (each process then allows its own budget, as without Redis).
    """

    def __init__(self, storage: str) -> None:
        self.local = MovingWindowRateLimiter(MemoryStorage())
        self.shared: SharedWindows | None = None
        if storage != MEMORY:
            self.shared = SharedWindows(
                storage_from_string(
                    f"async+{storage}",
                    wrap_exceptions=True,
                    connect_timeout=SHARED_TIMEOUT_S,
                    stream_timeout=SHARED_TIMEOUT_S,
                )
            )
        self.storage = storage.split("://", 1)[0]  # never the URI: it may hold a password
        self._shared_from = 0.0  # monotonic time from which the shared storage is tried again
        self._shared_lost = False

    def hit(self, item: RateLimitItem, *keys: str, cost: int = 1) -> Awaitable[bool]:
        return self._run("hit", item, *keys, cost=cost)

    def test(self, item: RateLimitItem, *keys: str, cost: int = 1) -> Awaitable[bool]:
        return self._run("test", item, *keys, cost=cost)

    def window(self, item: RateLimitItem, *keys: str) -> Awaitable[WindowStats]:
        return self._run("get_window_stats", item, *keys)

    async def _run(self, method: str, *args: Any, **options: Any) -> Any:
        if self.shared is not None and time.monotonic() >= self._shared_from:
            try:
                async with asyncio.timeout(SHARED_TIMEOUT_S):
                    result = await getattr(self.shared, method)(*args, **options)
            except (StorageError, TimeoutError) as exc:
                self._lost(exc)
            else:
                self._found()
                return result
        if self.shared is not None:
            metrics.RATE_LIMITS_ALONE.inc()
        return getattr(self.local, method)(*args, **options)

    def _lost(self, exc: Exception) -> None:
        self._shared_from = time.monotonic() + SHARED_RETRY_S
        if not self._shared_lost:
            self._shared_lost = True
            log.warning(
                "rate limits: the %s storage does not answer (%s); this process counts alone"
                " (its own budget) until it does",
                self.storage,
                type(exc).__name__,
            )

    def _found(self) -> None:
        if self._shared_lost:
            self._shared_lost = False
            log.warning(
                "rate limits: the %s storage answers again; the budget is shared", self.storage
            )


class AddressLimit:
    """One limit ("600/minute"), counted per client address."""

    def __init__(self, name: str, limit: str, limiter: Windows) -> None:
        self.name = name
        self.item: RateLimitItem = parse(limit)
        self._limiter = limiter
        self._reserved: Counter[str] = Counter()

    async def hit(self, address: str) -> bool:
        """Spend one attempt now; False when the limit is reached (nothing is spent then)."""
        return await self._limiter.hit(self.item, self.name, address)

    async def refusal(self, address: str, detail: str) -> RateLimited:
        return RateLimited(detail, retry_after_s=await self.retry_after_s(address))

    async def reserve(self, address: str) -> bool:
        """Hold one attempt while it runs; False when spent and held ones reach the limit.

        Held before the check, which may wait on the storage: attempts arriving meanwhile count it.
        """
        self._reserved[address] += 1
        if await self._limiter.test(self.item, self.name, address, cost=self._reserved[address]):
            return True
        self._unhold(address)
        return False

    async def release(self, address: str, *, spend: bool) -> None:
        """End a reservation; spend=True counts the attempt in the window."""
        self._unhold(address)
        if spend:
            await self._limiter.hit(self.item, self.name, address)

    def _unhold(self, address: str) -> None:
        held = self._reserved[address] - 1
        if held > 0:
            self._reserved[address] = held
        else:
            del self._reserved[address]

    async def retry_after_s(self, address: str) -> int:
        """Seconds until this address may try again (at least 1)."""
        stats = await self._limiter.window(self.item, self.name, address)
        if stats.remaining > self._reserved[address]:
            return 1  # only attempts in flight hold it back; they end within moments
        return max(1, math.ceil(stats.reset_time - time.time()))


class RateLimits:
    """The limits of one process, built from the settings."""

    def __init__(self, settings: Settings) -> None:
        limiter = Windows(settings.rate_limit_storage)
        self.joins = AddressLimit("joins", settings.limit_joins, limiter)
        self.events = AddressLimit("events", settings.limit_events, limiter)
        # Unknown event codes and wrong admin tokens, per address: guesses at what exists.
        self.guesses = AddressLimit("guesses", settings.limit_guesses, limiter)
        # Wrong room checks and recovery codes, per (address, event): guesses at one event's
        # secrets, which spend nothing of that address's budget at other events.
        self.event_guesses = AddressLimit("event_guesses", settings.limit_guesses, limiter)
        self.ws_messages = parse(settings.limit_ws_messages)
        # Counted per participant (its id as the key), not per address: a venue's phones
        # share one address, and each may answer at its own pace.
        self.actions = AddressLimit("actions", settings.limit_actions, limiter)

    async def unknown_code(self, address: str, code: str) -> Problem:
        """An unknown event code is a guess: 404, or 429 once the address has guessed too much."""
        if await self.guesses.hit(address):
            return EventNotFound(f"no event has the code {code!r}")
        return await self.guesses.refusal(
            address, "too many unknown event codes from this address; try again later"
        )

    async def wrong_admin_token(self, address: str) -> Problem:
        """A wrong admin token is a guess too: 401, or 429 once the address has guessed too much."""
        if await self.guesses.hit(address):
            return InvalidToken("creating events needs ROLLCALL_ADMIN_TOKEN as a bearer token")
        return await self.guesses.refusal(
            address, "too many wrong tokens from this address; try later"
        )


def event_key(address: str, code: str) -> str:
    """The key of one address's guesses at one event (event_guesses)."""
    return f"{address} {code}"


def client_address(connection: HTTPConnection) -> str:
    """Who is asking, as the limits count: the peer's address (uvicorn has already replaced it
    with X-Forwarded-For's when the peer is one of ROLLCALL_TRUSTED_PROXIES), an IPv6 one as
    its /64, since one host usually holds the whole /64."""
    client = connection.client
    return counted_address(client.host) if client is not None else "unknown"


def counted_address(host: str) -> str:
    """An IPv4 address as it is (an IPv4-mapped IPv6 one as its IPv4); IPv6 as its /64."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])  # no zone: fe80::1%eth0
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    if address.is_loopback:
        return str(address)
    return str(ipaddress.IPv6Network((address, 64), strict=False))


@dataclass
class MessageWindow:
    """A moving window over one socket's messages: at most `amount` in any `seconds`.

    Each socket has its own; a shared keyed store would cost a scan of every socket's entries
    on each expiry pass, and a socket's count dies with it anyway.
    """

    amount: int
    seconds: float

    def __post_init__(self) -> None:
        self._times: deque[float] = deque(maxlen=self.amount)

    @classmethod
    def of(cls, item: RateLimitItem) -> MessageWindow:
        return cls(item.amount, item.get_expiry())

    def allow(self) -> bool:
        """Count one message; False when it is one too many."""
        now = time.monotonic()
        if len(self._times) == self.amount and now - self._times[0] < self.seconds:
            return False
        self._times.append(now)
        return True
