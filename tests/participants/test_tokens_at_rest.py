"""No token is ever written in the clear: not in the database, not in the logs."""

from __future__ import annotations

import hashlib
import logging
import subprocess

import httpx
import pytest

from tests.factories import bearer, create_event, join


def _pg_dump(database_url: str) -> str:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver._commands import POSTGRES_BIN_PATH

    done = subprocess.run(
        [str(POSTGRES_BIN_PATH / "pg_dump"), "--data-only", "--inserts", database_url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


async def test_fresh_tokens_appear_neither_in_a_dump_nor_in_the_logs(
    client: httpx.AsyncClient, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    event = await create_event(client, title="Secrets")
    joined = (await join(client, event.code, name="Keeper")).json()
    session_token = joined["session_token"]
    client.cookies.clear()
    await client.post("/api/session/heartbeat", headers=bearer(session_token))
    await client.get("/api/session", headers=bearer(session_token))
    await client.get(f"/api/events/{event.code}/participants", headers=event.host_headers)

    dump = _pg_dump(database_url)
    assert "Keeper" in dump and "Secrets" in dump, "the dump holds the data"
    for token in (session_token, event.host_token):
        assert token not in dump
        assert token not in caplog.text
        # What is stored instead is the digest.
        assert hashlib.sha256(token.encode()).hexdigest() in dump
