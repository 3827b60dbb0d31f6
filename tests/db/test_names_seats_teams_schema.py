"""Revision names_seats_teams: the previous release's joins keep working on it, and its
downgrade puts the previous revision's functions back exactly and keeps every seat, phone or
not."""

from __future__ import annotations

import hashlib
import uuid

import psycopg

from rollcall.db import schema
from rollcall.participants.names import name_skeleton, normalize_display_name
from tests.pg import PgServer

FUNCTIONS = """
SELECT p.oid::regprocedure::text, pg_get_functiondef(p.oid) FROM pg_proc AS p
WHERE p.pronamespace = 'public'::regnamespace ORDER BY 1
"""

# The join as the previous release sends it: eleven inputs (participants/batch.py then).
PREVIOUS_CALL = (
    "SELECT outcome FROM rollcall_join_many(%s::text[], %s::uuid[], %s::text[],"
    " %s::text[], %s::text[], %s::bytea[], %s::text[], %s::bytea[], %s::boolean[],"
    " %s::boolean[], 30.0::double precision)"
)


def previous_release_join(
    conn: psycopg.Connection[tuple[object, ...]], code: str, name: str
) -> str:
    plain, key = normalize_display_name(name)
    row = conn.execute(
        PREVIOUS_CALL,
        (
            [code],
            [uuid.uuid5(uuid.NAMESPACE_DNS, name)],
            [plain],
            [key],
            [name_skeleton(plain)],
            [hashlib.sha256(name.encode()).digest()],
            [None],
            [None],
            [True],
            [True],
        ),
    ).fetchone()
    assert row is not None
    return str(row[0])


def test_the_downgrade_restores_the_functions_and_keeps_seats(pg: PgServer) -> None:
    with pg.fresh_database() as url:
        schema.upgrade(url, "attendance")
        with psycopg.connect(url) as conn:
            before = conn.execute(FUNCTIONS).fetchall()
        schema.upgrade(url, "names_seats_teams")
        with psycopg.connect(url, autocommit=True) as conn:
            during = conn.execute(FUNCTIONS).fetchall()
            conn.execute(
                "INSERT INTO events (code, title, capacity, host_token_hash, names, name_filter,"
                " blocked_patterns, teams, team_mode) VALUES ('NSTQ22', 't', 10, 'h',"
                " 'generated', 'custom', '{%%badword%%}', '[{\"id\":\"red\",\"name\":\"Red\"}]',"
                " 'choose')"
            )
            # The previous release, still serving during the upgrade, joins as it always did:
            # its call has none of the new inputs, so no newcomer is refused for them.
            assert previous_release_join(conn, "NSTQ22", "Badword Ann") == "joined"
            assert previous_release_join(conn, "NSTQ22", "Badword Ann") == "rejoined"
            conn.execute(
                "INSERT INTO event_participants (event_id, device_id, display_name, name_key,"
                " status, reported_presence, team)"
                " SELECT id, NULL, 'Nana', 'nana', 'active', 'offline', 'red' FROM events"
                " WHERE code = 'NSTQ22'"
            )
        schema.downgrade(url, "attendance")
        with psycopg.connect(url) as conn:
            after = conn.execute(FUNCTIONS).fetchall()
            seats = conn.execute(
                "SELECT display_name, device_id IS NOT NULL FROM event_participants"
                " ORDER BY display_name"
            ).fetchall()
    assert during != before
    assert after == before
    assert seats == [("Badword Ann", True), ("Nana", True)]
