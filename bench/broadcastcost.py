"""`python -m bench.broadcastcost`: rollcall's CPU per phone for one event state change, in µs.

PHONES sockets, each a socketpair on this machine (so the kernel's write is counted), are
served by the tree's uvicorn WebSocket protocol (`rollcall serve`'s: rollcall.wsprotocol's where
the tree has it, else uvicorn's websockets-sansio) and hold a real `Connection` with its writer
task (`realtime.ws._write`). A round delivers CHANGES event states to every socket through
fan-out's `deliver`, as a read of the log does, and counts the process's CPU time until every
socket's queue is empty; the phones' ends are read after, outside the count.

With ROLLCALL_BENCH_BEFORE=/path/to/src, that tree runs too, in its own process, and rounds
alternate between the trees, so that other work on the machine moves both alike; the figure is
the median round's. Each tree also runs once more with its garbage collector tuned as
`rollcall serve` tunes it (rollcall.gctune where the tree has it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

from bench.cluster import BEFORE

PHONES = 2_000
CHANGES = 20
ROUNDS = 9
HANDSHAKE = (
    b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
SRC = Path(__file__).resolve().parent.parent / "src"


def _protocol_class() -> Any:
    try:
        from rollcall.wsprotocol import FramedWebSocketProtocol
    except ImportError:  # a tree from before prepared frames
        from uvicorn.protocols.websockets.websockets_sansio_impl import (
            WebSocketsSansIOProtocol,
        )

        return WebSocketsSansIOProtocol
    return FramedWebSocketProtocol


def _tune_gc() -> bool:
    try:
        from rollcall import gctune
    except ImportError:
        return False
    gctune.tune()
    return True


class _Phones:
    """The sockets, served in this process, and their phones' ends."""

    def __init__(self) -> None:
        self.connections: list[Any] = []
        self.ends: list[socket.socket] = []
        self.writers: list[asyncio.Task[None]] = []

    async def open(self, count: int) -> None:
        from starlette.websockets import WebSocket
        from uvicorn.config import Config
        from uvicorn.server import ServerState

        from rollcall.protocol import Role
        from rollcall.realtime.connection import Connection
        from rollcall.realtime.ws import _write

        event_id, opened = uuid4(), asyncio.Event()

        async def app(scope: Any, receive: Any, send: Any) -> None:
            websocket = WebSocket(scope, receive, send)
            await websocket.accept()
            connection = Connection(websocket=websocket, role=Role.PARTICIPANT, event_id=event_id)
            self.connections.append(connection)
            self.writers.append(asyncio.create_task(_write(connection)))
            if len(self.connections) == count:
                opened.set()
            while (await receive())["type"] != "websocket.disconnect":
                pass

        config = Config(app=app, lifespan="off", log_level="warning", ws_per_message_deflate=False)
        config.load()
        state, protocol_class, loop = ServerState(), _protocol_class(), asyncio.get_running_loop()
        for _ in range(count):
            served, end = socket.socketpair()
            await loop.connect_accepted_socket(lambda: protocol_class(config, state, {}), served)
            end.setblocking(False)
            end.send(HANDSHAKE)
            self.ends.append(end)
        await asyncio.wait_for(opened.wait(), 60)
        self.drain()

    def drain(self) -> int:
        got = 0
        for end in self.ends:
            with contextlib.suppress(BlockingIOError):
                while chunk := end.recv(1 << 16):
                    got += len(chunk)
        return got

    async def round(self, changes: int, version: int) -> float:
        """CPU µs per phone and change, for `changes` event states to every socket."""
        from rollcall.protocol import HostMessage
        from rollcall.realtime.fanout import Outgoing, deliver

        spent = 0.0
        for n in range(version, version + changes):
            message = {
                "type": HostMessage.EVENT_STATE,
                "seq": n,
                "state": {"question": f"Question {n}", "choices": ["A", "B", "C", "D"]},
                "version": n,
            }
            started = time.process_time()
            outgoing = Outgoing(message)
            for connection in self.connections:
                deliver(connection, outgoing, None)  # type: ignore[arg-type]
            # The writers run on this loop: let it turn until they have taken every message.
            while not all(c.queue.empty() for c in self.connections):  # noqa: ASYNC110
                await asyncio.sleep(0)
            spent += time.process_time() - started
            self.drain()
        return 1e6 * spent / (changes * len(self.connections))


async def _child(phones: int, tune: bool) -> None:
    """One tree's rounds: one per line read from stdin, its figure printed."""
    sockets = _Phones()
    await sockets.open(phones)
    tuned = _tune_gc() if tune else False
    import rollcall

    print(f"ready {int(tuned)} {rollcall.__file__}", flush=True)
    version = 1
    loop = asyncio.get_running_loop()
    while await loop.run_in_executor(None, sys.stdin.readline):
        print(f"{await sockets.round(CHANGES, version):.2f}", flush=True)
        version += CHANGES
    os._exit(0)  # the sockets' tasks need no orderly end


def _spawn(src: Path, tune: bool, phones: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{SRC.parent}"}
    command = [sys.executable, "-m", "bench.broadcastcost", "--child", str(phones)]
    if tune:
        command.append("--tune-gc")
    return subprocess.Popen(
        command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def main() -> None:
    phones = int(os.environ.get("ROLLCALL_BENCH_PHONES", PHONES))
    trees = {"this tree": SRC}
    before = os.environ.get(BEFORE)
    if before:
        trees = {"before": Path(before), **trees}
    shapes = {}
    for name, src in trees.items():
        shapes[name] = _spawn(src, False, phones)
        shapes[f"{name}, gc tuned"] = _spawn(src, True, phones)
    for name, child in list(shapes.items()):
        assert child.stdout is not None
        ready = child.stdout.readline().split()
        print(f"{name}: {ready[2]}")
        if ready[1] != "1" and name.endswith("gc tuned"):
            child.kill()  # a tree with nothing to tune: the same as untuned
            del shapes[name]
    timings: dict[str, list[float]] = {name: [] for name in shapes}
    for _ in range(ROUNDS):
        for name, child in shapes.items():
            assert child.stdin is not None and child.stdout is not None
            child.stdin.write("go\n")
            child.stdin.flush()
            timings[name].append(float(child.stdout.readline()))
    for child in shapes.values():
        assert child.stdin is not None
        child.stdin.close()
        child.wait(30)
    base = statistics.median(next(iter(timings.values())))
    print(f"{phones:,} sockets, {CHANGES} event states a round, {ROUNDS} rounds, median round:")
    for name, values in timings.items():
        median = statistics.median(values)
        print(f"  {name:24} {median:7.1f} µs of CPU a phone and change  ({median / base:4.2f} ×)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        asyncio.run(_child(int(sys.argv[2]), "--tune-gc" in sys.argv))
    else:
        main()
