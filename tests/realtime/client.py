"""A small WebSocket client for the tests: hello, then wait for messages with deadlines."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.factories import HostedEvent, create_event, join
from tests.servers import RollcallServer


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


async def host_socket(server: RollcallServer, code: str, token: str, **extra: object) -> Socket:
    """A host's socket past its welcome."""
    socket = await Socket.open(
        server.ws_url, {"type": "hello", "role": "host", "event": code, "token": token, **extra}
    )
    welcome = await socket.next()
    assert welcome["type"] == "welcome" and welcome["role"] == "host", welcome
    return socket


async def participant_socket(
    server: RollcallServer, token: str
) -> tuple[Socket, dict[str, object]]:
    """A phone's socket and its welcome."""
    socket = await Socket.open(server.ws_url, {"type": "hello", "token": token})
    welcome = await socket.next()
    assert welcome["type"] == "welcome", welcome
    return socket, welcome


@dataclass
class Room:
    """An event, its host's socket and one phone in it: where most socket tests start."""

    event: HostedEvent
    host: Socket
    joined: dict[str, Any]  # the join's answer: participant, session_token, recovery_code
    phone: Socket
    welcome: dict[str, Any]  # the phone's

    @property
    def participant_id(self) -> str:
        return str(self.joined["participant"]["id"])


async def room(
    http: httpx.AsyncClient,
    server: RollcallServer,
    *,
    phone_server: RollcallServer | None = None,
    name: str | None = None,
    **switches: Any,
) -> Room:
    """A new event (`switches`: its fields), its host on `server`, then one phone joined through
    `http` with its socket on `phone_server` (the same server unless given)."""
    event = await create_event(http, **switches)
    host = await host_socket(server, event.code, event.host_token)
    joined = (await join(http, event.code, name=name)).json()
    phone, welcome = await participant_socket(phone_server or server, joined["session_token"])
    return Room(event, host, joined, phone, welcome)
