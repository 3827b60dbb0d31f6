"""Rate limits per client address: moving windows, in this process's memory (the `limits` package).

Each limit counts attempts that are spent; an attempt may also be reserved while it runs, so that
a thousand requests arriving at once cannot all pass a check that none of them has spent yet.
Several processes each keep their own counts (docs/operations.md says what that means).
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import Counter, deque
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import HTTPConnection

from rollcall.errors import EventNotFound, InvalidToken, Problem, RateLimited
from rollcall.settings import Settings


class AddressLimit:
    """One limit ("600/minute"), counted per client address."""

    def __init__(self, name: str, limit: str, limiter: MovingWindowRateLimiter) -> None:
        self.name = name
        self.item: RateLimitItem = parse(limit)
        self._limiter = limiter
        self._reserved: Counter[str] = Counter()

    def hit(self, address: str) -> bool:
        """Spend one attempt now; False when the limit is reached (nothing is spent then)."""
        return self._limiter.hit(self.item, self.name, address)

    def refusal(self, address: str, detail: str) -> RateLimited:
        return RateLimited(detail, retry_after_s=self.retry_after_s(address))

    def reserve(self, address: str) -> bool:
        """Hold one attempt while it runs; False when spent and held ones reach the limit."""
        held = self._reserved[address]
        if not self._limiter.test(self.item, self.name, address, cost=held + 1):
            return False
        self._reserved[address] = held + 1
        return True

    def release(self, address: str, *, spend: bool) -> None:
        """End a reservation; spend=True counts the attempt in the window."""
        held = self._reserved[address] - 1
        if held > 0:
            self._reserved[address] = held
        else:
            del self._reserved[address]
        if spend:
            self._limiter.hit(self.item, self.name, address)

    def retry_after_s(self, address: str) -> int:
        """Seconds until this address may try again (at least 1)."""
        stats = self._limiter.get_window_stats(self.item, self.name, address)
        if stats.remaining > self._reserved[address]:
            return 1  # only attempts in flight hold it back; they end within moments
        return max(1, math.ceil(stats.reset_time - time.time()))


class RateLimits:
    """The limits of one process, built from the settings."""

    def __init__(self, settings: Settings) -> None:
        limiter = MovingWindowRateLimiter(MemoryStorage())
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

    def unknown_code(self, address: str, code: str) -> Problem:
        """An unknown event code is a guess: 404, or 429 once the address has guessed too much."""
        if self.guesses.hit(address):
            return EventNotFound(f"no event has the code {code!r}")
        return self.guesses.refusal(
            address, "too many unknown event codes from this address; try again later"
        )

    def wrong_admin_token(self, address: str) -> Problem:
        """A wrong admin token is a guess too: 401, or 429 once the address has guessed too much."""
        if self.guesses.hit(address):
            return InvalidToken("creating events needs ROLLCALL_ADMIN_TOKEN as a bearer token")
        return self.guesses.refusal(address, "too many wrong tokens from this address; try later")


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
