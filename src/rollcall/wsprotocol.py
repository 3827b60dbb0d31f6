"""The WebSocket protocol `rollcall serve` runs: uvicorn's websockets-sansio protocol, which
also takes a frame built once for many sockets and writes it straight to its transport.

A broadcast (the event state to every phone of an event) is the same text for every socket,
and with no compression (rollcall serves none) the same frame: a server's frames are not
masked. Built once and written as bytes, it skips each socket's framing, its ASGI `send` and
the wake-up of its writer task. The app finds the writer as an ASGI extension in the socket's
scope (`FRAMES`); under another server or protocol it is absent and every message goes the
ordinary way.

The other way round, a burst of receipts (every phone's `seen` right after a change) is many
small messages the app handles alike: the app may offer a callable (`MESSAGES`) that takes such
a message as it is read, skipping the ASGI queue. Under another server it is never called, and
every message goes through the queue.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State

PROTOCOL = "rollcall.wsprotocol:FramedWebSocketProtocol"
"""What `rollcall serve` gives uvicorn as `ws=`: each worker process imports it by name."""

FRAMES = "rollcall.frames"
"""The scope extension: a callable that writes a prepared frame now, or says False."""

MESSAGES = "rollcall.messages"
"""A scope extension the app may set: a callable given each text message (its UTF-8 bytes)
when nothing is queued ahead of it, which takes it (True) or leaves it to the ASGI queue."""


def text_frame(text: str) -> bytes:
    """One final, unmasked text frame of `text`: what a server sends for a text message."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


class FramedWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol, with `write_frame` offered in the scope, and the
    messages the app can take at once (MESSAGES) handed to it without the ASGI queue."""

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:
            scope["extensions"][FRAMES] = self.write_frame

    def write_frame(self, frame: bytes) -> bool:
        """Write a prepared frame if the socket is open and its transport takes more now;
        False (nothing written) otherwise: the caller sends the message the ordinary way,
        which waits for the transport or finds the socket gone."""
        if (
            not self.handshake_complete
            or self.initial_response is not None
            or self.close_sent
            or self.disconnected
            or not self.writable.is_set()
            or self.conn.state is not State.OPEN
            or self.transport.is_closing()
        ):
            return False
        self.transport.write(frame)
        return True

    def send_receive_event_to_app(self) -> None:
        """A message the app's MESSAGES callable takes skips the queue, the wake-up of the
        app's reader and the pause and resume of reading that each queued message costs; it
        is taken only with nothing queued ahead of it, so that messages keep their order."""
        scope = getattr(self, "scope", None)
        take: Callable[[bytes], bool] | None = (
            scope["extensions"].get(MESSAGES) if scope is not None else None
        )
        if (
            take is not None
            and self.curr_msg_data_type == "text"
            and len(self.frames) == 1
            and not self.close_sent
            and self.queue.empty()
            and take(self.frames[0])
        ):
            self.frames = []
            return
        super().send_receive_event_to_app()
