"""Load-generating worker processes and how the bench talks to them.

Each worker is a separate Python process (spawned, not forked) running one job on uvloop. A job
is a frozen dataclass (a `Job`), pickled to the worker; every message it sends back is a typed
record too. It talks to the bench over a pipe: ("progress", n) about once a second,
job-specific messages when the bench must act between phases, and finally ("result", …) or
("error", traceback).
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class Job:
    """What every worker's job carries; each scenario's job adds its own fields."""

    ports: list[int]
    worker: int = 0  # this worker's index, set by Workers


JobT = TypeVar("JobT", bound=Job)
JobFn = Callable[[JobT, "Channel"], Awaitable[object]]


FINAL_WORDS = ("result", "error")
"""What a worker says last on its pipe (its own words, not the /ws protocol's)."""


class WorkerError(RuntimeError):
    pass


def _expect(kind: str, of: type[T], payload: object, who: str) -> T:
    if not isinstance(payload, of):
        raise WorkerError(f"{who}: {kind!r} carried a {type(payload).__name__}, not {of.__name__}")
    return payload


class Channel:
    """The worker's end of its pipe, readable from asyncio."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._inbox: asyncio.Queue[tuple[str, object]] = asyncio.Queue()
        self.done = 0
        loop = asyncio.get_running_loop()
        threading.Thread(target=self._read, args=(loop,), daemon=True).start()

    def _read(self, loop: asyncio.AbstractEventLoop) -> None:
        """Blocking reads in a thread: pipes and the event loop's non-blocking mode do not mix."""
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                message = ("stop", None)
            loop.call_soon_threadsafe(self._inbox.put_nowait, message)
            if message[0] == "stop":
                return

    def send(self, kind: str, payload: object = None) -> None:
        self._conn.send((kind, payload))

    async def receive(self, limit_s: float) -> tuple[str, object]:
        return await asyncio.wait_for(self._inbox.get(), limit_s)

    async def expect(self, kind: str, of: type[T], *, limit_s: float) -> T:
        """The next message, which must be `kind` carrying a `of`."""
        got, payload = await self.receive(limit_s)
        if got != kind:
            raise WorkerError(f"the bench sent {got!r}, expected {kind!r}")
        return _expect(kind, of, payload, "the bench")

    async def report_progress(self) -> None:
        """Send the job's `done` counter every second until cancelled."""
        while True:
            await asyncio.sleep(1)
            self.send("progress", self.done)


async def run_slots(
    slot: Callable[[int], Coroutine[Any, Any, None]],
    count: int,
    *,
    end_at: float,
    grace_s: float = 30,
) -> list[BaseException]:
    """Run `slot(0)` … `slot(count - 1)` side by side until they finish or `end_at` + grace.

    Slots still running then are cancelled; returns the exceptions of those that failed.
    """
    tasks = [asyncio.create_task(slot(index)) for index in range(count)]
    _, pending = await asyncio.wait(tasks, timeout=max(1.0, end_at - time.time()) + grace_s)
    for task in pending:
        task.cancel()
    failed: list[BaseException] = []
    for task in tasks:
        if task.done() and not task.cancelled():
            exc = task.exception()
            if exc is not None:
                failed.append(exc)
    return failed


def _entry(module: str, name: str, job: Job, conn: Connection) -> None:
    import importlib

    import uvloop

    from bench.cluster import raise_open_file_limit

    raise_open_file_limit()
    fn: Callable[[Job, Channel], Awaitable[object]] = getattr(importlib.import_module(module), name)

    async def main() -> None:
        channel = Channel(conn)
        progress = asyncio.create_task(channel.report_progress())
        try:
            result = await fn(job, channel)
            channel.send("result", result)
        except BaseException:
            channel.send("error", traceback.format_exc())
        finally:
            progress.cancel()

    uvloop.run(main())


class Workers(Generic[JobT]):
    """A group of worker processes running one job function, one job each.

    Use it as `async with Workers(fn, jobs, label=…) as pool:`: the processes start on entry
    and are joined (or killed) on exit.
    """

    def __init__(self, fn: JobFn[JobT], jobs: Sequence[JobT], *, label: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.label = label
        self.progress = [0] * len(jobs)
        self._finished = [False] * len(jobs)
        self._pipes: list[Connection] = []
        self._children: list[Connection] = []
        self._processes: list[BaseProcess] = []
        self._queue: asyncio.Queue[tuple[int, str, object]] | None = None
        for index, job in enumerate(jobs):
            parent, child = context.Pipe()
            process = context.Process(
                target=_entry,
                args=(fn.__module__, fn.__name__, dataclasses.replace(job, worker=index), child),
                name=f"bench-{label}-{index}",
                daemon=True,
            )
            self._pipes.append(parent)
            self._children.append(child)
            self._processes.append(process)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._processes if p.pid is not None]

    async def __aenter__(self) -> Workers[JobT]:
        self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        for process in self._processes:
            process.start()
        for child in self._children:
            child.close()  # the worker has its own copy; EOF then means the worker is gone
        for index in range(len(self._pipes)):
            threading.Thread(target=self._read, args=(loop, index), daemon=True).start()

    def _read(self, loop: asyncio.AbstractEventLoop, index: int) -> None:
        """One thread per worker pipe, doing blocking reads (see Channel._read)."""
        pipe = self._pipes[index]
        while True:
            try:
                kind, payload = pipe.recv()
            except (EOFError, OSError) as exc:
                if not self._finished[index]:
                    code = self._processes[index].exitcode
                    error = f"the worker's pipe closed ({exc!r}, exit code {code})"
                    loop.call_soon_threadsafe(self._deliver, index, "error", error)
                return
            if kind in FINAL_WORDS:
                self._finished[index] = True
            loop.call_soon_threadsafe(self._deliver, index, kind, payload)

    def _deliver(self, index: int, kind: str, payload: object) -> None:
        assert self._queue is not None
        if kind == "progress":
            assert isinstance(payload, int)
            self.progress[index] = payload
        else:
            self._queue.put_nowait((index, kind, payload))

    def broadcast(self, kind: str, payload: object = None) -> None:
        for pipe in self._pipes:
            pipe.send((kind, payload))

    async def gather(
        self,
        kind: str,
        of: type[T],
        *,
        limit_s: float,
        progress: Callable[[int], str] | None = None,
    ) -> list[T]:
        """Wait for one `kind` message (carrying a `of`) from every worker, in worker order.

        Prints progress every few seconds.
        """
        assert self._queue is not None
        results: dict[int, T] = {}
        deadline = time.monotonic() + limit_s
        next_print = time.monotonic() + 5
        while len(results) < len(self._pipes):
            now = time.monotonic()
            if now >= deadline:
                raise WorkerError(f"{self.label}: no {kind!r} from every worker in {limit_s:.0f} s")
            try:
                index, got, payload = await asyncio.wait_for(
                    self._queue.get(), min(deadline, next_print) - now
                )
            except TimeoutError:
                if progress is not None and time.monotonic() >= next_print:
                    print(f"    … {progress(sum(self.progress))}", flush=True)
                next_print = time.monotonic() + 5
                continue
            who = f"{self.label} worker {index}"
            if got == "error":
                raise WorkerError(f"{who} failed:\n{payload}")
            if got != kind:
                raise WorkerError(f"{who} sent {got!r}, expected {kind!r}")
            results[index] = _expect(kind, of, payload, who)
        return [results[i] for i in range(len(self._pipes))]

    def close(self) -> None:
        for process in self._processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()
        for pipe in self._pipes:
            pipe.close()
