"""Revision 0002 on a table full of data: nothing lost, every row its own device, exact undo."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import errors
from pytest_alembic import MigrationContext
from sqlalchemy import Engine, text

from rollcall.db import schema
from tests.db.conftest import schema_snapshot

EVENTS = 8
PER_EVENT = 1_300  # 10,400 participants in all


def run_rollcall(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The `rollcall` command in a subprocess, with these environment variables set."""
    return subprocess.run(
        [sys.executable, "-m", "rollcall.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _fill_base_schema(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                """
                INSERT INTO events (code, title, capacity, host_token_hash)
                SELECT 'EVT' || lpad(n::text, 3, '2'), 'Event ' || n, 5000,
                       sha256(('host-' || n)::bytea)
                FROM generate_series(2, :events + 1) AS n
                """
            ),
            {"events": EVENTS},
        )
        conn.execute(
            text(
                """
                INSERT INTO event_participants (event_id, display_name, created_at)
                SELECT e.id, 'Player ' || n, now() - make_interval(secs => n)
                FROM events AS e, generate_series(1, :per_event) AS n
                """
            ),
            {"per_event": PER_EVENT},
        )


def _rows(engine: Engine) -> set[tuple[object, ...]]:
    with engine.connect() as conn:
        result = conn.execute(
            text("SELECT id, event_id, display_name, created_at FROM event_participants")
        )
        return {tuple(row) for row in result}


def test_upgrade_keeps_every_row_and_gives_each_a_distinct_device(
    alembic_runner: MigrationContext, alembic_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    alembic_runner.migrate_up_to("0001")
    _fill_base_schema(alembic_engine)
    base_schema = schema_snapshot(alembic_engine)
    base_rows = _rows(alembic_engine)
    assert len(base_rows) == EVENTS * PER_EVENT

    with caplog.at_level(logging.INFO, logger="rollcall.migrations"):
        alembic_runner.migrate_up_to("0002")

    assert _rows(alembic_engine) == base_rows
    with alembic_engine.connect() as conn:
        total, distinct, missing = conn.execute(
            text(
                "SELECT count(*), count(DISTINCT device_id), count(*) FILTER"
                " (WHERE device_id IS NULL) FROM event_participants"
            )
        ).one()
    assert (total, distinct, missing) == (EVENTS * PER_EVENT, EVENTS * PER_EVENT, 0)
    progress = [r.getMessage() for r in caplog.records if "device_id backfill" in r.getMessage()]
    assert progress[0].startswith(f"device_id backfill: 0 of {total} rows")
    assert progress[-1].startswith(f"device_id backfill: {total} of {total} rows")
    assert len(progress) >= 3, "a big table should show its backfill move batch by batch"

    alembic_runner.migrate_down_to("0001")
    assert schema_snapshot(alembic_engine) == base_schema
    assert _rows(alembic_engine) == base_rows


def test_the_new_columns_have_the_promised_types(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to("0002")
    with alembic_engine.connect() as conn:
        columns = {
            name: (data_type, nullable)
            for name, data_type, nullable in conn.execute(
                text(
                    "SELECT column_name, data_type, is_nullable FROM information_schema.columns"
                    " WHERE table_name = 'event_participants'"
                )
            )
        }
        indexes = dict(
            conn.execute(
                text(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'event_participants'"
                )
            ).all()
        )
    assert columns["device_id"] == ("uuid", "NO")
    assert columns["session_token_hash"] == ("bytea", "YES")
    assert columns["join_timestamp"][0] == "timestamp with time zone"
    assert columns["last_heartbeat"][0] == "timestamp with time zone"
    assert "UNIQUE INDEX unique_device_per_event" in indexes["unique_device_per_event"]
    assert "(event_id, device_id)" in indexes["unique_device_per_event"]
    assert "(device_id)" in indexes["idx_event_participants_device_id"]
    on_token = [name for name, d in indexes.items() if "(session_token_hash)" in d]
    assert on_token == ["event_participants_session_token_hash_key"], "one index on the token"


def _connect(engine: Engine) -> psycopg.Connection:
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(url, autocommit=True)


def test_one_participant_per_device_and_per_token_digest(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to("0002")
    device = uuid.uuid4()
    digest = hashlib.sha256(b"a session token").digest()
    with _connect(alembic_engine) as conn:
        event_id = conn.execute(
            "INSERT INTO events (code, title, capacity, host_token_hash)"
            " VALUES ('ABC234', 'Quiz', 10, %s) RETURNING id",
            (hashlib.sha256(b"host").digest(),),
        ).fetchone()[0]
        insert = (
            "INSERT INTO event_participants (event_id, display_name, device_id, session_token_hash)"
            " VALUES (%s, %s, %s, %s)"
        )
        conn.execute(insert, (event_id, "Ana", device, digest))
        with pytest.raises(errors.UniqueViolation) as same_device:
            conn.execute(insert, (event_id, "Ana again", device, None))
        assert same_device.value.diag.constraint_name == "unique_device_per_event"
        with pytest.raises(errors.UniqueViolation) as same_token:
            conn.execute(insert, (event_id, "Bo", uuid.uuid4(), digest))
        assert same_token.value.diag.constraint_name == "event_participants_session_token_hash_key"
        conn.execute(insert, (event_id, "Cy", uuid.uuid4(), None))
        conn.execute(insert, (event_id, "Di", uuid.uuid4(), None))  # many may have no token


def test_cli_downgrade_base_then_upgrade_head_on_a_database_with_data(
    empty_database_url: str,
) -> None:
    env = {**os.environ, "DATABASE_URL": empty_database_url}

    def rollcall(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "rollcall.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    rollcall("db", "upgrade", "head")
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        event_id = conn.execute(
            "INSERT INTO events (code, title, capacity, host_token_hash)"
            " VALUES ('XYZ234', 'Quiz', 10, '\\x00') RETURNING id"
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO event_participants (event_id, display_name, name_key)"
            " VALUES (%s, 'Ana', 'ana')",
            (event_id,),
        )
    assert rollcall("db", "current").strip() == schema.head()
    rollcall("db", "downgrade", "base")
    assert rollcall("db", "current").strip() == "base"
    rollcall("db", "upgrade", "head")
    assert rollcall("db", "current").strip() == schema.head()


def test_participant_lifecycle_backfill_keeps_clashing_names(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    """Rows from before 0003 whose names now clash are all kept; each gets a distinct key."""
    alembic_runner.migrate_up_to("0002")
    with _connect(alembic_engine) as conn:
        event_id = conn.execute(
            "INSERT INTO events (code, title, capacity, host_token_hash)"
            " VALUES ('QRS234', 'Quiz', 10, '\\x01') RETURNING id"
        ).fetchone()[0]
        for name in ("Ana", "ana", " ANA ", "Bo"):
            conn.execute(
                "INSERT INTO event_participants (event_id, display_name) VALUES (%s, %s)",
                (event_id, name),
            )
    alembic_runner.migrate_up_to("0003")
    with _connect(alembic_engine) as conn:
        keys = conn.execute(
            "SELECT display_name, name_key FROM event_participants ORDER BY created_at"
        ).fetchall()
        seats = conn.execute("SELECT seats_taken FROM events").fetchone()[0]
    assert [name for name, _ in keys] == ["Ana", "ana", " ANA ", "Bo"]
    assert keys[0][1] == "ana" and keys[3][1] == "bo"
    assert len({key for _, key in keys}) == 4
    assert seats == 4


def test_serve_no_migrate_refuses_a_database_behind_the_code(empty_database_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rollcall.cli", "serve", "--no-migrate", "--port", "1"],
        env={**os.environ, "DATABASE_URL": empty_database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "rollcall db upgrade" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unreachable_database_is_a_clear_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rollcall.cli", "db", "current"],
        env={**os.environ, "DATABASE_URL": "postgresql://rollcall:secret@127.0.0.1:1/none"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "cannot reach the database" in done.stderr
    assert "secret" not in done.stderr and "Traceback" not in done.stderr


def test_an_unusable_data_directory_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "rollcall.cli",
            "db",
            "current",
            "--data-dir",
            str(blocker / "data"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "cannot use the data directory" in done.stderr
    assert "Traceback" not in done.stderr
