"""Revision 0006: its downgrade puts 0005's join functions back exactly, and its HMAC is HMAC."""

from __future__ import annotations

import hashlib
import hmac

import psycopg

from rollcall.db import migrate
from rollcall.participants import recovery
from tests.pg import PgServer

FUNCTIONS = """
SELECT p.oid::regprocedure::text, pg_get_functiondef(p.oid) FROM pg_proc AS p
WHERE p.pronamespace = 'public'::regnamespace ORDER BY 1
"""


def test_the_downgrade_restores_the_previous_join_functions_exactly(pg: PgServer) -> None:
    with pg.fresh_database() as url:
        migrate.upgrade(url, "0005")
        with psycopg.connect(url) as conn:
            before = conn.execute(FUNCTIONS).fetchall()
        migrate.upgrade(url, "0006")
        with psycopg.connect(url) as conn:
            during = conn.execute(FUNCTIONS).fetchall()
        migrate.downgrade(url, "0005")
        with psycopg.connect(url) as conn:
            after = conn.execute(FUNCTIONS).fetchall()
    assert [name for name, _ in before] == [
        "rollcall_join(text,uuid,text,text,bytea)",
        "rollcall_join_many(text[],uuid[],text[],text[],bytea[])",
        "rollcall_name_key_fill()",  # revision 0003's, for writers that give no name key
    ]
    assert during != before
    assert after == before


def test_the_database_hmac_is_hmac_sha256_and_codes_read_back(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        key = conn.execute(
            "INSERT INTO events (code, title, capacity, host_token_hash)"
            " VALUES ('HMAC22', 'hmac', 1, 'hmac-test') RETURNING hmac_key"
        ).fetchone()[0]
        secret = bytes(b ^ 0x36 for b in key[:64])
        assert bytes(b ^ 0x5C for b in secret) == key[64:]  # stored as HMAC's two padded keys
        for message in (b"", b"room-check:", b"x" * 200):
            computed = conn.execute("SELECT rollcall_hmac(%s, %s)", (key, message)).fetchone()[0]
            assert computed == hmac.new(secret, message, hashlib.sha256).digest()
        numbers = conn.execute(
            "SELECT rollcall_recovery_number(%s, gen_random_uuid(), g),"
            " rollcall_recovery_digest(%s, '00000000-0000-0000-0000-000000000001', g),"
            " rollcall_recovery_number(%s, '00000000-0000-0000-0000-000000000001', g)"
            " FROM generate_series(0, 200) AS g",
            (key, key, key),
        ).fetchall()
        conn.execute("DELETE FROM events WHERE code = 'HMAC22'")
    for number, digest, fixed in numbers:
        assert 0 <= number < 30**8
        code = recovery.code_of(number)
        assert recovery.number_of(code) == number
        assert recovery.number_of(code.lower().replace("-", "")) == number
        assert recovery.digest_of(fixed) == digest
    assert len({n for n, _, _ in numbers}) == len(numbers)  # 201 draws of 30^8: all distinct


def test_the_downgrade_removes_waiting_participants_and_keeps_every_other_row(
    pg: PgServer,
) -> None:
    with pg.fresh_database() as url:
        migrate.upgrade(url, "0006")
        with psycopg.connect(url, autocommit=True) as conn:
            for event in range(3):
                event_id = conn.execute(
                    "INSERT INTO events (code, host_token_hash, title, capacity)"
                    " VALUES (%s, %s, 'e', 100)"
                    " RETURNING id",
                    (f"KQXWP{event + 2}", hashlib.sha256(f"host{event}".encode()).digest()),
                ).fetchone()
                assert event_id is not None
                for n, status in enumerate(["active", "pending", "left", "kicked", "pending"]):
                    conn.execute(
                        "INSERT INTO event_participants (event_id, device_id, display_name,"
                        " name_key, status) VALUES (%s, gen_random_uuid(), %s, %s, %s)",
                        (event_id[0], f"P{n}", f"p{n}", status),
                    )
        migrate.downgrade(url, "0005")
        with psycopg.connect(url) as conn:
            left = conn.execute(
                "SELECT status, count(*) FROM event_participants GROUP BY 1 ORDER BY 1"
            ).fetchall()
    assert left == [("active", 3), ("kicked", 3), ("left", 3)]
