"""This process's own moving windows: the `limits` package's counting, kept without a thread."""

from __future__ import annotations

import threading

import pytest
from limits import parse

from rollcall import ratelimits
from rollcall.ratelimits import LocalWindows


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(ratelimits.time, "time", clock)
    return clock


async def test_a_window_allows_its_amount_then_frees_as_the_oldest_expire(clock: Clock) -> None:
    windows, item = LocalWindows(), parse("3/minute")
    for _ in range(2):
        assert await windows.hit(item, "joins", "198.51.100.7")
    clock.now += 30
    assert await windows.hit(item, "joins", "198.51.100.7")
    assert not await windows.hit(item, "joins", "198.51.100.7"), "the fourth within a minute"
    assert await windows.hit(item, "joins", "198.51.100.8"), "another address counts alone"
    assert not await windows.test(item, "joins", "198.51.100.7")
    stats = await windows.get_window_stats(item, "joins", "198.51.100.7")
    assert (stats.reset_time, stats.remaining) == (clock.now - 30 + 60, 0)

    clock.now += 31  # the first two are over a minute old: two free again, not three
    assert await windows.test(item, "joins", "198.51.100.7", cost=2)
    assert not await windows.test(item, "joins", "198.51.100.7", cost=3)
    assert await windows.hit(item, "joins", "198.51.100.7", cost=2)
    assert not await windows.hit(item, "joins", "198.51.100.7")


async def test_a_refused_or_tested_attempt_spends_nothing(clock: Clock) -> None:
    windows, item = LocalWindows(), parse("2/minute")
    assert await windows.test(item, "a")
    assert not await windows.hit(item, "a", cost=3)
    assert (await windows.get_window_stats(item, "a")).remaining == 2


async def test_no_thread_counts_and_empty_keys_are_dropped(clock: Clock) -> None:
    threads = threading.active_count()
    windows, item = LocalWindows(), parse("5/second")
    for n in range(1_000):
        await windows.hit(item, "joins", f"203.0.113.{n % 250}", f"{n}")
    assert threading.active_count() == threads
    clock.now += ratelimits.SWEEP_S + 1
    await windows.hit(item, "joins", "203.0.113.1")
    assert len(windows._events) == 1, "the thousand expired keys are gone; the new one stays"
