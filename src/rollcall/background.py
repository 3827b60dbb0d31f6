"""A task that runs a coroutine every few seconds for the app's lifetime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from rollcall.db.pool import UNAVAILABLE_ERRORS
from rollcall.metrics import TASK_SECONDS

log = logging.getLogger(__name__)


class Periodic:
    """Run `work` every `interval_s`; a database outage is logged and retried, never fatal.

    Each run's duration goes to rollcall_task_duration_seconds{task=<name, with underscores>}.
    """

    def __init__(self, name: str, work: Callable[[], Awaitable[object]], interval_s: float) -> None:
        self._name = name
        self._work = work
        self._interval = interval_s
        self._task: asyncio.Task[None] | None = None
        self._duration = TASK_SECONDS.labels(task=name.replace(" ", "_"))

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            started = time.perf_counter()
            try:
                await self._work()
            except UNAVAILABLE_ERRORS as exc:
                log.warning("%s skipped, database unavailable: %s", self._name, type(exc).__name__)
            except Exception:
                log.exception("%s failed", self._name)
            self._duration.observe(time.perf_counter() - started)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
