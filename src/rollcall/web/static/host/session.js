// The dashboard's state and what changes it: the event and roster loaded over HTTP, then the
// host's stream on /ws. A full roster comes in each welcome that is not resumed, then one
// message per change, numbered by `seq`; a reconnect passes the last seq as `since`.

import { api } from "../shared/api.js";
import { failureScreen, RetryClock } from "../shared/failure.js";
import { forgetHostToken, keepHostToken, remember } from "../shared/hostkeys.js";
import { LiveSocket } from "../shared/live.js";
import { ClientMessage, Close, HostMessage, Role, ServerMessage } from "../shared/protocol.js";
import { loadingScreen, show } from "../shared/screens.js";
import { Toast } from "../shared/toast.js";
import { Admission } from "./admission.js";
import { Dashboard } from "./dashboard.js";
import { Roster } from "./roster.js";
import { badTokenScreen, noTokenScreen, unknownScreen } from "./screens.js";

const FINAL_CLOSES = [Close.INVALID_TOKEN, Close.KICKED, Close.EVENT_NOT_FOUND, Close.EVENT_CLOSED];

export class HostSession {
  /** `cardActions` has the host's onScore(id, delta) and onKick(id) for each person's card. */
  constructor({ code, joinUrl, main, topBar, token, cardActions }) {
    this.code = code;
    this.joinUrl = joinUrl;
    this.main = main;
    this.topBar = topBar;
    this.token = token;
    this.cardActions = cardActions;
    this.event = null;
    this.seq = null; // the last message seen, for `since` on reconnect
    this.roster = new Roster();
    this.live = null;
    this.dashboard = null; // the dashboard's view while it shows
    this.retry = new RetryClock();
    this.toast = new Toast();
    this.admission = new Admission(this);
  }

  get eventPath() {
    return `/api/events/${encodeURIComponent(this.code)}`;
  }

  // --- loading

  async start() {
    this.retry.cancel();
    if (!this.token) return this.showNoToken();
    this.showMessage(loadingScreen("Opening the dashboard…"), { focus: false });
    let participants;
    try {
      [this.event, { participants }] = await Promise.all([
        api(this.eventPath),
        api(`${this.eventPath}/participants`, { token: this.token }),
      ]);
    } catch (error) {
      return this.failed(error);
    }
    this.retry.reset();
    remember(this.code, this.event.title);
    this.roster.replace(participants);
    this.render();
    if (this.event.status !== "closed") this.connect();
  }

  /** A new host token: from the token form, or a host link opened over this page. */
  useToken(given) {
    this.live?.stop();
    this.token = given;
    keepHostToken(this.code, given);
    this.start();
  }

  failed(error) {
    this.live?.stop();
    this.topBar.hideControls();
    if (error.code === "event_not_found") return this.showUnknown();
    if (error.code === "invalid_token") return this.showBadToken();
    this.showMessage(
      failureScreen(error, {
        retry: () => this.start(),
        clock: this.retry,
        unreachableLines: ["Trying again by itself…"],
      }),
    );
  }

  // --- live updates

  connect() {
    this.live?.stop();
    this.live = new LiveSocket({
      hello: () => {
        const hello = {
          type: ClientMessage.HELLO,
          role: Role.HOST,
          event: this.code,
          token: this.token,
        };
        if (this.seq !== null) hello.since = this.seq;
        return hello;
      },
      onMessage: (message) => this.onMessage(message),
      onStatus: (status) => this.topBar.pill.update(status),
      onFinal: (closeCode) => this.onFinal(closeCode),
      finalCodes: FINAL_CLOSES,
    });
    this.live.start();
  }

  onMessage(message) {
    if (message.type === ServerMessage.WELCOME) {
      this.event = message.event || this.event;
      if (!message.resumed) {
        this.roster.replace(message.participants || []);
        this.seq = message.seq;
      }
      // Resumed: every message after `since` follows; seq moves with them.
      this.render();
      return;
    }
    if (message.type === ServerMessage.ROOM_CHECK) return this.admission.onRoomCheck(message);
    if (typeof message.seq !== "number") return;
    if (this.seq !== null && message.seq <= this.seq) return; // seen already
    if (this.seq !== null && message.seq > this.seq + 1) {
      this.live.reconnectNow(); // a gap: ask again from the last one seen
      return;
    }
    this.seq = message.seq;
    this.apply(message);
  }

  apply(message) {
    if (message.type === HostMessage.EVENT_UPDATED) {
      this.event = message.event;
      if (this.event.status === "closed") this.live.stop();
    } else if (!this.roster.apply(message)) {
      return;
    }
    this.render();
  }

  onFinal(closeCode) {
    if (closeCode === Close.INVALID_TOKEN) return this.showBadToken();
    if (closeCode === Close.EVENT_NOT_FOUND) return this.showUnknown();
    if (closeCode === Close.EVENT_CLOSED) {
      this.event = { ...this.event, status: "closed" };
      return this.render();
    }
    this.failed({
      code: "closed",
      message: "The live connection ended. Reload to open it again.",
      transient: false,
    });
  }

  // --- what shows

  render() {
    if (!this.event) return;
    this.topBar.showEvent(this.event);
    if (!this.dashboard) {
      this.dashboard = new Dashboard({
        main: this.main,
        code: this.code,
        joinUrl: this.joinUrl,
        actions: this.cardActions,
      });
    }
    this.dashboard.render(this.event, this.roster);
    this.admission.render(this.dashboard, this.event, this.roster);
  }

  /** A screen instead of the dashboard. */
  showMessage(screen, options) {
    this.dashboard = null;
    this.main.dataset.view = "message";
    show(this.main, screen, options);
  }

  showNoToken() {
    this.topBar.showCode(this.code);
    this.showMessage(noTokenScreen(this.code, (given) => this.useToken(given)));
  }

  showBadToken() {
    this.live?.stop();
    forgetHostToken(this.code);
    this.token = null;
    this.topBar.showCode(this.code);
    this.showMessage(badTokenScreen(this.code, (given) => this.useToken(given)));
  }

  showUnknown() {
    this.live?.stop();
    this.topBar.showCode(this.code);
    this.showMessage(unknownScreen(this.code));
  }
}
