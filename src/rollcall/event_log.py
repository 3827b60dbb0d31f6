"""The per-event message log: every change a host should see, numbered, durable, announced.

Every feature that changes a roster writes here (events, participants, presence); realtime
reads it to feed the sockets. It imports no feature. append() runs inside the transaction that
makes the change, so the message exists exactly when the change does, and NOTIFY tells every
rollcall process about it at commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from rollcall import metrics
from rollcall.db.pool import DB
from rollcall.protocol import EVENTS_CHANNEL


async def lock_event(conn: DB, *, event_id: UUID) -> str | None:
    """Lock the event row for this transaction and return its status (None: no such event).

    Every transaction that changes an event's roster takes this lock first, before any
    participant row, so that two of them can never wait on each other (no deadlock), and the
    event's messages commit in seq order.
    """
    status: str | None = await conn.fetchval(
        "SELECT status FROM events WHERE id = $1 FOR UPDATE", event_id
    )
    return status


async def append(conn: DB, *, event_id: UUID, message: dict[str, Any]) -> int:
    """Give the message the event's next seq, store it and announce it; returns the seq.

    Runs inside the change's transaction, after lock_event(): the message exists exactly when
    the change does, and NOTIFY goes out at commit. The notification names the message's type
    and the participants it is about, so that a process whose sockets it does not concern
    need not read it.
    """
    assert conn.is_in_transaction(), "append() belongs inside the change's transaction"
    about_ids = sorted(about(message))
    seq: int = await conn.fetchval(
        """
        WITH next AS (UPDATE events SET seq = seq + 1 WHERE id = $1 RETURNING seq),
        stored AS (
            INSERT INTO event_log (event_id, seq, message)
            SELECT $1, next.seq, $2::jsonb || jsonb_build_object('seq', next.seq) FROM next
            RETURNING seq
        )
        SELECT stored.seq FROM stored,
            LATERAL pg_notify($3, json_build_object(
                'event_id', $1::uuid, 'seq', stored.seq, 'type', $4::text, 'about', $5::text[]
            )::text)
        """,
        event_id,
        message,
        EVENTS_CHANNEL,
        str(message["type"]),
        about_ids,
    )
    return seq


async def append_many(conn: DB, *, event_id: UUID, messages: list[dict[str, Any]]) -> int:
    """append() for many messages of one event, in one statement; returns the last seq.

    One notification for all of them, with the last seq and no type (a process reads the log
    lazily unless a host of the event is there), as the join functions send. Nothing at all
    when there are no messages (returns 0).
    """
    assert conn.is_in_transaction(), "append_many() belongs inside the change's transaction"
    if not messages:
        return 0
    seq: int = await conn.fetchval(
        """
        WITH next AS (
            UPDATE events SET seq = seq + cardinality($2::jsonb[]) WHERE id = $1 RETURNING seq
        ), stored AS (
            INSERT INTO event_log (event_id, seq, message)
            SELECT $1, next.seq - cardinality($2::jsonb[]) + m.n,
                m.message || jsonb_build_object('seq', next.seq - cardinality($2::jsonb[]) + m.n)
            FROM next, unnest($2::jsonb[]) WITH ORDINALITY AS m(message, n)
        )
        SELECT next.seq FROM next,
            LATERAL pg_notify($3, json_build_object('event_id', $1::uuid, 'seq', next.seq)::text)
        """,
        event_id,
        messages,
        EVENTS_CHANNEL,
    )
    return seq


def about(message: dict[str, Any]) -> set[str]:
    """The participants a message names: its participant, and whoever asked for a seat move."""
    found = {message.get("participant_id"), message.get("request_id")}
    participant = message.get("participant")
    if isinstance(participant, dict):
        found.add(participant.get("id"))
    return {str(pid) for pid in found if pid is not None}


async def current_seq(conn: DB, *, event_id: UUID) -> int:
    """The seq of the event's newest message (0 before the first)."""
    seq: int = await conn.fetchval("SELECT seq FROM events WHERE id = $1", event_id)
    return seq


@dataclass(frozen=True)
class Entry:
    """One stored message, with its age: seconds since its change committed (database clock)."""

    seq: int
    message: dict[str, Any]
    age_s: float


async def entries_after(conn: DB, *, event_id: UUID, since: int, limit: int) -> list[Entry]:
    """The event's messages after `since`, in seq order, at most `limit` of them."""
    records = await conn.fetch(
        """
        SELECT seq, message, extract(epoch FROM clock_timestamp() - created_at)::float8 AS age
        FROM event_log WHERE event_id = $1 AND seq > $2 ORDER BY seq LIMIT $3
        """,
        event_id,
        since,
        limit,
    )
    return [Entry(record["seq"], record["message"], record["age"]) for record in records]


async def messages_after(
    conn: DB, *, event_id: UUID, since: int, limit: int = 1000
) -> list[dict[str, Any]]:
    """The event's messages after `since`, in order, read to be delivered to sockets.

    Each one's age goes into the delivery lag metric (to="sockets").
    """
    entries = await entries_after(conn, event_id=event_id, since=since, limit=limit)
    lag = metrics.DELIVERY_LAG.labels(to="sockets")
    for entry in entries:
        lag.observe(entry.age_s)
    return [entry.message for entry in entries]


async def messages_after_each(
    conn: DB, *, since: dict[UUID, int], limit: int
) -> dict[UUID, list[dict[str, Any]]]:
    """Several events' messages, each after its own seq, in one query: at most `limit` each.

    For fan-out, which gathers the reads no socket waits for. Each message's age goes into the
    delivery lag metric, as with messages_after.
    """
    records = await conn.fetch(
        """
        SELECT c.event_id, m.message, m.age
        FROM unnest($1::uuid[], $2::bigint[]) AS c(event_id, since)
        CROSS JOIN LATERAL (
            SELECT seq, message,
                extract(epoch FROM clock_timestamp() - created_at)::float8 AS age
            FROM event_log AS l WHERE l.event_id = c.event_id AND l.seq > c.since
            ORDER BY seq LIMIT $3
        ) AS m
        ORDER BY c.event_id, m.seq
        """,
        list(since),
        list(since.values()),
        limit,
    )
    lag = metrics.DELIVERY_LAG.labels(to="sockets")
    found: dict[UUID, list[dict[str, Any]]] = {event_id: [] for event_id in since}
    for record in records:
        lag.observe(record["age"])
        found[record["event_id"]].append(record["message"])
    return found


async def oldest_kept(conn: DB, *, event_id: UUID) -> int | None:
    seq: int | None = await conn.fetchval(
        "SELECT min(seq) FROM event_log WHERE event_id = $1", event_id
    )
    return seq


async def trim(conn: DB, *, keep: int) -> int:
    """Forget all but the newest `keep` messages of each event; returns how many went.

    A message a webhook endpoint has not yet acknowledged stays, whatever `keep` says: the
    log is the webhooks' outbox. An endpoint counts while its cursor has not given up; the
    endpoint of ROLLCALL_WEBHOOK_URL (event_id NULL) holds every message of an event it has
    no cursor for yet.
    """
    status = await conn.execute(
        """
        DELETE FROM event_log AS l
        USING (
            SELECT e.id, least(
                e.seq - $1,
                (SELECT min(c.delivered_seq) FROM webhook_cursors AS c
                 WHERE c.event_id = e.id AND c.gave_up_at IS NULL),
                (SELECT 0 FROM webhook_endpoints AS w
                 WHERE w.event_id IS NULL AND NOT EXISTS (
                     SELECT 1 FROM webhook_cursors AS c
                     WHERE c.endpoint_id = w.id AND c.event_id = e.id))
            ) AS upto
            FROM events AS e
            WHERE e.seq > $1
        ) AS kept
        WHERE l.event_id = kept.id AND l.seq <= kept.upto
        """,
        keep,
    )
    return int(status.split()[-1])
