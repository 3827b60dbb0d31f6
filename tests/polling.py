"""Waiting for a condition instead of sleeping: ask again until it holds, or fail saying what.

`eventually` for coroutines, `eventually_sync` for plain code. Each returns what the check
returned the first time it was truthy; past the timeout it raises AssertionError with `what`
and the last value seen, so a failure says what was still wrong.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

INTERVAL_S = 0.05


class _Patience:
    """Whether a check's answer ends the wait: yes when it holds, a failure past the deadline."""

    def __init__(self, timeout: float, what: str) -> None:
        self.timeout, self.what = timeout, what
        self.deadline = time.monotonic() + timeout

    def done(self, found: object) -> bool:
        if found:
            return True
        if time.monotonic() >= self.deadline:
            raise AssertionError(f"{self.what}: not within {self.timeout} s (last: {found!r})")
        return False


async def eventually(
    check: Callable[[], Awaitable[T]],
    *,
    timeout: float = 10,
    interval: float = INTERVAL_S,
    what: str = "the condition",
) -> T:
    """Await `check()` until its result is truthy; that result."""
    patience = _Patience(timeout, what)
    while not patience.done(found := await check()):
        await asyncio.sleep(interval)
    return found


def eventually_sync(
    check: Callable[[], T],
    *,
    timeout: float = 10,
    interval: float = INTERVAL_S,
    what: str = "the condition",
) -> T:
    """Call `check()` until its result is truthy; that result."""
    patience = _Patience(timeout, what)
    while not patience.done(found := check()):
        time.sleep(interval)
    return found
