// rollcall's JavaScript SDK, served at /sdk/rollcall.js: import it from a page on rollcall's own
// origin (docs/sdk.md). `join` is the phone's side (one participant, kept live), `host` the
// host's (the roster and its changes). Our own join page is built on it.

export { ApiError as RollcallError } from "/static/shared/api.js";
export { device } from "/static/shared/device.js";
export { Close, HostMessage, ServerMessage } from "/static/shared/protocol.js";
export { getEvent, normaliseCode } from "./event.js";
export { Host, host } from "./host.js";
export { lastName, movedAway, rememberedName } from "./memory.js";
export { EndReason, join, Participant, suggestName } from "./participant.js";
