"""Webhook endpoints and their delivery state: the rules and their SQL.

An endpoint receives an event's messages from the event log; its cursor per event is the last
seq it acknowledged. The endpoint of ROLLCALL_WEBHOOK_URL (event_id NULL) receives every
event's; an event's own endpoint (set by its host) receives that event's.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from rollcall import event_log
from rollcall.db.pool import DB
from rollcall.errors import EventClosed, ValidationFailed, WebhookNotFound
from rollcall.events.service import EventRow
from rollcall.protocol import WEBHOOKS_CHANNEL
from rollcall.settings import WEBHOOK_SECRET_PREFIX, is_webhook_secret
from rollcall.webhooks import addresses
from rollcall.webhooks.schemas import (
    DeliveryState,
    WebhookAttempt,
    WebhookDeliveries,
    WebhookSet,
)

SECRET_BYTES = 24
ATTEMPTS_KEPT = 50
"""Attempts kept per endpoint and event for the delivery log."""


@dataclass(frozen=True)
class StreamKey:
    """One endpoint's deliveries of one event: delivered in seq order, one POST at a time."""

    endpoint_id: UUID
    event_id: UUID


@dataclass
class Cursor:
    delivered_seq: int
    failed_attempts: int = 0
    failing_since: datetime | None = None
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    gave_up_at: datetime | None = None


@dataclass(frozen=True)
class Target:
    """Where a stream's messages go now (a PUT may change it between two batches)."""

    url: str
    secret: str | None
    """None for the endpoint of ROLLCALL_WEBHOOK_URL, whose secret is the setting."""
    event_code: str

    @property
    def is_global(self) -> bool:
        return self.secret is None


@dataclass(frozen=True)
class Attempt:
    seq: int
    attempted_at: datetime
    status: int | None
    error: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def new_secret() -> str:
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _invalid(field: str, message: str, kind: str) -> ValidationFailed:
    return ValidationFailed(
        f"{field}: {message}", errors=[{"field": field, "message": message, "type": kind}]
    )


def webhook_id(event_id: UUID, seq: int) -> str:
    """The webhook-id of a message: the same for every attempt, so receivers can deduplicate."""
    return f"{event_id}:{seq}"


async def put_webhook(
    conn: DB, *, event: EventRow, url: str, secret: str | None, allow_private: bool
) -> tuple[WebhookSet, bool]:
    """Set the event's webhook (replacing one it has); returns it and whether it is new.

    Delivery starts with the first message after this call, or, when the webhook is replaced,
    goes on from the last message the old one acknowledged, retrying at once.
    Without a secret, a new one is made and returned this once.
    """
    if event.status == "closed":
        raise EventClosed("a closed event sends no more messages")
    problem = await addresses.check(url, allow_private=allow_private)
    if problem is not None:
        raise _invalid("url", problem, "webhook_url")
    if secret is not None and not is_webhook_secret(secret):
        raise _invalid(
            "secret", "must be whsec_ followed by 24 to 64 bytes in base64", "webhook_secret"
        )
    made = secret is None
    secret = secret or new_secret()
    async with conn.transaction():
        await event_log.lock_event(conn, event_id=event.id)  # no message commits meanwhile
        record = await conn.fetchrow(
            """
            INSERT INTO webhook_endpoints (event_id, url, secret) VALUES ($1, $2, $3)
            ON CONFLICT (event_id) DO UPDATE
                SET url = EXCLUDED.url, secret = EXCLUDED.secret, updated_at = now()
            RETURNING id, created_at, updated_at, (xmax = 0) AS created
            """,
            event.id,
            url,
            secret,
        )
        assert record is not None
        await conn.execute(
            """
            INSERT INTO webhook_cursors (endpoint_id, event_id, delivered_seq)
            SELECT $1, id, seq FROM events WHERE id = $2
            ON CONFLICT (endpoint_id, event_id) DO UPDATE
                SET failed_attempts = 0, failing_since = NULL, next_attempt_at = NULL,
                    last_error = NULL, gave_up_at = NULL
            """,
            record["id"],
            event.id,
        )
        await _announce(conn, record["id"])
    view = WebhookSet(
        url=url,
        secret=secret if made else None,
        created_at=record["created_at"],
        updated_at=record["updated_at"],
    )
    return view, bool(record["created"])


async def delete_webhook(conn: DB, *, event: EventRow) -> None:
    """Remove the event's webhook, its cursor and its delivery log (nothing when it has none)."""
    async with conn.transaction():
        endpoint_id = await conn.fetchval(
            "DELETE FROM webhook_endpoints WHERE event_id = $1 RETURNING id", event.id
        )
        if endpoint_id is not None:
            await _announce(conn, endpoint_id)


async def _announce(conn: DB, endpoint_id: UUID) -> None:
    """Tell the delivering process at commit: start, stop, or retry now."""
    payload = json.dumps({"endpoint_id": str(endpoint_id)})
    await conn.execute("SELECT pg_notify($1, $2)", WEBHOOKS_CHANNEL, payload)


async def deliveries(conn: DB, *, event: EventRow) -> WebhookDeliveries:
    """The event's webhook: how far delivery got, its retries, and its latest attempts."""
    record = await conn.fetchrow(
        """
        SELECT w.id, w.url, w.created_at, w.updated_at, e.seq, c.delivered_seq,
               c.failed_attempts, c.failing_since, c.next_attempt_at, c.last_error, c.gave_up_at
        FROM webhook_endpoints AS w
        JOIN events AS e ON e.id = w.event_id
        JOIN webhook_cursors AS c ON c.endpoint_id = w.id AND c.event_id = e.id
        WHERE w.event_id = $1
        """,
        event.id,
    )
    if record is None:
        raise WebhookNotFound(f"the event {event.code} has no webhook")
    attempts = await conn.fetch(
        """
        SELECT seq, attempted_at, status, error, duration_ms FROM webhook_attempts
        WHERE endpoint_id = $1 AND event_id = $2 ORDER BY id DESC LIMIT $3
        """,
        record["id"],
        event.id,
        ATTEMPTS_KEPT,
    )
    state: DeliveryState
    if record["gave_up_at"] is not None:
        state = "gave_up"
    elif record["failed_attempts"] > 0:
        state = "retrying"
    elif record["delivered_seq"] < record["seq"]:
        state = "delivering"
    else:
        state = "delivered"
    return WebhookDeliveries(
        url=record["url"],
        created_at=record["created_at"],
        updated_at=record["updated_at"],
        seq=record["seq"],
        delivered_seq=record["delivered_seq"],
        state=state,
        failed_attempts=record["failed_attempts"],
        failing_since=record["failing_since"],
        next_attempt_at=record["next_attempt_at"],
        last_error=record["last_error"],
        attempts=[
            WebhookAttempt(webhook_id=webhook_id(event.id, attempt["seq"]), **dict(attempt))
            for attempt in attempts
        ],
    )


# -- what the delivering process uses ----------------------------------------------------------


async def sync_global(conn: DB, *, url: str | None) -> UUID | None:
    """Make the endpoint of ROLLCALL_WEBHOOK_URL match the setting; its id (None: unset).

    Set for the first time, it starts after each existing event's newest message; unset, it
    is removed with its cursors (and stops holding the log back).
    """
    if url is None:
        await conn.execute("DELETE FROM webhook_endpoints WHERE event_id IS NULL")
        return None
    async with conn.transaction():
        record = await conn.fetchrow(
            """
            INSERT INTO webhook_endpoints (event_id, url, secret) VALUES (NULL, $1, NULL)
            ON CONFLICT ((event_id IS NULL)) WHERE event_id IS NULL
                DO UPDATE SET url = EXCLUDED.url, updated_at = now()
            RETURNING id, (xmax = 0) AS created
            """,
            url,
        )
        assert record is not None
        if record["created"]:
            await conn.execute(
                """
                INSERT INTO webhook_cursors (endpoint_id, event_id, delivered_seq)
                SELECT $1, id, seq FROM events WHERE seq > 0
                ON CONFLICT DO NOTHING
                """,
                record["id"],
            )
    endpoint_id: UUID = record["id"]
    return endpoint_id


async def has_endpoints(conn: DB) -> bool:
    found: bool = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM webhook_endpoints)")
    return found


_DUE = """
SELECT w.id AS endpoint_id, e.id AS event_id
FROM webhook_endpoints AS w
JOIN events AS e ON e.id = w.event_id
JOIN webhook_cursors AS c ON c.endpoint_id = w.id AND c.event_id = e.id
WHERE c.gave_up_at IS NULL AND e.seq > c.delivered_seq {due} {only}
UNION ALL
SELECT w.id, e.id
FROM webhook_endpoints AS w
CROSS JOIN events AS e
LEFT JOIN webhook_cursors AS c ON c.endpoint_id = w.id AND c.event_id = e.id
WHERE w.event_id IS NULL AND c.gave_up_at IS NULL
    AND e.seq > coalesce(c.delivered_seq, 0) {due} {only}
"""
# A stream waiting to retry is not due before its time (it holds no delivery slot meanwhile).
_RETRY_DUE = "AND (c.next_attempt_at IS NULL OR c.next_attempt_at <= now())"
_DUE_ALL = _DUE.format(due=_RETRY_DUE, only="")
_DUE_OF_EVENTS = _DUE.format(due=_RETRY_DUE, only="AND e.id = ANY($1::uuid[])")


async def due_streams(conn: DB, *, event_ids: list[UUID] | None = None) -> list[StreamKey]:
    """Streams with messages their endpoint has not acknowledged and no retry still to wait
    for (of these events only, if given)."""
    if event_ids is None:
        records = await conn.fetch(_DUE_ALL)
    else:
        records = await conn.fetch(_DUE_OF_EVENTS, event_ids)
    return [StreamKey(record["endpoint_id"], record["event_id"]) for record in records]


async def stream_cursor(conn: DB, *, key: StreamKey) -> Cursor | None:
    """Where the stream stands (None: its endpoint is gone, or it gave up)."""
    record = await conn.fetchrow(
        """
        SELECT coalesce(c.delivered_seq, 0) AS delivered_seq,
               coalesce(c.failed_attempts, 0) AS failed_attempts,
               c.failing_since, c.next_attempt_at, c.last_error, c.gave_up_at
        FROM webhook_endpoints AS w
        LEFT JOIN webhook_cursors AS c ON c.endpoint_id = w.id AND c.event_id = $2
        WHERE w.id = $1
        """,
        key.endpoint_id,
        key.event_id,
    )
    if record is None or record["gave_up_at"] is not None:
        return None
    return Cursor(**dict(record))


async def stream_target(conn: DB, *, key: StreamKey) -> Target | None:
    """The endpoint's URL and secret and the event's code (None: the endpoint is gone)."""
    record = await conn.fetchrow(
        """
        SELECT w.url, w.secret, e.code FROM webhook_endpoints AS w, events AS e
        WHERE w.id = $1 AND e.id = $2
        """,
        key.endpoint_id,
        key.event_id,
    )
    if record is None:
        return None
    return Target(record["url"], record["secret"], record["code"])


async def record_progress(
    conn: DB, *, key: StreamKey, cursor: Cursor, attempts: list[Attempt]
) -> None:
    """Store the cursor and the latest attempts; the cursor never moves back.

    Nothing is stored when the endpoint was removed meanwhile.
    """
    async with conn.transaction():
        stored = await conn.fetchval(
            """
            INSERT INTO webhook_cursors AS c (
                endpoint_id, event_id, delivered_seq, failed_attempts, failing_since,
                next_attempt_at, last_error, gave_up_at)
            SELECT $1, $2, $3, $4, $5, $6, $7, $8
            WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = $1)
            ON CONFLICT (endpoint_id, event_id) DO UPDATE SET
                delivered_seq = greatest(c.delivered_seq, EXCLUDED.delivered_seq),
                failed_attempts = EXCLUDED.failed_attempts,
                failing_since = EXCLUDED.failing_since,
                next_attempt_at = EXCLUDED.next_attempt_at,
                last_error = EXCLUDED.last_error,
                gave_up_at = EXCLUDED.gave_up_at
            RETURNING true
            """,
            key.endpoint_id,
            key.event_id,
            cursor.delivered_seq,
            cursor.failed_attempts,
            cursor.failing_since,
            cursor.next_attempt_at,
            cursor.last_error,
            cursor.gave_up_at,
        )
        if not stored or not attempts:
            return
        newest = attempts[-ATTEMPTS_KEPT:]
        await conn.execute(
            """
            INSERT INTO webhook_attempts (
                endpoint_id, event_id, seq, attempted_at, status, error, duration_ms)
            SELECT $1, $2, a.seq, a.attempted_at, a.status, a.error, a.duration_ms
            FROM unnest($3::bigint[], $4::timestamptz[], $5::bigint[], $6::text[], $7::bigint[])
                AS a(seq, attempted_at, status, error, duration_ms)
            """,
            key.endpoint_id,
            key.event_id,
            [a.seq for a in newest],
            [a.attempted_at for a in newest],
            [a.status for a in newest],
            [a.error for a in newest],
            [a.duration_ms for a in newest],
        )
        await conn.execute(
            """
            DELETE FROM webhook_attempts
            WHERE endpoint_id = $1 AND event_id = $2 AND id <= (
                SELECT id FROM webhook_attempts WHERE endpoint_id = $1 AND event_id = $2
                ORDER BY id DESC OFFSET $3 LIMIT 1)
            """,
            key.endpoint_id,
            key.event_id,
            ATTEMPTS_KEPT,
        )
