"""Requests written and read by hand on a raw TCP connection: for clients that send slowly,
or not at all, as no HTTP client library would."""

from __future__ import annotations

import asyncio

from tests.servers import RollcallServer


class Raw:
    """One TCP connection to the server, written and read by hand."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, server: RollcallServer) -> Raw:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def trickle(self, data: bytes, every_s: float = 0.2) -> None:
        """Send one byte at a time until done or the server closes the connection."""
        for byte in data:
            if self.reader.at_eof() or self.writer.is_closing():
                return
            try:
                await self.send(bytes([byte]))
            except ConnectionError:
                return
            await asyncio.sleep(every_s)

    async def answer(self, timeout: float = 10) -> tuple[int, bytes]:
        """Everything until the server closes: (the status, the whole answer)."""
        data = await asyncio.wait_for(self.reader.read(-1), timeout)
        status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0
        return status, data

    def close(self) -> None:
        self.writer.close()


def head(server: RollcallServer, path: str, *, length: int, token: str | None = None) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{server.port}",
        "Content-Type: application/json",
        f"Content-Length: {length}",
    ]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()
