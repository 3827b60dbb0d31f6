"""The realtime hub of one process: its sockets, the listener that wakes them, and fan-out.

It puts the pieces together: the registry (who is connected, the newest socket wins), fan-out
of the event log, the hosts' live receipts, the one LISTEN connection, and the server's
heartbeats for away pages.
"""

from __future__ import annotations

from rollcall.background import Periodic
from rollcall.protocol import CONTROL_CHANNEL, EVENTS_CHANNEL, RECEIPTS_CHANNEL, Close
from rollcall.realtime.connection import Connection
from rollcall.realtime.fanout import Fanout
from rollcall.realtime.listener import Listener
from rollcall.realtime.receipts import ReceiptsFeed
from rollcall.realtime.registry import Registry
from rollcall.runtime import Runtime


class Hub:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.registry = Registry(runtime.pool)
        self.receipts = ReceiptsFeed(
            runtime.pool, self.registry, receipt_flush_s=runtime.settings.receipt_flush_s
        )
        self._fanout = Fanout(
            runtime.pool,
            self.registry,
            on_host_event=self.receipts.on_log,
            on_event_state=runtime.receipts.expect_burst,
        )
        self._listener = Listener(
            runtime.database_url,
            {
                EVENTS_CHANNEL: self._fanout.on_notify,
                CONTROL_CHANNEL: self.registry.on_announcement,
                RECEIPTS_CHANNEL: self.receipts.on_receipts,
            },
            on_reconnect=self._fanout.catch_up,
        )
        # A hidden browser tab may run its timers once a minute only, while the browser itself
        # still answers the socket's pings. An away page with an open socket is present: the
        # server beats for it. When the socket dies, the pings fail, it closes, and silence
        # makes the participant offline as usual.
        self._away_beats = Periodic(
            "away heartbeats", self._beat_for_away, runtime.settings.heartbeat_interval_s
        )

    async def start(self) -> None:
        await self._listener.start()
        self._away_beats.start()

    async def stop(self, code: int = Close.GOING_AWAY) -> None:
        """Close every socket with a going-away code, then the listener."""
        await self._away_beats.stop()
        for connection in self.registry.all():
            connection.close(code, "server stopping")
        await self._listener.stop()
        self._fanout.stop()
        await self.receipts.stop()
        await self.registry.stop()

    def register(self, connection: Connection) -> None:
        """Start delivering the event's log to this socket, from its last_seq on; a
        participant's socket announces itself as the participant's newest."""
        self.registry.add(connection)
        self._fanout.register(connection)
        if connection.participant_id is not None:
            self.registry.announce(connection)
        else:
            self.receipts.host_arrived(connection.event_id)

    def unregister(self, connection: Connection) -> None:
        self.registry.remove(connection)
        self._fanout.forget(connection.event_id)
        self.receipts.forget(connection.event_id)

    async def _beat_for_away(self) -> None:
        for pid, connection in self.registry.participants():
            if connection.away and not connection.closing:
                self.runtime.heartbeats.beat(pid)
