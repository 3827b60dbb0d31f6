"""Revision attendance: participants from before it get sensible figures, and the record is
kept by the database whoever writes the change (the previous release's statements too)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from rollcall.db import schema
from tests.pg import PgServer

TOKEN = "legacy-host-token"


def _event(conn: psycopg.Connection[Any], code: str, *, closed_ago_s: float | None) -> Any:
    row = conn.execute(
        "INSERT INTO events (code, title, capacity, host_token_hash, status, updated_at)"
        " VALUES (%s, 'Before', 100, %s, %s, now() - make_interval(secs => %s)) RETURNING id",
        (
            code,
            hashlib.sha256((TOKEN + code).encode()).digest(),
            "open" if closed_ago_s is None else "closed",
            closed_ago_s or 0,
        ),
    ).fetchone()
    assert row is not None
    return row[0]


def _participant(
    conn: psycopg.Connection[Any],
    event: Any,
    name: str,
    *,
    status: str,
    presence: str | None,
    joined_ago_s: float,
    seen_ago_s: float,
) -> None:
    conn.execute(
        "INSERT INTO event_participants (event_id, device_id, display_name, name_key, status,"
        " reported_presence, join_timestamp, last_heartbeat)"
        " VALUES (%s, gen_random_uuid(), %s, lower(%s), %s, %s,"
        " now() - make_interval(secs => %s), now() - make_interval(secs => %s))",
        (event, name, name, status, presence, joined_ago_s, seen_ago_s),
    )


@pytest.fixture
def before_attendance(pg: PgServer) -> Iterator[str]:
    """A database at the revision before, with participants in every state, then upgraded."""
    with pg.fresh_database() as url:
        schema.upgrade(url, "join_batches")
        with psycopg.connect(url, autocommit=True) as conn:
            open_event = _event(conn, "PASTEV", closed_ago_s=None)
            for name, status, presence, seen_ago_s in [
                ("Here", "active", "online", 1),
                ("Away", "active", "away", 1),
                ("Quiet", "active", "offline", 60),
                ("Never told", "active", None, 2),
                ("Gone", "left", "left", 40),
                ("Out", "kicked", "kicked", 30),
                ("Waiting", "pending", "online", 5),
            ]:
                _participant(
                    conn,
                    open_event,
                    name,
                    status=status,
                    presence=presence,
                    joined_ago_s=100,
                    seen_ago_s=seen_ago_s,
                )
            closed_event = _event(conn, "ENDED2", closed_ago_s=50)
            _participant(
                conn,
                closed_event,
                "Stayed",
                status="active",
                presence="online",
                joined_ago_s=100,
                seen_ago_s=90,
            )
        schema.upgrade(url)  # to head: the code under test reads its schema
        yield url


@pytest.fixture
def database_url(before_attendance: str) -> str:
    """The suite's `client` runs on this database."""
    return before_attendance


async def _rows(client: httpx.AsyncClient, code: str) -> dict[str, dict[str, Any]]:
    """The roll call by name; each row also gets `since_join` and `since_seen`: the seconds
    from its first join and from when it was last seen to the roll call's generated_at."""
    answer = await client.get(
        f"/api/events/{code}/attendance?include=pending",
        headers={"Authorization": f"Bearer {TOKEN}{code}"},
    )
    assert answer.status_code == 200, answer.text
    generated = datetime.fromisoformat(answer.json()["generated_at"])
    rows = {}
    for row in answer.json()["participants"]:
        joined = datetime.fromisoformat(row["first_joined_at"])
        seen = datetime.fromisoformat(row["last_seen_at"])
        row["since_join"] = (generated - joined).total_seconds()
        row["since_seen"] = (generated - seen).total_seconds()
        rows[row["display_name"]] = row
    return rows


def _figures(row: dict[str, Any]) -> tuple[float, float, float]:
    return row["online_s"], row["away_s"], row["offline_s"]


def approx(*figures: float) -> Any:
    return pytest.approx(figures, abs=0.1)  # the figures come to a tenth of a second


async def test_participants_from_before_get_sensible_figures(
    client: httpx.AsyncClient,
) -> None:
    rows = await _rows(client, "PASTEV")
    here, quiet = rows["Here"], rows["Quiet"]
    assert here["since_join"] == pytest.approx(100, abs=30), "inserted 100 s before the join"
    # Present: present since the join. Gone quiet or gone: present until last seen.
    assert _figures(here) == approx(here["since_join"], 0, 0)
    assert _figures(rows["Away"]) == approx(0, rows["Away"]["since_join"], 0)
    assert _figures(rows["Never told"]) == approx(rows["Never told"]["since_join"], 0, 0)
    assert _figures(quiet) == approx(100 - 60, 0, quiet["since_seen"])
    assert _figures(rows["Gone"]) == approx(100 - 40, 0, 0)
    assert _figures(rows["Out"]) == approx(100 - 30, 0, 0)
    assert _figures(rows["Waiting"]) == (0, 0, 0)
    assert rows["Gone"]["left_at"] == rows["Gone"]["last_seen_at"]
    assert rows["Out"]["left_at"] == rows["Out"]["last_seen_at"]
    assert here["left_at"] is None
    assert {row["connections"] for row in rows.values()} == {0}

    # The event closed 50 s before the upgrade: counted up to then; by then silent for 40 s,
    # past the 30 s timeout, so offline from its last beat.
    [stayed] = (await _rows(client, "ENDED2")).values()
    assert _figures(stayed) == approx(10, 0, 40)


def test_the_previous_releases_writes_keep_the_record(before_attendance: str) -> None:
    """The statements a release without attendance sends still update the figures: the
    database keeps them."""
    with psycopg.connect(before_attendance, autocommit=True) as conn:
        # What a release before attendance writes when a row goes offline (the sweep), then
        # leaves: a legacy row, with no record yet.
        conn.execute(
            "UPDATE event_participants SET reported_presence = 'offline'"
            " WHERE display_name = 'Here'"
        )
        conn.execute(
            "UPDATE event_participants SET status = 'left', reported_presence = 'left',"
            " session_token_hash = NULL WHERE display_name = 'Here'"
        )
        online_s, offline_s, since, left_at, seen = conn.execute(
            "SELECT online_s, offline_s, presence_since, left_at, last_heartbeat"
            " FROM event_participants WHERE display_name = 'Here'"
        ).fetchone()  # type: ignore[misc]
        assert online_s == pytest.approx(99, abs=0.01), "present from the join to the last beat"
        assert offline_s == pytest.approx((since - seen).total_seconds(), abs=0.01)
        assert left_at == since and left_at > seen
        # A close from the previous release sets the close time too.
        conn.execute("UPDATE events SET status = 'closed' WHERE code = 'PASTEV'")
        closed_at = conn.execute("SELECT closed_at FROM events WHERE code = 'PASTEV'").fetchone()
        assert closed_at is not None and closed_at[0] is not None
        assert abs(closed_at[0] - datetime.now(UTC)) < timedelta(seconds=5)
