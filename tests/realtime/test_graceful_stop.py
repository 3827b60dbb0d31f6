"""A graceful stop loses no buffered heartbeat and tells sockets it is going away."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import psycopg

from tests.factories import create_event, join
from tests.pg import PgServer
from tests.realtime.client import Socket, of_type
from tests.servers import rollcall_server


async def test_the_last_beat_before_a_stop_is_in_the_database(pg: PgServer, tmp_path: Path) -> None:
    with pg.fresh_database(migrated=True) as url:
        # Beats are flushed every 60 s here: only the stop itself can write this one.
        with rollcall_server(
            url, tmp_path, heartbeat_interval_s=1, heartbeat_flush_s=60, presence_timeout_s=120
        ) as server:
            async with httpx.AsyncClient(base_url=server.base_url) as http:
                event = await create_event(http)
                joined = (await join(http, event.code)).json()
            phone = await Socket.open(
                server.ws_url, {"type": "hello", "token": joined["session_token"]}
            )
            await phone.until(of_type("welcome"))
            beat_sent = time.time()  # after the join and the hello: only this beat is later
            await phone.send({"type": "heartbeat"})
            await phone.until(of_type("ack"))
            exit_code = server.stop()
            code = await phone.closed()
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT extract(epoch FROM last_heartbeat) FROM event_participants WHERE id = %s",
                (joined["participant"]["id"],),
            ).fetchone()
    # uvicorn shuts down, then re-raises the signal it caught, as a process manager expects.
    assert exit_code in (0, -signal.SIGTERM), exit_code
    assert code in (1001, 1012), code
    # One clock (this machine): the beat is stamped when the server received it.
    assert row is not None and float(row[0]) >= beat_sent
