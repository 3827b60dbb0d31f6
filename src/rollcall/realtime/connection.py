"""One open socket: who it is for, what it has seen, and its queue of messages to send."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from starlette.websockets import WebSocket

from rollcall.presence.service import PresenceRow
from rollcall.protocol import Close, Role, ServerMessage
from rollcall.ratelimits import MessageWindow
from rollcall.wsprotocol import FRAMES, text_frame

SEND_QUEUE_LIMIT = 5_000


def encode(message: Mapping[str, Any]) -> str:
    """A message as the JSON text a socket sends."""
    return json.dumps(message, separators=(",", ":"))


class Encoded:
    """A message on its way to one or many sockets, encoded to JSON text at most once.

    A broadcast (a log message to every host of an event, an event change to every phone)
    is the same text for all its sockets: each socket's writer takes `text`, and only the
    first encodes it. A large message whose text was built elsewhere (the host's roster,
    built by PostgreSQL) comes with its text. Where the server takes prepared frames
    (rollcall.wsprotocol), the frame too is built once, by the first socket that writes it.
    """

    __slots__ = ("_frame", "_message", "_text")

    def __init__(
        self, message: Mapping[str, Any] | None = None, *, text: str | None = None
    ) -> None:
        if (message is None) == (text is None):
            raise ValueError("an Encoded message has a message or a text")
        self._message = message
        self._text = text
        self._frame: bytes | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            assert self._message is not None
            self._text = encode(self._message)
        return self._text

    @property
    def frame(self) -> bytes:
        """The WebSocket text frame of `text`, as the server would send it."""
        if self._frame is None:
            self._frame = text_frame(self.text)
        return self._frame


@dataclass(frozen=True)
class Closing:
    """Put on a connection's queue: close the socket with this code after what came before."""

    code: int
    reason: str = ""


@dataclass(eq=False)
class Connection:
    websocket: WebSocket
    role: Role
    event_id: UUID
    participant_id: UUID | None = None
    device_id: UUID | None = None  # a participant's device: another device's socket is a move
    last_seq: int = 0
    event_version: int = 0  # the newest event state version sent to this socket
    state_version: int = 0  # a participant's: the newest version of its own state sent
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    confirmed: bool = False  # its own newest-socket announcement came back
    closing: bool = False
    away: bool = False
    present: bool = False  # the participant was online, not away, when this socket said hello
    known: PresenceRow | None = None  # the participant's presence row as read at hello
    messages: MessageWindow | None = None  # what the client may send; None: unlimited
    event_changed: asyncio.Event = field(default_factory=asyncio.Event)  # for a host's room check
    settling: asyncio.Task[None] | None = None  # announces where quick away/back flips ended
    holds_host_slot: bool = False  # counted in its event's host sockets on this process
    receipts: object = None  # a host's: the receipts it was last sent (welcome included)
    beat_due: float = 0.0  # the loop's time from which a message besides heartbeats beats again
    queue: asyncio.Queue[dict[str, Any] | Encoded | Closing] = field(
        default_factory=lambda: asyncio.Queue(maxsize=SEND_QUEUE_LIMIT)
    )
    writing: bool = False  # the writer task holds a message it has not finished sending
    write_frame: Callable[[bytes], bool] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        scope = getattr(self.websocket, "scope", None) or {}
        self.write_frame = (scope.get("extensions") or {}).get(FRAMES)

    def send(self, message: dict[str, Any] | Encoded) -> None:
        """Queue a message for the writer task; a shared one (`Encoded`) is written at once
        as its prepared frame when nothing is ahead of it and the server takes frames."""
        if self.closing:
            return
        if (
            isinstance(message, Encoded)
            and self.write_frame is not None
            and not self.writing
            and self.queue.empty()
            and self.write_frame(message.frame)
        ):
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            # A client this far behind is not reading; it reconnects and resumes.
            self.close(Close.TRY_AGAIN_LATER, "too slow")

    def close(self, code: int, reason: str = "") -> None:
        if self.closing:
            return
        self.closing = True
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(Closing(code, reason))
        if self.queue.full():
            # Make room for the close itself.
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.queue.put_nowait(Closing(code, reason))


def replace(connection: Connection) -> None:
    """A newer socket of the same participant, on the same device, took over."""
    connection.send({"type": ServerMessage.REPLACED})
    connection.close(Close.REPLACED, "replaced by a newer connection")


def move(connection: Connection) -> None:
    """The participant's seat moved to another device: this one is a stranger now."""
    connection.send({"type": ServerMessage.MOVED})
    connection.close(Close.MOVED, "continued on another device")
