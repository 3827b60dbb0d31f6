// One live connection to /ws that keeps itself up: hello, welcome, messages, and reconnects with
// exponential backoff and jitter after any close that is not final (docs/protocol.md).

import { ClientMessage, Close, ServerMessage } from "./protocol.js";

// Closes after which the same credentials would be refused again (REPLACED: another connection
// of the same participant took over; reconnecting would only take it back and start a tug of war;
// MOVED: the participant continued on another device).
const FINAL_CLOSES = [
  Close.INVALID_TOKEN,
  Close.KICKED,
  Close.EVENT_NOT_FOUND,
  Close.REPLACED,
  Close.EVENT_CLOSED,
  Close.MOVED,
];
const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 15000;
const CONNECT_TIMEOUT_MS = 10000;
// After SERVICE_RESTART or GOING_AWAY the server is usually back within seconds: retry every
// 0-1 s (full jitter) for this long instead of backing off, so a restart costs ~1 s.
const RESTART_CLOSES = [Close.GOING_AWAY, Close.SERVICE_RESTART];
const RESTART_WINDOW_MS = 30000;
const RESTART_RETRY_MS = 1000;

export function backoffDelay(attempt) {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/**
 * status is one of "connecting", "connected", "reconnecting", "offline".
 * hello() builds the first message of each connection; onMessage gets every message from the
 * welcome on; onFinal(code) is told when the server ended things for good (no reconnect).
 * server is the origin of another site's rollcall (api.js serverOrigin), or null for this page's.
 */
export class LiveSocket {
  constructor({
    hello,
    onMessage,
    onStatus = () => {},
    onFinal = () => {},
    finalCodes = FINAL_CLOSES,
    server = null,
  }) {
    this.server = server; // another site's rollcall (an origin), or null: this page's own
    this.hello = hello;
    this.finalCodes = new Set(finalCodes);
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.onFinal = onFinal;
    this.ws = null;
    this.attempt = 0;
    this.retryTimer = null;
    this.beatTimer = null;
    this.connectTimer = null;
    this.heartbeatS = null;
    this.lastHeardAt = 0;
    this.acked = false;
    this.stopped = true;
    this.status = null;
    this.onOnline = () => this.reconnectNow();
    this.onOffline = () => this.setStatus("offline");
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    addEventListener("online", this.onOnline);
    addEventListener("offline", this.onOffline);
    this.open();
  }

  stop() {
    this.stopped = true;
    removeEventListener("online", this.onOnline);
    removeEventListener("offline", this.onOffline);
    clearTimeout(this.retryTimer);
    this.stopBeating();
    this.drop();
  }

  /** Beat every `seconds`; with acks from the server, a silent connection is found dead. */
  beatEvery(seconds) {
    this.heartbeatS = seconds;
    this.stopBeating();
    this.beatTimer = setInterval(() => this.beat(), seconds * 1000);
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN && this.status === "connected") {
      this.ws.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  /** Drop whatever connection there is and make a fresh one at once (network back, page shown). */
  reconnectNow() {
    if (this.stopped) return;
    this.attempt = 0;
    clearTimeout(this.retryTimer);
    this.drop();
    this.open();
  }

  // --- internals

  open() {
    const base = new URL(this.server ?? location.href);
    const scheme = base.protocol === "https:" ? "wss:" : "ws:";
    let ws;
    try {
      ws = new WebSocket(`${scheme}//${base.host}/ws`);
    } catch {
      this.retryTimer = setTimeout(() => this.open(), backoffDelay(this.attempt++));
      return;
    }
    this.ws = ws;
    this.acked = false;
    if (this.status === null || this.status === "connecting") this.setStatus("connecting");
    else this.setStatus(navigator.onLine === false ? "offline" : "reconnecting");
    this.connectTimer = setTimeout(() => {
      if (this.ws === ws && this.status !== "connected") this.lost(ws);
    }, CONNECT_TIMEOUT_MS);
    ws.addEventListener("open", () => {
      if (this.ws === ws) ws.send(JSON.stringify(this.hello()));
    });
    ws.addEventListener("message", (event) => {
      if (this.ws !== ws) return;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      this.lastHeardAt = Date.now();
      if (message.type === ServerMessage.WELCOME) {
        clearTimeout(this.connectTimer);
        this.attempt = 0;
        this.restartingSince = null;
        this.setStatus("connected");
      } else if (message.type === ServerMessage.ACK) {
        this.acked = true;
        return;
      }
      this.onMessage(message);
    });
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      if (this.finalCodes.has(event.code)) {
        this.ws = null;
        this.stop();
        this.onFinal(event.code);
        return;
      }
      if (RESTART_CLOSES.includes(event.code)) this.restartingSince = Date.now();
      this.lost(ws);
    });
  }

  lost(ws) {
    if (this.ws !== ws) return;
    this.drop();
    if (this.stopped) return;
    this.setStatus(navigator.onLine === false ? "offline" : "reconnecting");
    const restarting =
      this.restartingSince && Date.now() - this.restartingSince < RESTART_WINDOW_MS;
    const delay = restarting ? Math.random() * RESTART_RETRY_MS : backoffDelay(this.attempt);
    this.attempt += 1;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  drop() {
    clearTimeout(this.connectTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) {
      try {
        ws.close(Close.NORMAL);
      } catch {
        // Already closing.
      }
    }
  }

  beat() {
    if (this.status !== "connected") return;
    // A server that acks heartbeats lets a dead connection be told from a quiet one.
    const silentMs = Date.now() - this.lastHeardAt;
    if (this.acked && silentMs > this.heartbeatS * 2000 + 2000) {
      this.lost(this.ws);
      return;
    }
    this.send({ type: ClientMessage.HEARTBEAT });
  }

  stopBeating() {
    clearInterval(this.beatTimer);
    this.beatTimer = null;
  }

  setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    this.onStatus(status);
  }
}
