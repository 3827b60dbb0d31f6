"""The backfills on legacy rows: the name key joins compute, and an upgrade that can be killed.

Legacy rows get their name key from rollcall.participants.names, the function every join
uses, so a name that was in the table before the upgrade and one typed after it are the same
name exactly when a join would say so. An upgrade killed in the middle of a backfill, run
again, leaves every row as an uninterrupted one would.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from pytest_alembic import MigrationContext
from sqlalchemy import Engine

from rollcall.app import create_app
from rollcall.db import schema
from rollcall.participants.names import normalize_display_name
from rollcall.settings import Settings
from tests.pg import PgServer

# Names whose key only Unicode-aware code gets right: ß casefolds to ss, İ to i + a combining
# dot, full-width letters and ligatures fold under NFKC, format characters (zero-width space,
# joiner, soft hyphen) are invisible, a combining accent composes with its letter.
TRICKY = [
    "Straße",
    "STRASSE",
    "İstanbul",
    "ＡＮＡ",
    "A\u200bna",
    "Zo\u200de",
    "Ma\u00adrie",
    "Jose\u0301",
    "José",
    "ﬁne",
    "ΣΊΣΥΦΟΣ",
    "ǅemal",
    "Ⅻ Legion",
    "  Mary \u3000  Ann ",
]
# Names a join refuses today, which an old table may hold all the same.
REFUSED = ["", "   ", "\u200b", "Ana\tBo", "x" * 40]
# Plain names: keyed in SQL (see test_the_sql_key_of_a_printable_ascii_name_is_the_python_key).
PLAIN = ["  Ana   Bo  ", "ANA", "O'Brien-Smith", "x" * 32]


def _connect(engine: Engine) -> psycopg.Connection[tuple[object, ...]]:
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(url, autocommit=True)


def _event(conn: psycopg.Connection[tuple[object, ...]], code: str) -> uuid.UUID:
    row = conn.execute(
        "INSERT INTO events (code, title, capacity, host_token_hash)"
        " VALUES (%s, 'Quiz', 100, sha256(%s::bytea)) RETURNING id",
        (code, code.encode()),
    ).fetchone()
    assert row is not None
    assert isinstance(row[0], uuid.UUID)
    return row[0]


def _legacy(conn: psycopg.Connection[tuple[object, ...]], event: uuid.UUID, name: str) -> None:
    conn.execute(
        "INSERT INTO event_participants (event_id, display_name) VALUES (%s, %s)", (event, name)
    )


def test_a_legacy_name_gets_the_key_a_join_computes(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to("0002")
    codes = iter(f"K{n:05d}".replace("0", "A").replace("1", "B") for n in range(100))
    with _connect(alembic_engine) as conn:
        for name in TRICKY + PLAIN:  # each in an event of its own: nothing clashes
            _legacy(conn, _event(conn, next(codes)), name)
    alembic_runner.migrate_up_to("0003")

    with _connect(alembic_engine) as conn:
        keys = dict(conn.execute("SELECT display_name, name_key FROM event_participants"))
    assert keys == {name: normalize_display_name(name)[1] for name in TRICKY + PLAIN}
    assert keys["Straße"] == keys["STRASSE"] == "strasse"
    assert keys["ＡＮＡ"] == keys["A\u200bna"] == "ana"
    assert keys["Jose\u0301"] == keys["José"]


async def test_a_legacy_straße_takes_the_name_from_a_new_strasse(
    alembic_runner: MigrationContext, alembic_engine: Engine, settings: Settings
) -> None:
    """Two legacy names that are one name now both stay; the first keeps it, a join cannot."""
    alembic_runner.migrate_up_to("0001")
    with _connect(alembic_engine) as conn:
        event = _event(conn, "STR234")
        for name in ("Straße", "STRASSE", "Jose\u0301", *REFUSED):
            _legacy(conn, event, name)
    alembic_runner.migrate_up_to("heads")

    with _connect(alembic_engine) as conn:
        rows = conn.execute(
            "SELECT id, display_name, name_key FROM event_participants ORDER BY created_at, id"
        ).fetchall()
        seats = conn.execute("SELECT seats_taken FROM events").fetchone()
    keys = {name: (row_id, key) for row_id, name, key in rows}
    assert keys["Straße"][1] == "strasse"
    assert keys["STRASSE"][1] == f"strasse#{keys['STRASSE'][0]}"
    for name in REFUSED:
        assert keys[name][1] == f"#{keys[name][0]}"
    assert len({key for _, _, key in rows}) == len(rows)
    assert seats == (len(rows),)

    url = alembic_engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    app = create_app(settings, database_url=url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rollcall.test") as c:
            for name in ("strasse", "STRAẞE", "José"):
                taken = await c.post(
                    "/api/events/STR234/join",
                    json={"device_id": str(uuid.uuid4()), "display_name": name},
                )
                assert taken.status_code == 409, taken.text
                assert taken.json()["code"] == "name_taken"
            fresh = await c.post(
                "/api/events/STR234/join",
                json={"device_id": str(uuid.uuid4()), "display_name": "Strasse 2"},
            )
            assert fresh.status_code == 201, fresh.text


def test_the_sql_key_of_a_printable_ascii_name_is_the_python_key(
    alembic_config: Config, alembic_engine: Engine
) -> None:
    """Revision 0003 keys printable-ASCII names in SQL; on 20,000 such names it agrees."""
    lifecycle = ScriptDirectory.from_config(alembic_config).get_revision("0003")
    assert lifecycle is not None
    module = lifecycle.module
    pick = random.Random(15)
    alphabet = " " * 12 + "aAzZsSiIkK09_-.'~!@#$%^&*()[]{}<>?/|\\`\"+=,;:"
    names = [
        "".join(pick.choice(alphabet) for _ in range(pick.randrange(0, 40))) for _ in range(20_000)
    ]
    names += ["", " ", "  Ana  ", "ANA  BO", "x" * 32, " " + "x" * 32 + " ", "x" * 33, "I", "i"]
    query = (
        f"SELECT {module.ASCII_NAME_KEY} FROM unnest(%s::text[]) AS t(display_name)"
        f" CROSS JOIN LATERAL (SELECT {module.ASCII_FOLDED} AS folded) AS f"
    )
    with _connect(alembic_engine) as conn:
        printable = conn.execute(
            f"SELECT count(*) FROM unnest(%s::text[]) AS t(n) WHERE n ~ {module.PRINTABLE_ASCII}",
            (names,),
        ).fetchone()
        keys = [row[0] for row in conn.execute(query, (names,))]
    assert printable == (len(names),)
    for name, key in zip(names, keys, strict=True):
        try:
            wanted = normalize_display_name(name)[1]
        except ValueError:
            wanted = ""
        assert key == wanted, repr(name)


# --- killed in the middle, run again ---------------------------------------------------------

EVENTS = 60
PER_EVENT = 1_000
PROGRESS = re.compile(r"rollcall.migrations: ([\w ]+) backfill: (\d+) of (\d+) rows \(")


@pytest.fixture
def legacy_database(pg: PgServer) -> Iterator[str]:
    """60,000 participants at revision 0001, names clashing and tricky among them."""
    with pg.fresh_database() as url:
        schema.upgrade(url, "0001")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                """
                INSERT INTO events (code, title, capacity, host_token_hash)
                SELECT 'EV' || translate(lpad(n::text, 4, '0'), '0123456789', 'ABCDEFGHJK'), 'Event ' || n, 5000,
                       sha256(('host-' || n)::bytea)
                FROM generate_series(2, %s + 1) AS n
                """,
                (EVENTS,),
            )
            conn.execute(
                """
                INSERT INTO event_participants (event_id, display_name, created_at)
                SELECT e.id,
                       CASE WHEN n %% 97 = 0 THEN (%(tricky)s::text[])[n / 97 %% %(count)s + 1]
                            WHEN n %% 10 = 0 THEN upper('Player ' || (n - 1))
                            ELSE 'Player ' || n END,
                       timestamptz '2026-01-01' + make_interval(secs => n %% 500)
                FROM events AS e, generate_series(1, %(per_event)s) AS n
                """,
                {
                    "tricky": TRICKY + REFUSED,
                    "count": len(TRICKY + REFUSED),
                    "per_event": PER_EVENT,
                },
            )
        yield url


def _upgrade_killed_during(url: str, backfill: str) -> None:
    """`rollcall db upgrade head`, killed (SIGKILL) once `backfill` has done part of its rows."""
    process = subprocess.Popen(
        [sys.executable, "-m", "rollcall.cli", "db", "upgrade", "head"],
        env={**os.environ, "DATABASE_URL": url},
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 120
    seen: list[str] = []
    try:
        for line in process.stderr:
            seen.append(line)
            progress = PROGRESS.search(line)
            if (
                progress
                and progress.group(1).startswith(backfill)
                and 0 < int(progress.group(2)) < int(progress.group(3))
            ):
                process.send_signal(signal.SIGKILL)
                break
            assert time.monotonic() < deadline, "no progress within 2 minutes"
    finally:
        process.kill()
        process.wait(30)
    assert process.returncode == -signal.SIGKILL, "".join(seen)


def _scalar(url: str, query: str) -> object:
    with psycopg.connect(url) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def _expected_keys(rows: list[tuple[uuid.UUID, uuid.UUID, str]]) -> dict[uuid.UUID, str]:
    """The rule, restated: per event in join order, the first to want a key has it."""
    keys: dict[uuid.UUID, str] = {}
    taken: dict[uuid.UUID, set[str]] = defaultdict(set)
    for row_id, event_id, name in rows:
        try:
            wanted = normalize_display_name(name)[1]
        except ValueError:
            wanted = ""
        key = wanted if wanted and wanted not in taken[event_id] else f"{wanted}#{row_id}"
        taken[event_id].add(key)
        keys[row_id] = key
    return keys


def test_an_upgrade_killed_during_each_backfill_and_run_again_gets_every_row_right(
    legacy_database: str, pg: PgServer
) -> None:
    url = legacy_database
    with psycopg.connect(url) as conn:
        legacy = conn.execute(
            "SELECT id, event_id, display_name FROM event_participants"
            " ORDER BY event_id, created_at, id"
        ).fetchall()
    assert len(legacy) == EVENTS * PER_EVENT

    _upgrade_killed_during(url, "device_id")
    assert schema.current(url) == "0001"
    missing = _scalar(url, "SELECT count(*) FROM event_participants WHERE device_id IS NULL")
    assert 0 < missing < len(legacy), "killed before or after the device_id backfill"

    _upgrade_killed_during(url, "name_key")
    assert schema.current(url) == "0002"
    missing = _scalar(url, "SELECT count(*) FROM event_participants WHERE name_key IS NULL")
    assert 0 < missing < len(legacy), "killed before or after the name_key backfill"

    done = subprocess.run(
        [sys.executable, "-m", "rollcall.cli", "db", "upgrade", "head"],
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert schema.current(url) == schema.head()

    with psycopg.connect(url) as conn:
        after = conn.execute(
            "SELECT id, event_id, display_name, device_id, name_key FROM event_participants"
            " ORDER BY event_id, created_at, id"
        ).fetchall()
        seats = dict(conn.execute("SELECT id, seats_taken FROM events"))
    assert [row[:3] for row in after] == legacy, "a row was lost, added or changed"
    assert all(row[3] is not None for row in after)
    assert len({(row[1], row[3]) for row in after}) == len(after), "a device in two rows"
    expected = _expected_keys(legacy)
    assert {row[0]: row[4] for row in after} == expected
    assert seats == dict.fromkeys(seats, PER_EVENT)
    with pg.fresh_database(migrated=True) as clean:
        assert schema.schema_snapshot(url) == schema.schema_snapshot(clean)
