// The phone's side of the SDK: one participant of one event. Joins (on another site, in the /ws
// hello itself; on rollcall's own origin, over HTTP), then stays live on /ws: heartbeats, away
// while the page is hidden, a beacon when it goes, reconnects with backoff and jitter, and the
// stale-socket rules (docs/protocol.md: 4409 is final, so are 4401, 4403, 4410 and 4412). The
// live channel rides on it: the event state (and a receipt once the page's handlers have shown
// it), and actions kept until rollcall acknowledges them. What happens is told as DOM events on
// the Participant (an EventTarget).

import { ApiError, api, serverOrigin } from "/static/shared/api.js";
import { device, newUuid } from "/static/shared/device.js";
import { backoffDelay, LiveSocket } from "/static/shared/live.js";
import { ClientMessage, Close, ServerMessage } from "/static/shared/protocol.js";
import { Emitter } from "./emitter.js";
import { eventPath, normaliseCode } from "./event.js";
import {
  rememberedName,
  rememberedToken,
  rememberLeft,
  rememberMoved,
  rememberName,
  rememberToken,
} from "./memory.js";

// Why a revoked token was revoked is asked at most this many times while rollcall is unreachable.
const REVOKED_CHECKS = 4;
// An action refused for its pace is sent again after what rollcall asked, and a little jitter.
const RETRY_JITTER_MS = 250;

/** Why a participant's session is over (the `end` event's `reason`). */
export const EndReason = Object.freeze({
  LEFT: "left", // this page called leave()
  KICKED: "kicked", // the host removed this participant, or refused it a seat
  CLOSED: "closed", // the event ended
  REPLACED: "replaced", // another tab or window of this browser took the session over
  MOVED: "moved", // the participant continued on another phone with its recovery code
  REVOKED: "revoked", // the session ended elsewhere: left from another tab, or removed by the host
});

/**
 * Join `code` as `name`, or, without a name, again as the participant this browser already is
 * there. Resolves to a live Participant once rollcall has answered the join; rejects with a
 * RollcallError whose `code` is rollcall's problem code (`name_taken`, `event_locked`,
 * `event_full`, `event_closed`, `device_banned`, `event_not_found`, …), or `name_required` when
 * no name was given and this browser is not in the event.
 */
export async function join(code, name = null, options = {}) {
  const participant = new Participant(normaliseCode(code), options);
  const known = name ?? (options.generated ? null : await knownName(participant));
  await participant.rejoin(known);
  return participant;
}

/**
 * A two-word name in `language`, free in event `code` just now: what a page offers where the
 * event's names are generated (join with `{generated: {suggestion, language}}` to take it).
 */
export async function suggestName(code, language = "en", { server = null } = {}) {
  const query = new URLSearchParams({ language });
  const { display_name: name } = await api(
    `${eventPath(normaliseCode(code))}/generated-name?${query}`,
    { server: serverOrigin(server) },
  );
  return name;
}

/**
 * The name this browser is in the participant's event with: remembered, else (on rollcall's own
 * origin) from its session cookie; a page on another site keeps its token beside the name.
 */
async function knownName(participant) {
  const { code, device: thisDevice } = participant;
  const remembered = rememberedName(code);
  if (remembered) return remembered;
  if (!thisDevice.isNew && !participant.server) {
    try {
      const session = await api("/api/session");
      if (session.event.code === code && session.participant.status !== "left") {
        return session.participant.display_name;
      }
    } catch {
      // No session, or it ended: not in the event.
    }
  }
  throw new ApiError(400, {
    code: "name_required",
    detail: `This browser is not in ${code} yet: join with a name.`,
  });
}

export class Participant extends Emitter {
  #live = null;
  #server;
  #token = null;
  #heartbeatS = null;
  #roomCheck;
  #recoveryCode;
  #team;
  #generated;
  #lifecycle = null;
  #actions = new Map(); // id -> an action not yet acknowledged: { message, resolve, reject, timer }
  #shown = { event_version: 0, version: 0 }; // what this page's handlers showed
  #reported = { event_version: 0, version: 0 }; // what the last receipt said

  /**
   * Use join(); `options`: `roomCheck` (the 4 digits of a room check), `recoveryCode`, `team`
   * (the id a newcomer chooses), `generated` ({suggestion, language}: the server names a
   * newcomer, where the event's names are generated), `server` (the URL of rollcall when this
   * page is on another site, whose origin rollcall lists in ROLLCALL_ALLOWED_ORIGINS).
   */
  constructor(
    code,
    { roomCheck = null, recoveryCode = null, team = null, generated = null, server = null } = {},
  ) {
    super();
    this.code = code;
    this.#server = serverOrigin(server);
    this.device = device(); // { id, isNew }
    this.participant = null; // as rollcall last described it: id, display_name, status, state, version
    this.event = null;
    this.eventState = {}; // the event state every phone is shown, and its version
    this.eventStateVersion = 0;
    this.recoveryCode = null;
    this.rejoined = false; // the last join found this browser's participant already there
    this.connection = "stopped"; // connecting, connected, reconnecting, offline or stopped
    this.presence = "online"; // what this page last told rollcall: online or away
    this.ended = null; // an EndReason once the session is over
    this.#roomCheck = roomCheck;
    this.#recoveryCode = recoveryCode;
    this.#team = team;
    this.#generated = generated;
  }

  get id() {
    return this.participant?.id ?? null;
  }

  /** The origin of the rollcall on another site this page talks to, or null (its own). */
  get server() {
    return this.#server;
  }

  get name() {
    return this.participant?.display_name ?? rememberedName(this.code);
  }

  get state() {
    return this.participant?.state ?? {};
  }

  /** True while the host has yet to let this participant in (an event with approval). */
  get waiting() {
    return this.participant?.status === "pending";
  }

  /**
   * Join (again) as `name` (default: the name joined with) and connect: after `replaced` this
   * takes the session back for this page; after `left` or `revoked` it comes back in.
   */
  async rejoin(name = this.name) {
    this.#stopLive();
    const body = { device_id: this.device.id };
    if (name) body.display_name = name;
    else if (this.#generated) {
      body.generated_name = true;
      if (this.#generated.suggestion) body.suggestion = this.#generated.suggestion;
      if (this.#generated.language) body.language = this.#generated.language;
    }
    if (this.#team) body.team = this.#team;
    if (this.#roomCheck) body.room_check = this.#roomCheck;
    if (this.#recoveryCode) body.recovery_code = this.#recoveryCode;
    // On another site the join rides on the socket's hello: one connection and one round trip.
    // On rollcall's own origin it stays an HTTP join: only an HTTP answer can set the session
    // cookie (HttpOnly) that this browser's identity rests on across reloads, and that the
    // page's beacon and the check of a revoked token use.
    if (this.#server && (await this.#joinOnSocket(body))) return;
    const [answer, event] = await Promise.all([
      this.#api(`${eventPath(this.code)}/join`, { method: "POST", body }),
      this.#api(eventPath(this.code)).catch(() => null), // the join answer has no event
    ]);
    this.#joined(answer, event);
    this.emit("participant", { participant: this.participant });
    if (event) this.emit("event", { event });
    this.#connect(answer.heartbeat_interval_s);
  }

  /** Keep what a join answered (over HTTP, or in a hello-join's welcome). */
  #joined(answer, event) {
    this.#recoveryCode = null; // used up by a move
    this.#generated = null; // named now: a rejoin gives the name
    this.#team = null; // chosen now: a rejoin keeps it
    this.#token = answer.session_token;
    this.participant = answer.participant;
    this.recoveryCode = answer.recovery_code ?? null;
    this.rejoined = Boolean(answer.rejoined);
    this.event = event ?? this.event;
    this.ended = null;
    rememberName(this.code, this.participant.display_name);
    if (this.#server) rememberToken(this.code, this.#token); // no cookie holds it for this page
  }

  /**
   * Join in the hello: true once welcomed (the socket is live), a RollcallError as the HTTP join
   * would give it when refused, false when the socket could not tell (rollcall out of reach,
   * busy, or the socket refused): the HTTP join answers then.
   */
  #joinOnSocket(body) {
    return new Promise((resolve, reject) => {
      this.#connect(null, {
        body: { event: this.code, ...body },
        answer: (message) => {
          if (message.type === ServerMessage.WELCOME) {
            this.#joined(message, message.event);
            resolve(true);
            return true;
          }
          if (message.type === ServerMessage.ERROR) {
            this.#stopLive();
            const { code, detail, errors } = message;
            const problem = errors ? { code, detail, errors } : { code, detail };
            reject(new ApiError(message.status ?? 400, problem, message.retry_after_s ?? null));
          }
          return false;
        },
        unanswered: () => {
          // After LiveSocket has scheduled its retry: stopping then cancels it.
          queueMicrotask(() => {
            this.#stopLive();
            resolve(false);
          });
        },
      });
    });
  }

  /** Leave the event for good (rollcall marks this participant `left`); `end` follows. */
  async leave() {
    // Quiet first: the server closes this session's socket with 4401 as it lets go.
    this.#stopLive();
    try {
      await this.#api("/api/session", { method: "DELETE", token: this.#token });
    } catch (error) {
      if (error.code !== "invalid_token") {
        if (!this.ended) this.#connect(this.#heartbeatS); // still in: stay live
        throw error;
      }
    }
    rememberLeft(this.code);
    this.#end(EndReason.LEFT);
  }

  /** Stop the live connection without leaving: the participant goes offline by itself. */
  close() {
    this.#stopLive();
  }

  /**
   * Send the host an action: `name` (1-32 of a-z 0-9 _ . -) and any JSON `data` up to 4 KiB.
   * `id` (1-64 of A-Z a-z 0-9 _ . : -; a random one by default) makes it count once: the same
   * id again, from a double tap or a retry, is the same action. Kept and sent again after each
   * reconnect until rollcall acknowledges it; resolves to `{ id, seq, duplicate }`, or rejects
   * with a RollcallError (`validation_error`, `action_too_large`, `participant_pending`, …).
   */
  act(name, data = null, { id = newUuid() } = {}) {
    const waiting = this.#actions.get(id);
    if (waiting) return waiting.promise;
    const action = { message: { type: ClientMessage.ACTION, id, name, data }, timer: null };
    action.promise = new Promise((resolve, reject) => {
      Object.assign(action, { resolve, reject });
    });
    if (this.ended) {
      this.#settleAction(action, null, this.#endedError());
      return action.promise;
    }
    this.#actions.set(id, action);
    this.#live?.send(action.message); // else the next welcome sends it
    return action.promise;
  }

  /** The actions not yet acknowledged, by id. */
  get pendingActions() {
    return [...this.#actions.keys()];
  }
  // --- the live connection

  #api(path, options = {}) {
    return api(path, { ...options, server: this.#server });
  }

  /**
   * Go live. With `joining` ({body, answer, unanswered}: #joinOnSocket), the first hello carries
   * the join, `answer` sees each message until it takes the welcome, and `unanswered` is told
   * when the socket closes before; every later hello says the token.
   */
  #connect(heartbeatS, joining = null) {
    this.#heartbeatS = heartbeatS;
    let join = joining;
    const live = new LiveSocket({
      server: this.#server,
      hello: () =>
        join
          ? { type: ClientMessage.HELLO, join: join.body }
          : { type: ClientMessage.HELLO, token: this.#token },
      onMessage: (message) => {
        if (join) {
          if (!join.answer(message)) return;
          join = null;
        }
        this.#onMessage(message);
      },
      onStatus: (status) => {
        if (join && (status === "reconnecting" || status === "offline")) join.unanswered();
        else this.#setConnection(status);
      },
      // LiveSocket's final closes are the participant's: 4401, 4403, 4404, 4409, 4410, 4412.
      onFinal: (closeCode) => (join ? join.unanswered() : this.#onFinal(closeCode)),
    });
    this.#live = live;
    this.#watchPage();
    live.start();
    if (heartbeatS) live.beatEvery(heartbeatS); // else the welcome says how often
  }

  #stopLive() {
    this.#live?.stop();
    this.#live = null;
    this.#unwatchPage();
    this.#setConnection("stopped");
  }

  #setConnection(status) {
    if (status === this.connection) return;
    this.connection = status;
    this.emit("connection", { status });
  }

  #onMessage(message) {
    switch (message.type) {
      case ServerMessage.WELCOME:
        this.participant = message.participant;
        this.event = message.event ?? this.event;
        if (message.heartbeat_interval_s) {
          this.#heartbeatS = message.heartbeat_interval_s;
          this.#live.beatEvery(message.heartbeat_interval_s);
        }
        if (document.visibilityState === "hidden") this.#say(ClientMessage.AWAY, "away");
        else this.#setPresence("online");
        this.emit("participant", { participant: this.participant });
        this.#showOwnState("participant");
        if (this.event) this.emit("event", { event: this.event });
        this.#setEventState(message.event_state ?? {}, message.event_state_version ?? 0);
        // A receipt sent just before a connection died may never have arrived: say it again.
        this.#reported = { event_version: 0, version: 0 };
        this.#report();
        for (const action of this.#actions.values()) this.#live.send(action.message);
        break;
      case ServerMessage.STATE:
        if (!this.participant || message.version < this.participant.version) break;
        this.participant = { ...this.participant, state: message.state, version: message.version };
        this.emit("state", { state: message.state, version: message.version });
        this.#showOwnState("state");
        this.#report();
        break;
      case ServerMessage.EVENT_STATE:
        if (message.version <= this.eventStateVersion) break;
        this.#setEventState(message.state, message.version);
        this.#report();
        break;
      case ServerMessage.ACTION_ACK: {
        const { id, seq, duplicate } = message;
        this.#settleAction(this.#actions.get(id), { id, seq, duplicate });
        break;
      }
      case ServerMessage.ERROR:
        this.#onError(message);
        break;
      case ServerMessage.RENAMED:
        this.participant = { ...this.participant, display_name: message.display_name };
        rememberName(this.code, message.display_name);
        this.emit("participant", { participant: this.participant });
        break;
      case ServerMessage.TEAM:
        this.participant = { ...this.participant, team: message.team };
        this.emit("participant", { participant: this.participant });
        break;
      case ServerMessage.EVENT:
        this.event = message.event;
        this.emit("event", { event: message.event });
        if (message.event.status === "closed") this.#end(EndReason.CLOSED);
        break;
      case ServerMessage.ADMITTED:
        this.participant = message.participant ?? { ...this.participant, status: "active" };
        rememberName(this.code, this.participant.display_name);
        this.emit("admitted", { participant: this.participant });
        this.emit("participant", { participant: this.participant });
        break;
      case ServerMessage.KICKED:
        this.#end(EndReason.KICKED);
        break;
      case ServerMessage.REPLACED:
        this.#end(EndReason.REPLACED);
        break;
      case ServerMessage.MOVED:
        this.#end(EndReason.MOVED);
        break;
      default:
        break;
    }
  }

  // --- the live channel: event state, receipts, actions

  #setEventState(state, version) {
    this.eventState = state;
    this.eventStateVersion = version;
    this.emit("event_state", { state, version });
    // The handlers have run: a page that listens has shown it.
    if (this.listens("event_state")) this.#shown.event_version = version;
  }

  #showOwnState(type) {
    if (this.listens(type) && this.participant) this.#shown.version = this.participant.version;
  }

  /** Tell rollcall what this page has shown, when that moved on. */
  #report() {
    const shown = this.#shown;
    const reported = this.#reported;
    if (shown.event_version <= reported.event_version && shown.version <= reported.version) return;
    if (this.#live?.send({ type: ClientMessage.SEEN, ...shown })) this.#reported = { ...shown };
  }

  #onError(message) {
    const action = message.id == null ? null : this.#actions.get(message.id);
    if (!action) {
      this.emit("error", { code: message.code, detail: message.detail });
      return;
    }
    if (message.code === "rate_limited") {
      // Not refused, only too fast: the same action again, once rollcall allows it.
      const delay = (message.retry_after_s ?? 1) * 1000 + Math.random() * RETRY_JITTER_MS;
      clearTimeout(action.timer);
      action.timer = setTimeout(() => this.#live?.send(action.message), delay);
      return;
    }
    const problem = { code: message.code, detail: message.detail, errors: message.errors };
    this.#settleAction(action, null, new ApiError(message.status ?? 400, problem));
  }

  #settleAction(action, ack, error = null) {
    if (!action) return;
    clearTimeout(action.timer);
    this.#actions.delete(action.message.id);
    if (error) action.reject(error);
    else action.resolve(ack);
  }

  #endedError() {
    return new ApiError(410, {
      code: "session_ended",
      detail: `The session is over (${this.ended}): rollcall takes no more actions from it.`,
    });
  }

  #onFinal(closeCode) {
    if (closeCode === Close.KICKED) return this.#end(EndReason.KICKED);
    if (closeCode === Close.EVENT_CLOSED) return this.#end(EndReason.CLOSED);
    if (closeCode === Close.REPLACED) return this.#end(EndReason.REPLACED);
    if (closeCode === Close.MOVED) return this.#end(EndReason.MOVED);
    // INVALID_TOKEN (and EVENT_NOT_FOUND, which a participant never gets): the token was revoked.
    return this.#whyRevoked(0);
  }

  /**
   * A revoked token: another tab of this browser joined again (its cookie, or on another site
   * the token kept in its storage, now holds the newer token of the same participant), or the
   * session ended elsewhere (left, or removed).
   */
  async #whyRevoked(attempt) {
    const token = this.#token;
    try {
      // This browser's newest token: the cookie's, or on another site the one kept there.
      const newest = this.#server ? { token: rememberedToken(this.code) || token } : {};
      const session = await this.#api("/api/session", newest);
      const holder = session.participant;
      const mine = holder.id === this.id && holder.status !== "left";
      return this.#endUnlessRejoined(token, mine ? EndReason.REPLACED : EndReason.REVOKED);
    } catch (error) {
      if (!error.transient) return this.#endUnlessRejoined(token, EndReason.REVOKED);
      if (attempt + 1 >= REVOKED_CHECKS) return this.#endUnlessRejoined(token, EndReason.REPLACED);
      setTimeout(() => this.#whyRevoked(attempt + 1), backoffDelay(attempt));
    }
  }

  #endUnlessRejoined(token, reason) {
    if (this.#token === token && !this.ended) this.#end(reason);
  }

  #end(reason) {
    if (this.ended) return;
    this.#stopLive();
    this.ended = reason;
    if (reason === EndReason.MOVED) rememberMoved(this.code); // a stranger to the event from now on
    if (reason === EndReason.KICKED) this.emit("kicked", {});
    for (const action of [...this.#actions.values()]) {
      this.#settleAction(action, null, this.#endedError());
    }
    this.emit("end", { reason });
  }

  // --- the page hidden, shown and left

  #say(type, presence) {
    if (this.#live?.send({ type })) this.#setPresence(presence);
    return this.presence === presence;
  }

  #setPresence(presence) {
    if (presence === this.presence) return;
    this.presence = presence;
    this.emit("presence", { presence });
  }

  #watchPage() {
    if (this.#lifecycle) return;
    const onVisibility = () => {
      if (document.visibilityState === "hidden") this.#say(ClientMessage.AWAY, "away");
      else if (!this.#say(ClientMessage.BACK, "online")) this.#live?.reconnectNow();
    };
    const onHide = () => {
      // The socket may not get its goodbye out; a beacon does, and says the page went away.
      // On another site no cookie says who: a kept-alive call carries the token instead.
      const away = { away: true };
      if (this.#server) {
        const call = { method: "POST", body: away, token: this.#token, keepalive: true };
        this.#api("/api/session/heartbeat", call).catch(() => {});
        return;
      }
      const body = new Blob([JSON.stringify(away)], { type: "application/json" });
      navigator.sendBeacon("/api/session/heartbeat", body);
    };
    const onShow = (pageEvent) => {
      if (pageEvent.persisted) this.#live?.reconnectNow(); // back from the back-forward cache
    };
    document.addEventListener("visibilitychange", onVisibility);
    addEventListener("pagehide", onHide);
    addEventListener("pageshow", onShow);
    this.#lifecycle = () => {
      document.removeEventListener("visibilitychange", onVisibility);
      removeEventListener("pagehide", onHide);
      removeEventListener("pageshow", onShow);
    };
  }

  #unwatchPage() {
    this.#lifecycle?.();
    this.#lifecycle = null;
  }
}
