"""The words of the /ws protocol and of the event log: close codes, message types, channels.

Every other module names these constants instead of writing the numbers and strings again.
`web/static/shared/protocol.js` is this module's twin for the pages; tests/test_protocol.py
fails when the two disagree. This module imports nothing of rollcall.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Close(IntEnum):
    """WebSocket close codes rollcall uses (RFC 6455 codes, then its own 4xxx)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_MESSAGE = 4400
    INVALID_TOKEN = 4401
    KICKED = 4403
    EVENT_NOT_FOUND = 4404
    HELLO_TIMEOUT = 4408
    REPLACED = 4409
    EVENT_CLOSED = 4410
    MOVED = 4412
    RATE_LIMITED = 4429


class HostMessage(StrEnum):
    """What a host's stream carries: each one a row of the event log, with its `seq`."""

    JOINED = "participant.joined"
    REJOINED = "participant.rejoined"
    PENDING = "participant.pending"
    RECLAIM_REQUESTED = "participant.reclaim_requested"
    PRESENCE = "participant.presence"
    LEFT = "participant.left"
    KICKED = "participant.kicked"
    STATE = "participant.state"
    RENAMED = "participant.renamed"
    TEAM = "participant.team"
    EVENT_UPDATED = "event.updated"
    EVENT_STATE = "event.state"
    ACTION = "participant.action"


class ServerMessage(StrEnum):
    """Messages the server sends that are not log rows."""

    WELCOME = "welcome"
    ACK = "ack"
    STATE = "state"
    EVENT = "event"
    KICKED = "kicked"
    REPLACED = "replaced"
    ADMITTED = "admitted"
    MOVED = "moved"
    ROOM_CHECK = "room_check"
    RENAMED = "renamed"
    TEAM = "team"
    EVENT_STATE = "event_state"
    ACTION_ACK = "action.ack"
    RECEIPTS = "receipts"
    ERROR = "error"


class ClientMessage(StrEnum):
    """Messages a client sends."""

    HELLO = "hello"
    HEARTBEAT = "heartbeat"
    AWAY = "away"
    BACK = "back"
    ACTION = "action"
    SEEN = "seen"


class Role(StrEnum):
    PARTICIPANT = "participant"
    HOST = "host"


EVENTS_CHANNEL = "rollcall_events"
"""NOTIFY channel: an event's log grew; the payload is {"event_id", "seq"}, and, from
event_log.append, also "type" and "about" (the participant ids the message names)."""

CONTROL_CHANNEL = "rollcall_control"
"""NOTIFY channel: a participant's newest socket; the payload is {"participant_id", "connection"}."""

RECEIPTS_CHANNEL = "rollcall_receipts"
"""NOTIFY channel: a process wrote receipts; the payload is a JSON array of the event ids."""

WEBHOOKS_CHANNEL = "rollcall_webhooks"
"""NOTIFY channel: a webhook endpoint was set or removed; the payload is {"endpoint_id"}."""

HELLO_TIMEOUT_S = 5.0
"""A socket that has not said hello by then is closed with Close.HELLO_TIMEOUT."""
