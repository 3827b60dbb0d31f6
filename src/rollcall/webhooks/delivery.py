"""The webhook deliverer: one process at a time reads the event log and POSTs it, signed.

Every process runs one; the one holding the advisory lock (on a connection of its own)
delivers, the others wait to take over. For each endpoint and event (a stream) one task
POSTs the messages after the stream's cursor, one at a time, in seq order; a failure is
retried with exponential backoff and jitter, the same message again, until the receiver
acknowledges it or ROLLCALL_WEBHOOK_RETRY_FOR_S has passed. The cursor is stored after each
batch and after each failure, so a restart resends at most one batch: at least once, with the
same webhook-id. A stream waits only on its own receiver: a receiver that hangs, fails or
answers with a huge body holds up its own messages and nothing else.

Slots: at most MAX_STREAMS streams of events' own endpoints POST at once (one stream per
event), and the endpoint of ROLLCALL_WEBHOOK_URL has STREAMS_PER_ENDPOINT of its own that
they never take. A stream waiting to retry ends and holds no slot; it is started again when
its retry is due. Streams waiting for a slot get one in the order they asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import asyncpg
import httpx
from standardwebhooks import Webhook

from rollcall import __version__, event_log, metrics
from rollcall.db.pool import UNAVAILABLE_ERRORS, borrow
from rollcall.protocol import EVENTS_CHANNEL, WEBHOOKS_CHANNEL
from rollcall.settings import Settings
from rollcall.webhooks import service
from rollcall.webhooks.addresses import guarded_transport
from rollcall.webhooks.service import Attempt, Cursor, StreamKey, Target

log = logging.getLogger(__name__)

# One deliverer at a time across every process sharing the database.
DELIVERY_LOCK_KEY = 0x776562686F6F6B  # "webhook"

STANDBY_S = 1.0
"""How often a process that does not deliver tries to take over."""
CHECK_S = 2.0
"""How often the delivering process, when idle, checks that it still holds the lock."""
FULL_SCAN_S = 30.0
"""How often every stream is looked at, not only those of events that just announced a message."""
PASS_GAP_S = 0.05
"""A burst of announcements costs one look at the streams per gap."""
BATCH = 100
"""Messages read per batch; the cursor is stored after each."""
STREAMS_PER_ENDPOINT = 8
"""Streams of one endpoint at once: the ROLLCALL_WEBHOOK_URL endpoint's slots, its own."""
MAX_STREAMS = 512
"""Streams of events' own endpoints at once."""
RETRY_MARGIN_S = 0.05
"""A stream's retry is looked at this long after it is due, so that the database agrees."""
ERROR_BODY_BYTES = 512
"""Of a failed answer's body, only this much is read, for the delivery log."""
PERSIST_TIMEOUT_S = 2.0
USER_AGENT = f"rollcall-webhooks/{__version__}"


class WebhookDeliverer:
    def __init__(self, pool: asyncpg.Pool[Any], *, database_url: str, settings: Settings) -> None:
        self._pool = pool
        self._url = database_url
        self._settings = settings
        global_secret = settings.webhook_secret
        self._global_signer = Webhook(global_secret.get_secret_value()) if global_secret else None
        # No connection limit in the clients: the streams are the limit, so that connections
        # held by a hanging receiver never make another receiver's messages wait for one.
        self._event_client = _client(allow_private=settings.webhook_allow_private)
        self._global_client = _client(allow_private=True)  # the operator's own setting
        self._task: asyncio.Task[None] | None = None
        self._streams: dict[StreamKey, _Stream] = {}
        self._per_endpoint: dict[UUID, int] = defaultdict(int)
        self._global_id: UUID | None = None
        self._waiting: dict[StreamKey, None] = {}  # for a slot, in the order they asked
        self._retries: dict[StreamKey, asyncio.TimerHandle] = {}  # ended, to retry later
        self._dirty: set[UUID] = set()
        self._full_scan = True
        self._wake = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook deliverer")

    async def stop(self) -> None:
        """Stop delivering; each stream stores how far it got first."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._event_client.aclose()
        await self._global_client.aclose()

    # -- leadership ----------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            conn: asyncpg.Connection[Any] | None = None
            try:
                conn = await asyncpg.connect(
                    self._url,
                    timeout=5,
                    server_settings={"application_name": "rollcall-webhooks"},
                )
                await _wait_for_lock(conn)
                await self._lead(conn)
            except UNAVAILABLE_ERRORS as exc:
                log.warning("webhook delivery paused, database unavailable: %s", type(exc).__name__)
            except Exception:
                log.exception("webhook delivery failed; restarting it")
            finally:
                await self._stop_streams()
                if conn is not None:
                    conn.terminate()  # ends the session, and with it the lock
            await asyncio.sleep(STANDBY_S)

    async def _lead(self, conn: asyncpg.Connection[Any]) -> None:
        """Deliver while this process holds the lock, which lives as long as `conn`."""
        log.info("this process delivers webhooks")
        self._global_id = await service.sync_global(conn, url=self._settings.webhook_url)
        await conn.add_listener(WEBHOOKS_CHANNEL, self._on_endpoint_change)
        listening = False
        self._full_scan = True
        last_full = 0.0
        while True:
            if conn.is_closed():
                raise ConnectionError("the delivery lock's connection closed")
            keys: list[StreamKey] = []
            if self._full_scan or time.monotonic() - last_full >= FULL_SCAN_S:
                self._full_scan = False
                self._dirty.clear()
                last_full = time.monotonic()
                wanted = await service.has_endpoints(conn)
                if wanted != listening:  # no endpoint: no need to hear about every message
                    if wanted:
                        await conn.add_listener(EVENTS_CHANNEL, self._on_message)
                    else:
                        await conn.remove_listener(EVENTS_CHANNEL, self._on_message)
                    listening = wanted
                if wanted:
                    keys = await service.due_streams(conn)
            elif self._dirty:
                event_ids, self._dirty = list(self._dirty), set()
                keys = await service.due_streams(conn, event_ids=event_ids)
            for key in keys:
                self._start(key)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=CHECK_S)
            except TimeoutError:
                await conn.fetchval("SELECT 1", timeout=CHECK_S)
            self._wake.clear()
            await asyncio.sleep(PASS_GAP_S)

    def _on_message(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        try:
            self._dirty.add(UUID(json.loads(str(payload))["event_id"]))
        except (ValueError, KeyError, TypeError):
            return
        self._wake.set()

    def _on_endpoint_change(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        """A webhook was set or removed: look at every stream, and retry its own at once."""
        try:
            endpoint_id = UUID(json.loads(str(payload))["endpoint_id"])
        except (ValueError, KeyError, TypeError):
            return
        for key, stream in self._streams.items():
            if key.endpoint_id == endpoint_id:
                stream.reload.set()
        self._full_scan = True
        self._wake.set()

    # -- streams -------------------------------------------------------------------------------

    def _start(self, key: StreamKey) -> None:
        if key in self._streams:
            return
        if not self._has_slot(key):
            self._waiting[key] = None
            return
        self._waiting.pop(key, None)
        stream = _Stream()
        stream.task = asyncio.create_task(self._deliver(key, stream), name=f"webhook {key}")
        self._streams[key] = stream
        self._per_endpoint[key.endpoint_id] += 1
        stream.task.add_done_callback(lambda task: self._ended(key, task))

    def _has_slot(self, key: StreamKey) -> bool:
        """Whether a stream may start: a slot of its endpoint, and for an event's own endpoint
        one of MAX_STREAMS (the global endpoint's slots are its own)."""
        if self._per_endpoint.get(key.endpoint_id, 0) >= STREAMS_PER_ENDPOINT:
            return False
        if key.endpoint_id == self._global_id:
            return True
        global_streams = self._per_endpoint.get(self._global_id, 0) if self._global_id else 0
        return len(self._streams) - global_streams < MAX_STREAMS

    def _ended(self, key: StreamKey, task: asyncio.Task[None]) -> None:
        self._streams.pop(key, None)
        self._per_endpoint[key.endpoint_id] -= 1
        if self._per_endpoint[key.endpoint_id] <= 0:
            del self._per_endpoint[key.endpoint_id]
        failure = None if task.cancelled() else task.exception()
        if failure is not None:
            # Left to the next full scan, so that a stream that keeps failing does not spin.
            log.warning("webhook stream %s stopped: %r", key, failure)
        elif key not in self._retries:
            # A message may have come in while the stream was finishing: look at its event again.
            self._dirty.add(key.event_id)
        for waiting in list(self._waiting):  # the freed slot goes to who asked first
            if self._has_slot(waiting):
                self._start(waiting)
        self._wake.set()

    def _retry_at(self, key: StreamKey, when: datetime) -> None:
        """The stream ends until `when`, holding no slot; then its event is looked at again."""
        if (previous := self._retries.pop(key, None)) is not None:
            previous.cancel()
        delay = max(0.0, (when - datetime.now(UTC)).total_seconds()) + RETRY_MARGIN_S
        self._retries[key] = asyncio.get_running_loop().call_later(delay, self._retry_due, key)
        metrics.WEBHOOK_RETRYING.set(len(self._retries))

    def _retry_due(self, key: StreamKey) -> None:
        self._retries.pop(key, None)
        metrics.WEBHOOK_RETRYING.set(len(self._retries))
        self._dirty.add(key.event_id)
        self._wake.set()

    def _settled(self, key: StreamKey) -> None:
        """The stream delivered, gave up or lost its endpoint: it waits for no retry."""
        if (pending := self._retries.pop(key, None)) is not None:
            pending.cancel()
            metrics.WEBHOOK_RETRYING.set(len(self._retries))

    async def _stop_streams(self) -> None:
        self._waiting.clear()  # first: a stream that ends must not start a waiting one
        tasks = [stream.task for stream in self._streams.values() if stream.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for pending in self._retries.values():
            pending.cancel()
        self._retries.clear()
        metrics.WEBHOOK_RETRYING.set(0)

    async def _deliver(self, key: StreamKey, stream: _Stream) -> None:
        """POST the stream's messages in order until it has none left, gives up, or fails: then
        it ends, to be started again when its retry is due (it holds no slot meanwhile)."""
        async with borrow(self._pool) as conn:
            cursor = await service.stream_cursor(conn, key=key)
        if cursor is None:
            self._settled(key)
            return
        if cursor.next_attempt_at is not None and cursor.next_attempt_at > datetime.now(UTC):
            self._retry_at(key, cursor.next_attempt_at)
            return
        attempts: list[Attempt] = []
        stored = cursor
        try:
            while True:
                if stream.reload.is_set():  # the host set the webhook again: retry now
                    stream.reload.clear()
                    cursor = Cursor(delivered_seq=cursor.delivered_seq)
                async with borrow(self._pool) as conn:
                    target = await service.stream_target(conn, key=key)
                    entries = await event_log.entries_after(
                        conn, event_id=key.event_id, since=cursor.delivered_seq, limit=BATCH
                    )
                read_at = time.perf_counter()
                if target is None or not entries:
                    self._settled(key)
                    return
                signer = self._signer(target)
                for entry in entries:
                    attempt = await self._post(key, target, signer, entry)
                    attempts.append(attempt)
                    if attempt.delivered:
                        cursor = self._delivered(key, target, cursor, entry.seq)
                        metrics.DELIVERY_LAG.labels(to="webhooks").observe(
                            entry.age_s + time.perf_counter() - read_at
                        )
                        continue
                    cursor = self._failed(cursor, attempt)
                    self._log_failure(key, target, cursor, attempt)
                    await self._store(key, cursor, attempts)
                    stored, attempts = cursor, []
                    if cursor.next_attempt_at is None:
                        self._settled(key)  # gave up
                    else:
                        self._retry_at(key, cursor.next_attempt_at)
                    return
                await self._store(key, cursor, attempts)
                stored, attempts = cursor, []
        finally:
            if attempts or cursor != stored:
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._store(key, cursor, attempts))

    def _delivered(self, key: StreamKey, target: Target, cursor: Cursor, seq: int) -> Cursor:
        if cursor.failed_attempts:
            log.info(
                "webhooks of event %s to %s delivered again after %d attempts",
                key.event_id,
                _where(target.url),
                cursor.failed_attempts + 1,
            )
        self._settled(key)
        return Cursor(delivered_seq=seq)

    def _log_failure(
        self, key: StreamKey, target: Target, cursor: Cursor, attempt: Attempt
    ) -> None:
        if cursor.failed_attempts == 1 or cursor.gave_up_at is not None:
            log.warning(
                "webhooks of event %s to %s %s after %d attempts: %s",
                key.event_id,
                _where(target.url),
                "gave up" if cursor.gave_up_at is not None else "failing",
                cursor.failed_attempts,
                attempt.error,
            )

    def _failed(self, cursor: Cursor, attempt: Attempt) -> Cursor:
        """The cursor after a failed attempt: when to retry, or that it gives up."""
        settings = self._settings
        now = attempt.attempted_at
        failing_since = cursor.failing_since or now
        failed = cursor.failed_attempts + 1
        if (now - failing_since).total_seconds() >= settings.webhook_retry_for_s:
            return replace(
                cursor,
                failed_attempts=failed,
                failing_since=failing_since,
                next_attempt_at=None,
                last_error=attempt.error,
                gave_up_at=now,
            )
        backoff = min(
            settings.webhook_retry_max_s, settings.webhook_retry_base_s * 2 ** min(failed - 1, 40)
        )
        delay = backoff * random.uniform(0.5, 1.0)  # noqa: S311 (jitter, not a secret)
        return replace(
            cursor,
            failed_attempts=failed,
            failing_since=failing_since,
            next_attempt_at=now + timedelta(seconds=delay),
            last_error=attempt.error,
        )

    async def _store(self, key: StreamKey, cursor: Cursor, attempts: list[Attempt]) -> None:
        async with asyncio.timeout(PERSIST_TIMEOUT_S), borrow(self._pool) as conn:
            await service.record_progress(conn, key=key, cursor=cursor, attempts=attempts)

    def _signer(self, target: Target) -> Webhook:
        if target.secret is not None:
            return Webhook(target.secret)
        if self._global_signer is None:
            raise RuntimeError("the ROLLCALL_WEBHOOK_URL endpoint needs ROLLCALL_WEBHOOK_SECRET")
        return self._global_signer

    # -- one POST ------------------------------------------------------------------------------

    async def _post(
        self, key: StreamKey, target: Target, signer: Webhook, entry: event_log.Entry
    ) -> Attempt:
        body = json.dumps(
            {"event": target.event_code, "message": entry.message}, separators=(",", ":")
        )
        msg_id = service.webhook_id(key.event_id, entry.seq)
        sent_at = datetime.fromtimestamp(int(time.time()), UTC)
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": signer.sign(msg_id, sent_at, body),
        }
        client = self._global_client if target.is_global else self._event_client
        timeout = self._settings.webhook_timeout_s
        status: int | None = None
        error: str | None = None
        result = "delivered"
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                async with client.stream(
                    "POST", target.url, content=body.encode(), headers=headers
                ) as response:
                    status = response.status_code
                    if not 200 <= status < 300:
                        result = "http_error"
                        error = await _describe_answer(response)
        except TimeoutError:
            result, error = "timeout", f"no answer within {timeout:g} s"
        except Exception as exc:  # whatever went wrong, this attempt failed: retried later
            result, error = "unreachable", _describe_failure(exc)
        metrics.WEBHOOK_ATTEMPTS.labels(result=result).inc()
        return Attempt(
            seq=entry.seq,
            attempted_at=datetime.now(UTC),
            status=status,
            error=error,
            duration_ms=round((time.perf_counter() - started) * 1000),
        )


async def _wait_for_lock(conn: asyncpg.Connection[Any]) -> None:
    """Until this session holds the delivery lock (another process may hold it for hours)."""
    while True:
        if await conn.fetchval("SELECT pg_try_advisory_lock($1)", DELIVERY_LOCK_KEY):
            return
        await asyncio.sleep(STANDBY_S)


class _Stream:
    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None
        self.reload = asyncio.Event()


def _client(*, allow_private: bool) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=guarded_transport(allow_private=allow_private, max_connections=None),
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(None),  # the whole attempt is bounded in _post instead
    )


async def _describe_answer(response: httpx.Response) -> str:
    """The status and the start of the body; never more of the body than ERROR_BODY_BYTES."""
    status = response.status_code
    if 300 <= status < 400:
        where = response.headers.get("location", "")[:200]
        return f"HTTP {status}: a redirect (to {where!r}), which webhooks do not follow"
    head = b""
    async for chunk in response.aiter_raw():
        head += chunk[: ERROR_BODY_BYTES - len(head)]
        if len(head) >= ERROR_BODY_BYTES:
            break
    text = "".join(ch if ch.isprintable() else " " for ch in head.decode("utf-8", "replace"))
    text = " ".join(text.split())[:200]
    return f"HTTP {status}" + (f": {text}" if text else "")


def _describe_failure(exc: Exception) -> str:
    reason = str(exc) or type(exc).__name__
    return f"could not reach the receiver: {reason}"[:300]


def _where(url: str) -> str:
    """The host of a URL, for the log (a URL's path or query may carry a token)."""
    return urlsplit(url).hostname or "?"
