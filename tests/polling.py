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


async def eventually(
    check: Callable[[], Awaitable[T]],
    *,
    timeout: float = 10,
    interval: float = INTERVAL_S,
    what: str = "the condition",
) -> T:
    """Await `check()` until its result is truthy; that result."""
    deadline = time.monotonic() + timeout
    while True:
        found = await check()
        if found:
            return found
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout} s (last: {found!r})")
        await asyncio.sleep(interval)


def eventually_sync(
    check: Callable[[], T],
    *,
    timeout: float = 10,
    interval: float = INTERVAL_S,
    what: str = "the condition",
) -> T:
    """Call `check()` until its result is truthy; that result."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout} s (last: {found!r})")
        time.sleep(interval)
