// The host's side of the SDK: an event's roster and every change to it, from the host's stream on
// /ws. The first welcome brings the whole roster; each change after it comes with the next `seq`;
// a reconnect asks for what it missed with `since`, and a gap asks again from the last one seen.
// The live channel too: the event state (set here, seen in the stream), the phones' actions, and
// the receipts (how many have shown the current state), live.

import { ApiError, api } from "/static/shared/api.js";
import { LiveSocket } from "/static/shared/live.js";
import { ClientMessage, Close, HostMessage, Role, ServerMessage } from "/static/shared/protocol.js";
import { applyToRoster, presenceOf } from "/static/shared/roster.js";
import { Emitter } from "./emitter.js";
import { eventPath, normaliseCode } from "./event.js";

const FINAL_CLOSES = [Close.INVALID_TOKEN, Close.KICKED, Close.EVENT_NOT_FOUND, Close.EVENT_CLOSED];

/** Each log message's name as a Host event: `participant.joined` is told as `joined`. */
const EVENT_NAMES = Object.freeze({
  [HostMessage.JOINED]: "joined",
  [HostMessage.REJOINED]: "rejoined",
  [HostMessage.PENDING]: "pending",
  [HostMessage.RECLAIM_REQUESTED]: "reclaim_requested",
  [HostMessage.PRESENCE]: "presence",
  [HostMessage.LEFT]: "left",
  [HostMessage.KICKED]: "kicked",
  [HostMessage.STATE]: "state",
  [HostMessage.RENAMED]: "renamed",
  [HostMessage.TEAM]: "team",
  [HostMessage.EVENT_UPDATED]: "event",
  [HostMessage.EVENT_STATE]: "event_state",
  [HostMessage.ACTION]: "action",
});

/**
 * Follow event `code` as its host, with the host token. Resolves once the first welcome came:
 * `participants` holds the roster. Rejects with a RollcallError (`invalid_token`,
 * `event_not_found`, `event_closed`) when rollcall refuses the token.
 *
 * `since` and `participants` resume from what an app kept (say, across a reload): with a `since`
 * rollcall still has, only the messages after it come; otherwise the whole roster does.
 */
export async function host(code, token, { since = null, participants = [] } = {}) {
  const following = new Host(normaliseCode(code), token, { since, participants });
  await following.ready;
  return following;
}

// Why the stream stopped for good, and the HTTP status a call would have had for it.
const REFUSALS = Object.freeze({
  [Close.INVALID_TOKEN]: ["invalid_token", 401],
  [Close.KICKED]: ["invalid_token", 401],
  [Close.EVENT_NOT_FOUND]: ["event_not_found", 404],
  [Close.EVENT_CLOSED]: ["event_closed", 410],
});

export class Host extends Emitter {
  #live;
  #token;
  #settle;
  /** Where the stream's messages go (shared/roster.js applies them): `participants`, unless the
   * caller keeps its own roster (`get`, `upsert`, `remove`, `replace`), as the host page does. */
  #roster;

  constructor(code, token, { since, participants, roster = null }) {
    super();
    this.#roster = roster ?? {
      get: (id) => this.participants.get(id),
      upsert: (participant) => {
        const entry = withPresence(participant);
        this.participants.set(participant.id, entry);
        return entry;
      },
      remove: (id) => this.participants.delete(id),
      replace: (all) => {
        this.participants = new Map(all.map((entry) => [entry.id, withPresence(entry)]));
      },
    };
    this.code = code;
    this.#token = token;
    this.event = null;
    this.eventState = {}; // the event state every phone is shown, and its version
    this.eventStateVersion = 0;
    this.receipts = null; // { event_version, seen, of }: how many have shown the event state
    this.seq = since; // the last message applied: `since` on the next reconnect
    this.participants = new Map(participants.map((entry) => [entry.id, { ...entry }]));
    this.connection = "connecting";
    this.ended = null; // why the stream stopped for good: invalid_token, event_not_found, event_closed
    this.ready = new Promise((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    this.#live = new LiveSocket({
      hello: () => this.#hello(),
      onMessage: (message) => this.#onMessage(message),
      onStatus: (status) => {
        this.connection = status;
        this.emit("connection", { status });
      },
      onFinal: (closeCode) => this.#onFinal(closeCode),
      finalCodes: FINAL_CLOSES,
    });
    this.#live.start();
  }

  /** Set a participant's state by a JSON merge patch (keys set to null are removed). */
  setState(participantId, patch) {
    return this.#call(`/participants/${encodeURIComponent(participantId)}`, "PATCH", {
      state: patch,
    });
  }

  /** Remove a participant; with `ban` (the default) its device may never come back. */
  kick(participantId, { ban = true } = {}) {
    const body = ban ? undefined : { ban };
    return this.#call(`/participants/${encodeURIComponent(participantId)}/kick`, "POST", body);
  }

  /** Change the event: any of `title`, `capacity`, `status` (`open`, `locked`, `closed`). */
  update(fields) {
    return this.#call("", "PATCH", fields);
  }

  /**
   * Change the event state by a JSON merge patch (keys set to null are removed); every phone
   * gets it. With `expectVersion`, only if the state is still at that version: otherwise it
   * rejects with `version_conflict` (another host changed it first). Resolves to
   * `{ state, version }`.
   */
  async setEventState(patch, { expectVersion = null } = {}) {
    const changed = await this.#call("/state", "PATCH", { patch, expect_version: expectVersion });
    this.#takeEventState(changed.state, changed.version);
    return changed;
  }

  /** The phones' actions in `seq` order: `{ actions, next_since }` (`since`, `name`, `limit`). */
  listActions({ since = 0, name = null, limit = 100 } = {}) {
    const query = new URLSearchParams({ since: String(since), limit: String(limit) });
    if (name) query.set("name", name);
    return this.#call(`/actions?${query}`, "GET");
  }

  /** The receipts now, with who is behind (online first): `{ event_version, seen, of, behind }`. */
  fetchReceipts() {
    return this.#call("/receipts", "GET");
  }

  /** Drop the connection and make a new one at once, resuming from the last `seq`. */
  reconnect() {
    this.#live.reconnectNow();
  }

  /** Stop following the event. */
  close() {
    this.#live.stop();
  }

  #call(path, method, body) {
    return api(`${eventPath(this.code)}${path}`, { method, body, token: this.#token });
  }

  #hello() {
    const hello = {
      type: ClientMessage.HELLO,
      role: Role.HOST,
      event: this.code,
      token: this.#token,
    };
    if (this.seq !== null) hello.since = this.seq;
    return hello;
  }

  #onMessage(message) {
    if (message.type === ServerMessage.WELCOME) {
      this.event = message.event ?? this.event;
      if (this.event) this.#takeEventState(this.event.state ?? {}, this.event.state_version ?? 0);
      if (!message.resumed) {
        this.#roster.replace(message.participants ?? []);
        this.seq = message.seq;
      }
      // Resumed: every message after `since` follows, and moves seq along.
      this.emit("roster", { participants: this.participants, resumed: Boolean(message.resumed) });
      if (message.receipts) this.#takeReceipts(message.receipts);
      this.#settle.resolve(this);
      return;
    }
    if (typeof message.seq !== "number") {
      if (message.type === ServerMessage.ROOM_CHECK) this.emit("room_check", message);
      if (message.type === ServerMessage.RECEIPTS) this.#takeReceipts(message);
      return;
    }
    if (this.seq !== null && message.seq <= this.seq) return; // had it already
    if (this.seq !== null && message.seq > this.seq + 1) {
      this.#live.reconnectNow(); // a gap: ask again from the last one seen
      return;
    }
    this.seq = message.seq;
    this.#apply(message);
    this.emit("message", message);
    const name = EVENT_NAMES[message.type];
    if (name) this.emit(name, message);
  }

  #apply(message) {
    if (applyToRoster(this.#roster, message) !== undefined) return;
    if (message.type === HostMessage.EVENT_UPDATED) {
      this.event = message.event;
      if (message.event.status === "closed") this.#stop(...REFUSALS[Close.EVENT_CLOSED]);
    } else if (message.type === HostMessage.EVENT_STATE) {
      this.#takeEventState(message.state, message.version);
    }
  }

  #takeEventState(state, version) {
    if (version < this.eventStateVersion) return; // the stream already brought a newer one
    this.eventState = state;
    this.eventStateVersion = version;
  }

  #takeReceipts({ event_version, seen, of }) {
    this.receipts = { event_version, seen, of };
    this.emit("receipts", this.receipts);
  }

  #onFinal(closeCode) {
    this.#stop(...(REFUSALS[closeCode] ?? REFUSALS[Close.INVALID_TOKEN]));
  }

  #stop(reason, status) {
    this.#live.stop();
    if (this.ended) return;
    this.ended = reason;
    this.#settle.reject(
      new ApiError(status, { code: reason, detail: `rollcall ended the host stream: ${reason}` }),
    );
    this.emit("end", { reason });
  }
}

/** A participant as `participants` holds it: a copy, with its presence. */
function withPresence(participant) {
  return { ...participant, presence: presenceOf(participant) };
}
