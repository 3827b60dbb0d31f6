// The join page's state, and getting in over HTTP: join, or join again at once with this
// device's id. connection.js keeps the live connection; the views and screens draw what this
// holds.

import { api } from "../shared/api.js";
import { failureScreen, RetryClock } from "../shared/failure.js";
import { loadingScreen, show } from "../shared/screens.js";
import { connect } from "./connection.js";
import { rememberedName, rememberName } from "./record.js";
import {
  closedScreen,
  fullScreen,
  kickedScreen,
  lockedScreen,
  replacedScreen,
  unknownScreen,
} from "./screens.js";
import { JoinedView, NameForm, nameProblem } from "./views.js";

// A revoked token joins again once; another revocation this soon means another tab wants it.
const REBIND_GUARD_MS = 15000;

export class JoinSession {
  constructor({ code, device, main, pill }) {
    this.code = code;
    this.device = device; // { id, isNew }
    this.main = main;
    this.pill = pill;
    this.me = null; // the participant, as the server last described it
    this.event = null;
    this.live = null;
    this.joined = null; // the "you're in" view while it shows
    this.lastRebindAt = 0;
    this.retry = new RetryClock();
  }

  get eventPath() {
    return `/api/events/${encodeURIComponent(this.code)}`;
  }

  // --- getting in

  async start() {
    this.retry.cancel();
    const known = rememberedName(this.code);
    if (known) return this.join(known);
    if (!this.device.isNew) {
      // Nothing remembered for this event, but the session cookie may still belong to it.
      try {
        const session = await api("/api/session");
        if (session.event.code === this.code && session.participant.status === "active") {
          return this.join(session.participant.display_name);
        }
      } catch {
        // No session, or another event's: a first visit here.
      }
    }
    try {
      this.event = await api(this.eventPath);
    } catch (error) {
      return this.failed(error, () => this.start());
    }
    this.setTitle();
    if (this.event.status === "closed") return this.showEnded(closedScreen(this.event));
    if (this.event.status === "locked") return this.showScreen(lockedScreen(() => this.start()));
    if (this.event.counts.seats_taken >= this.event.capacity) {
      return this.showScreen(fullScreen(this.event, () => this.start()));
    }
    this.retry.reset();
    this.showNameForm();
  }

  /** Join as `name`; `form` is the NameForm it was typed in, which hears about a refused name. */
  async join(name, { form = null } = {}) {
    this.retry.cancel();
    if (!form) {
      this.joined = null;
      show(this.main, loadingScreen("Getting you in…"), { focus: false });
    }
    let answer;
    try {
      answer = await api(`${this.eventPath}/join`, {
        method: "POST",
        body: { device_id: this.device.id, display_name: name },
      });
    } catch (error) {
      if (error.code === "name_taken" || error.code === "validation_error") {
        if (form) return form.refuse(nameProblem(error, name));
        if (!this.event) this.event = await api(this.eventPath).catch(() => null);
        return this.showNameForm({ name, problem: nameProblem(error, name) });
      }
      return this.failed(error, () => this.join(name));
    }
    this.retry.reset();
    this.me = answer.participant;
    rememberName(this.code, this.me);
    this.renderJoined();
    if (!this.event) {
      // The join answer has no event; its title fills in when this (or the welcome) comes back.
      api(this.eventPath)
        .then((described) => {
          this.event = this.event || described;
          this.renderJoined();
        })
        .catch(() => {});
    }
    connect(this, answer.heartbeat_interval_s);
  }

  failed(error, retry) {
    this.live?.stop();
    this.pill.hidden = true;
    this.joined = null;
    switch (error.code) {
      case "event_not_found":
        return this.showScreen(unknownScreen(this.code));
      case "event_closed":
        return this.showEnded(closedScreen(this.event));
      case "device_banned":
        return this.showEnded(kickedScreen());
      case "event_locked":
        return this.showScreen(lockedScreen(retry));
      case "event_full":
        return this.showScreen(fullScreen(this.event, retry));
      default:
        return this.showScreen(
          failureScreen(error, {
            retry,
            clock: this.retry,
            unreachableLines: ["Check your connection. Trying again by itself…"],
            wide: true,
          }),
        );
    }
  }

  rebind() {
    this.live?.stop();
    if (Date.now() - this.lastRebindAt < REBIND_GUARD_MS || !this.me) return this.showReplaced();
    this.lastRebindAt = Date.now();
    this.join(this.me.display_name);
  }

  // --- what shows

  setTitle() {
    document.title = this.event ? `${this.event.title} · rollcall` : "Join · rollcall";
  }

  showScreen(screen) {
    show(this.main, screen);
  }

  /** A screen after which this phone is out: no connection pill, no "you're in" view. */
  showEnded(screen) {
    this.pill.hidden = true;
    this.joined = null;
    this.showScreen(screen);
  }

  showReplaced() {
    this.showEnded(
      replacedScreen(() => {
        this.lastRebindAt = Date.now();
        this.join(this.me ? this.me.display_name : rememberedName(this.code) || "");
      }),
    );
  }

  showNameForm({ name = "", problem = "" } = {}) {
    this.joined = null;
    const form = new NameForm({
      title: this.event ? this.event.title : this.code,
      name,
      onJoin: (value) => this.join(value, { form }),
    });
    show(this.main, form.screen, { focus: false });
    if (problem) form.refuse(problem);
    else form.input.focus();
  }

  renderJoined() {
    if (!this.me) return;
    this.setTitle();
    if (!this.joined) {
      this.joined = new JoinedView();
      show(this.main, this.joined.screen);
    }
    this.joined.update({
      me: this.me,
      event: this.event,
      code: this.code,
      connected: this.live?.status === "connected",
    });
  }
}
