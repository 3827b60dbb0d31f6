"""`python -m bench.requestcost`: what the slow-client guards add to one request, in µs.

A join's request (its headers and a 90-byte body) goes through uvicorn's httptools protocol
into a small ASGI app that reads the body and answers 201, in this process, on one event
loop, with no socket: with and without rollcall's header guard (`GuardedHttpProtocol`) and its
body reader (`limits.BodyGuard`). The process's CPU time is counted, not the wall clock, and
rounds alternate, so that other work on the machine moves all four alike; the figure is the
median round's. With ROLLCALL_BENCH_BEFORE=/path/to/src, that tree's BodyGuard (behind uvicorn's
own protocol) is measured too: what serving cost before. A join costs rollcall about 0.5-1 ms of CPU (bench joins), so
this says what share of it the guards take, far more steadily than a stampede on a shared
machine can.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import statistics
import time
from pathlib import Path
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from bench.cluster import BEFORE
from rollcall.bodies import BodyGuard
from rollcall.httpprotocol import GuardedHttpProtocol, HeaderLimits

REQUESTS = 2_000
ROUNDS = 21
BODY = b'{"device_id":"7b0e5a4c-8f7e-4d0b-9a55-2f4c8f1b9e11","display_name":"Phone 0123456789"}'
REQUEST = (
    b"POST /api/events/ABCDEF/join HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
    b"User-Agent: Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)\r\n"
    b"Accept: application/json\r\nAccept-Language: en\r\nContent-Type: application/json\r\n"
    b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY
)


async def _app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.answered = asyncio.Event()
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if bytes(data).endswith(b"{}") or bytes(data).endswith(b"0\r\n\r\n"):
            self.answered.set()

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _round(protocol_class: type[HttpToolsProtocol], app: Any) -> float:
    """CPU µs per request, REQUESTS requests back to back on one keep-alive connection."""
    config = Config(app=app, http=protocol_class, lifespan="off", log_level="warning")
    config.load()
    transport = _Transport()
    protocol = protocol_class(config, ServerState(), {}, _loop=asyncio.get_running_loop())
    protocol.connection_made(transport)
    started = time.process_time()
    for _ in range(REQUESTS):
        transport.answered.clear()
        protocol.data_received(REQUEST)
        await transport.answered.wait()
    elapsed = time.process_time() - started
    protocol.connection_lost(None)
    return 1e6 * elapsed / REQUESTS


def _body_guard_of(src: str) -> Any:
    """The BodyGuard class of another src/ directory (ROLLCALL_BENCH_BEFORE): its bodies.py, or
    limits.py in trees from before that module's rename."""
    module_file = next(
        path
        for name in ("bodies.py", "limits.py")
        if (path := Path(src) / "rollcall" / name).exists()
    )
    spec = importlib.util.spec_from_file_location("bodies_before", module_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.BodyGuard


async def _main() -> None:
    GuardedHttpProtocol.limits = HeaderLimits(timeout_s=10.0, max_bytes=16 * 1024)
    shapes = {
        "uvicorn's protocol, plain app": (HttpToolsProtocol, _app),
        "GuardedHttpProtocol, plain app": (GuardedHttpProtocol, _app),
        "uvicorn's protocol, BodyGuard": (HttpToolsProtocol, BodyGuard(_app)),
        "GuardedHttpProtocol, BodyGuard": (GuardedHttpProtocol, BodyGuard(_app)),
    }
    before = os.environ.get(BEFORE)
    if before:
        shapes["uvicorn's protocol, BodyGuard before"] = (
            HttpToolsProtocol,
            _body_guard_of(before)(_app),
        )
    timings: dict[str, list[float]] = {name: [] for name in shapes}
    for _ in range(ROUNDS):
        for name, (protocol_class, app) in shapes.items():
            timings[name].append(await _round(protocol_class, app))
    base = statistics.median(timings["uvicorn's protocol, plain app"])
    print(f"{REQUESTS:,} join requests a round, {ROUNDS} rounds, median round:")
    for name, values in timings.items():
        median = statistics.median(values)
        print(f"  {name:38} {median:7.1f} µs of CPU a request  (+{median - base:5.1f} µs)")


if __name__ == "__main__":
    asyncio.run(_main())
