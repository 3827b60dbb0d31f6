"""rollcall's Prometheus metrics: every name in one place, for any module to count with.

It imports no feature, so services, realtime and the database layer may all use it. Under
`rollcall serve` it runs in prometheus-client's multiprocess mode: the command sets
PROMETHEUS_MULTIPROC_DIR before this module is first imported, every process writes its
values to files there, and a scrape of any process reports the sum over all of them
(docs/decisions.md, "Metrics across worker processes").
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from rollcall.protocol import Role

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
MULTIPROCESS = MULTIPROCESS_VARIABLE in os.environ
"""Fixed when prometheus-client is first imported, as its value class is."""

CONTENT_TYPE = CONTENT_TYPE_LATEST
PATH = "/metrics"

_FAST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0, 3600.0)

JOINS = Counter(
    "rollcall_joins",
    "Join attempts, by what the join function answered (joined, rejoined, name_taken, full, …).",
    ["outcome"],
)
OPEN_SOCKETS = Gauge(
    "rollcall_open_sockets",
    "WebSockets past their hello, by role (host or participant).",
    ["role"],
    multiprocess_mode="livesum",
)
HEARTBEATS_FLUSHED = Counter(
    "rollcall_heartbeats_flushed",
    "Heartbeats written to the database by the buffered flush (the newest per participant).",
)
RECEIPTS_FLUSHED = Counter(
    "rollcall_receipts_flushed",
    "Receipts (`seen`) written to the database by the buffered flush (the newest per participant).",
)
ACTIONS = Counter(
    "rollcall_actions",
    "Actions from phones, by what the database answered: stored, duplicate, pending, closed, ended.",
    ["outcome"],
)
for _outcome in ("stored", "duplicate", "pending", "closed", "ended"):
    ACTIONS.labels(outcome=_outcome)  # each at 0 from the start, so a rate has a series
TASK_SECONDS = Histogram(
    "rollcall_task_duration_seconds",
    "How long each run of a background task took (heartbeat_flush, presence_sweep, …).",
    ["task"],
    buckets=_FAST_BUCKETS,
)
DELIVERY_LAG = Histogram(
    "rollcall_event_log_delivery_lag_seconds",
    "Seconds from a message's commit to the event log until it is read for the sockets"
    " (to=sockets) or acknowledged by a webhook receiver (to=webhooks).",
    ["to"],
    buckets=_LAG_BUCKETS,
)
POOL_WAIT = Histogram(
    "rollcall_pool_wait_seconds",
    "Seconds spent getting a connection from the database pool (waiting when all are busy).",
    buckets=(0.0001, *_FAST_BUCKETS),
)
POOL_DISCARDED = Counter(
    "rollcall_pool_discarded",
    "Pooled database connections closed instead of given back: their borrower was interrupted"
    " (cancelled, timed out) while a statement may have been in flight.",
)
REQUESTS_CUT_OFF = Counter(
    "rollcall_requests_cut_off",
    "Requests answered or dropped before they had arrived, by reason: header_timeout,"
    " body_timeout, headers_too_large, body_too_large, client_gone (the client left mid-body).",
    ["reason"],
)
for _reason in (
    "header_timeout",
    "body_timeout",
    "headers_too_large",
    "body_too_large",
    "client_gone",
):
    REQUESTS_CUT_OFF.labels(reason=_reason)
WEBHOOK_ATTEMPTS = Counter(
    "rollcall_webhook_attempts",
    "Webhook POSTs, by result: delivered (2xx), http_error, timeout, unreachable.",
    ["result"],
)
WEBHOOK_RETRYING = Gauge(
    "rollcall_webhook_streams_retrying",
    "Webhook streams (an endpoint and an event) waiting to retry a failed message.",
    multiprocess_mode="livesum",
)

# Known label values start at zero, so that dashboards and rate() see them before they happen
# (the join outcomes' in participants/outcomes.py, with the outcomes).
for _role in Role:
    OPEN_SOCKETS.labels(role=_role)
for _to in ("sockets", "webhooks"):
    DELIVERY_LAG.labels(to=_to)
for _result in ("delivered", "http_error", "timeout", "unreachable"):
    WEBHOOK_ATTEMPTS.labels(result=_result)


def exposition() -> bytes:
    """Every metric in Prometheus' text format: this process's, or all processes' under serve."""
    if MULTIPROCESS:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def process_stopped() -> None:
    """Drop this process's live gauges (open sockets) from the sums; its counters stay."""
    if MULTIPROCESS:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
