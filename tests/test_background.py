"""When a buffered flush runs: periodically, or one interval after the first value of a burst,
put off by a burst announced as coming, never by more than one more interval, and as soon as
an announced burst is all in, though never twice within an interval; a burst still coming
when its interval is over is waited for while it comes."""

from __future__ import annotations

import asyncio

from rollcall.background import Periodic

INTERVAL_S = 0.2


class Runs:
    """A Periodic's work: notes when each run started (the loop's time)."""

    def __init__(self) -> None:
        self.at: list[float] = []
        self.ran = asyncio.Event()

    async def __call__(self) -> None:
        self.at.append(asyncio.get_running_loop().time())
        self.ran.set()

    async def next(self, timeout: float = 2.0) -> float:
        self.ran.clear()
        await asyncio.wait_for(self.ran.wait(), timeout)
        return self.at[-1]


async def test_a_woken_run_comes_one_interval_after_the_wake_and_not_before() -> None:
    runs, wake = Runs(), asyncio.Event()
    periodic = Periodic("test", runs, INTERVAL_S, wake=wake)
    periodic.start()
    try:
        loop = asyncio.get_running_loop()
        with_nothing = asyncio.create_task(runs.next(timeout=3 * INTERVAL_S))
        await asyncio.wait([with_nothing], timeout=3 * INTERVAL_S)
        assert not runs.at, "no work, no run"
        with_nothing.cancel()
        woken = loop.time()
        wake.set()
        ran = await runs.next()
        assert INTERVAL_S <= ran - woken < 2 * INTERVAL_S
    finally:
        await periodic.stop()


async def test_a_burst_announced_puts_the_run_off_by_at_most_one_more_interval() -> None:
    runs, wake = Runs(), asyncio.Event()
    periodic = Periodic("test", runs, INTERVAL_S, wake=wake)
    periodic.start()
    try:
        loop = asyncio.get_running_loop()
        woken = loop.time()
        wake.set()  # a straggler, a moment before the burst
        await asyncio.sleep(INTERVAL_S / 2)  # the burst comes half an interval later
        announced = loop.time()
        periodic.defer()
        ran = await runs.next()
        assert ran - announced >= INTERVAL_S * 0.95, "the burst is written together"
        assert ran - woken < 2 * INTERVAL_S + 0.05

        woken = loop.time()
        wake.set()
        for _ in range(5):  # bursts announced one after another cannot hold it off for long
            periodic.defer()
            await asyncio.sleep(INTERVAL_S / 2)
        ran = runs.at[-1] if runs.at[-1] > woken else await runs.next()
        assert ran - woken <= 2 * INTERVAL_S + 0.1
    finally:
        await periodic.stop()


async def test_a_burst_all_in_is_written_at_once_but_never_twice_within_an_interval() -> None:
    runs, wake = Runs(), asyncio.Event()
    long_s = 1.0  # long enough that a run on the clock alone is plainly later
    periodic = Periodic("test", runs, long_s, wake=wake)
    periodic.start()
    try:
        loop = asyncio.get_running_loop()
        periodic.defer()
        wake.set()
        await asyncio.sleep(0.05)
        hurried = loop.time()
        periodic.hurry()  # everything announced is in
        first = await runs.next()
        assert first - hurried < long_s / 4, "written as soon as it is all in"

        wake.set()
        periodic.hurry()  # the next burst, all in at once: not before an interval has passed
        second = await runs.next(timeout=3 * long_s)
        assert second - first >= long_s * 0.95
    finally:
        await periodic.stop()


async def test_a_burst_still_coming_when_its_interval_is_over_is_written_once_it_stops() -> None:
    runs, wake = Runs(), asyncio.Event()
    periodic = Periodic("test", runs, INTERVAL_S, wake=wake)
    periodic.start()
    try:
        loop = asyncio.get_running_loop()
        periodic.defer()
        started = loop.time()
        wake.set()
        # The burst keeps coming for 1.5 intervals, a value every 0.15 of one.
        while loop.time() - started < 1.5 * INTERVAL_S:
            periodic.arriving()
            await asyncio.sleep(0.15 * INTERVAL_S)
        last = loop.time()
        ran = await runs.next()
        assert ran >= last, "not written while the burst was still coming"
        assert ran - last < INTERVAL_S, "written soon after it stopped"
        assert len(runs.at) == 1

        # One that never stops is written two intervals after it began at the latest.
        periodic.defer()
        started = loop.time()
        wake.set()
        while not runs.ran.is_set() or len(runs.at) < 2:
            periodic.arriving()
            await asyncio.sleep(0.1 * INTERVAL_S)
            assert loop.time() - started < 4 * INTERVAL_S, "never written"
        assert runs.at[1] - started <= 2 * INTERVAL_S + 0.1
    finally:
        await periodic.stop()
