"""A small WebSocket client for the tests: hello, then wait for messages with deadlines."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed


class Socket:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, url: str, hello: dict[str, Any] | None = None, **kwargs: Any) -> Socket:
        ws = await websockets.connect(url, open_timeout=5, max_size=2**20, **kwargs)
        socket = cls(ws)
        if hello is not None:
            await socket.send(hello)
        return socket

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def next(self, timeout: float = 5) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        message: dict[str, Any] = json.loads(raw)
        self.seen.append(message)
        return message

    async def until(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5
    ) -> dict[str, Any]:
        """The first message that matches, within the deadline (others are kept in `seen`)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"no matching message; saw {self.seen[-5:]}")
            message = await self.next(remaining)
            if predicate(message):
                return message

    async def drain(self, duration: float) -> list[dict[str, Any]]:
        """Every message that arrives within `duration` seconds."""
        got: list[dict[str, Any]] = []
        deadline = asyncio.get_running_loop().time() + duration
        while (remaining := deadline - asyncio.get_running_loop().time()) > 0:
            try:
                got.append(await self.next(remaining))
            except TimeoutError:
                break
        return got

    async def closed(self, timeout: float = 5) -> int:
        """Wait for the server to close the socket; returns the close code."""
        try:
            while True:
                await self.next(timeout)
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, "closed without a close frame"
            return int(closed.rcvd.code)

    async def close(self) -> None:
        await self.ws.close()


def of_type(*kinds: str) -> Callable[[dict[str, Any]], bool]:
    return lambda message: message.get("type") in kinds
