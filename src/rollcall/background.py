"""Work in the background for the app's lifetime: a coroutine every few seconds, and writes
buffered to go out in one statement each time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar
from uuid import UUID

import asyncpg

from rollcall.db.pool import COMMAND_TIMEOUT_S, DB, UNAVAILABLE_ERRORS, borrow
from rollcall.metrics import TASK_SECONDS

log = logging.getLogger(__name__)

STOP_WAIT_S = COMMAND_TIMEOUT_S + 1.0
"""How long a stop waits for a run under way: its statement ends within the command timeout."""

BURST_GAP_S = 0.1
"""A burst still coming once its interval is over is waited for until none of it came for this
long (never past the woken run's two intervals)."""


class Periodic:
    """Run `work` every `interval_s`; a database outage is logged and retried, never fatal.

    With `wake`, only when there is work: `interval_s` after the event is set (so, at most
    once every `interval_s`), or later when `defer` asks, but never more than one more
    interval; or sooner when `hurry` says everything awaited is in, but never sooner than one
    interval after the last run began. Each run's duration goes to
    rollcall_task_duration_seconds{task=<name, with underscores>}.
    """

    def __init__(
        self,
        name: str,
        work: Callable[[], Awaitable[object]],
        interval_s: float,
        *,
        wake: asyncio.Event | None = None,
    ) -> None:
        self._name = name
        self._work = work
        self._interval = interval_s
        self._wake = wake
        self._not_before = 0.0  # the loop's time before which a run waits (`defer`)
        self._hurried = asyncio.Event()  # `hurry`: run once the interval since the last allows
        self._last_run = float("-inf")  # the loop's time the last run began
        self._burst = False  # a burst was announced since the last run and is not all in
        self._last_arrival = float("-inf")  # the loop's time the last of it came
        self._task: asyncio.Task[None] | None = None
        self._working = False  # a run is under way
        self._stopping = False
        self._duration = TASK_SECONDS.labels(task=name.replace(" ", "_"))

    def defer(self) -> None:
        """The next run comes no sooner than one interval from now (and no later than two
        intervals after it was woken): for work that is about to arrive in a burst."""
        self._not_before = asyncio.get_running_loop().time() + self._interval
        self._burst = True

    def arriving(self) -> None:
        """A value of the burst announced came (its run waits while they keep coming)."""
        self._last_arrival = asyncio.get_running_loop().time()

    def hurry(self) -> None:
        """What a woken loop waits for is all in: run as soon as the interval allows."""
        self._burst = False
        self._hurried.set()

    async def _pause(self, seconds: float) -> None:
        """Sleep `seconds`, or less when hurried."""
        if seconds > 0 and not self._hurried.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._hurried.wait(), seconds)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if self._wake is not None:
                await self._wake.wait()
            woken = loop.time()
            await self._pause(self._interval)
            if self._wake is not None:
                latest = woken + 2 * self._interval
                await self._pause(min(self._not_before, latest) - loop.time())
                while self._burst and not self._hurried.is_set():
                    until = min(self._last_arrival + BURST_GAP_S, latest)
                    if until <= loop.time():
                        break
                    await self._pause(until - loop.time())
                if self._hurried.is_set():
                    await asyncio.sleep(max(0.0, self._last_run + self._interval - loop.time()))
                self._hurried.clear()
                self._wake.clear()  # what comes from here on wakes the next run
            self._last_run = loop.time()
            self._burst = False
            started = time.perf_counter()
            self._working = True
            try:
                await self._work()
            except UNAVAILABLE_ERRORS as exc:
                log.warning("%s skipped, database unavailable: %s", self._name, type(exc).__name__)
            except Exception:
                log.exception("%s failed", self._name)
            finally:
                self._working = False
            self._duration.observe(time.perf_counter() - started)
            if self._stopping:
                return

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        """End the loop: at once while it waits; a run under way is left to finish (at most
        STOP_WAIT_S), so that it is not cancelled in the middle of its statement."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        if self._working:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), STOP_WAIT_S)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self._stopping = False


V = TypeVar("V")


class WriteBuffer(ABC, Generic[V]):
    """The newest value per participant, written in one statement every `flush_interval_s`.

    A thousand phones reporting every second cost one statement a second, not a thousand.
    `soon`: flush `flush_interval_s` after the first value of a batch instead (still at most
    once an interval), so that a burst is written together, as early as the interval allows;
    a burst of known size is written as soon as it is all in, and while it keeps coming the
    flush waits for it (Periodic), rather than writing most of it and leaving the rest for an
    interval later.
    A graceful stop writes what is left; a flush the database refuses is kept for the next.
    """

    def __init__(
        self,
        pool: asyncpg.Pool[Any],
        *,
        name: str,
        flush_interval_s: float,
        soon: bool = False,
    ) -> None:
        self._pool = pool
        self._name = name
        self._pending: dict[UUID, V] = {}
        self._arrived = asyncio.Event() if soon else None
        self._loop = Periodic(name, self.flush, flush_interval_s, wake=self._arrived)
        self._lock = asyncio.Lock()
        self._awaited = 0  # values still to come of the bursts announced

    def expect_burst(self, size: int) -> None:
        """`size` values are about to come all at once (a `soon` buffer): write them together
        once they are in, or one interval from now, rather than whatever came just before them
        a moment earlier."""
        self._loop.defer()
        self._awaited += size

    def put(self, participant_id: UUID, value: V) -> None:
        old = self._pending.get(participant_id)
        self._pending[participant_id] = value if old is None else self.merge(old, value)
        if self._arrived is not None:
            self._arrived.set()
        if self._awaited > 0:
            self._awaited -= 1
            if self._awaited == 0:
                self._loop.hurry()
            else:
                self._loop.arriving()

    def merge(self, old: V, new: V) -> V:
        """What to keep of two values for one participant, `new` being the later one."""
        return new

    @abstractmethod
    async def write(self, conn: DB, batch: dict[UUID, V]) -> None:
        """Write the batch in one statement."""

    async def flush(self) -> int:
        """Write every pending value in one statement; returns how many were written."""
        async with self._lock:
            if not self._pending:
                return 0
            batch, self._pending = self._pending, {}
            self._awaited = 0  # the rest of a burst, if any, goes with the next flush
            try:
                async with borrow(self._pool) as conn:
                    await self.write(conn, batch)
            except UNAVAILABLE_ERRORS:
                # Keep them for the next flush, merged with whatever came meanwhile.
                for participant_id, value in batch.items():
                    later = self._pending.get(participant_id)
                    self._pending[participant_id] = (
                        value if later is None else self.merge(value, later)
                    )
                if self._arrived is not None:
                    self._arrived.set()
                raise
            return len(batch)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        """Stop the loop and write what is still buffered: a graceful stop loses nothing."""
        await self._loop.stop()
        try:
            await self.flush()
        except UNAVAILABLE_ERRORS:
            log.warning("%s: %d buffered writes lost at stop", self._name, len(self._pending))
