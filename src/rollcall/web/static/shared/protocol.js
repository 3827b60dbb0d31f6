// The words of the /ws protocol, named once for the pages: the twin of src/rollcall/protocol.py.
// tests/test_protocol.py fails when the two disagree, and when a page writes a close code or a
// message type as a bare number or string instead of naming it here. The NOTIFY channels of
// protocol.py are the server's own business and have no twin here.

/** WebSocket close codes rollcall uses (RFC 6455 codes, then its own 4xxx). */
export const Close = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  BAD_MESSAGE: 4400,
  INVALID_TOKEN: 4401,
  KICKED: 4403,
  EVENT_NOT_FOUND: 4404,
  HELLO_TIMEOUT: 4408,
  REPLACED: 4409,
  EVENT_CLOSED: 4410,
  MOVED: 4412,
  RATE_LIMITED: 4429,
});

/** What a host's stream carries: each one a row of the event log, with its `seq`. */
export const HostMessage = Object.freeze({
  JOINED: "participant.joined",
  REJOINED: "participant.rejoined",
  PENDING: "participant.pending",
  RECLAIM_REQUESTED: "participant.reclaim_requested",
  PRESENCE: "participant.presence",
  LEFT: "participant.left",
  KICKED: "participant.kicked",
  STATE: "participant.state",
  RENAMED: "participant.renamed",
  TEAM: "participant.team",
  EVENT_UPDATED: "event.updated",
  EVENT_STATE: "event.state",
  ACTION: "participant.action",
});

/** Messages the server sends that are not log rows. */
export const ServerMessage = Object.freeze({
  WELCOME: "welcome",
  ACK: "ack",
  STATE: "state",
  EVENT: "event",
  KICKED: "kicked",
  REPLACED: "replaced",
  ADMITTED: "admitted",
  MOVED: "moved",
  ROOM_CHECK: "room_check",
  RENAMED: "renamed",
  TEAM: "team",
  EVENT_STATE: "event_state",
  ACTION_ACK: "action.ack",
  RECEIPTS: "receipts",
  ERROR: "error",
});

/** Messages a client sends. */
export const ClientMessage = Object.freeze({
  HELLO: "hello",
  HEARTBEAT: "heartbeat",
  AWAY: "away",
  BACK: "back",
  ACTION: "action",
  SEEN: "seen",
});

export const Role = Object.freeze({
  PARTICIPANT: "participant",
  HOST: "host",
});

/** A socket that has not said hello by then is closed with Close.HELLO_TIMEOUT. */
export const HELLO_TIMEOUT_S = 5;
