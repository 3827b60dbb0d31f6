// The dashboard's state and what changes it: the event and roster loaded over HTTP, then the
// host's stream on /ws, followed by the SDK's host client (sdk/host.js: welcome, `seq`, `since`
// on reconnect, gaps), which applies each message to this page's roster. However fast messages
// come, the page is drawn at most once an animation frame.

import { Host } from "/sdk/rollcall.js";
import { api } from "../shared/api.js";
import { failureScreen, RetryClock } from "../shared/failure.js";
import {
  forgetHostToken,
  hostToken,
  isUnsaved,
  keepHostToken,
  remember,
} from "../shared/hostkeys.js";
import { HostMessage } from "../shared/protocol.js";
import { ROSTER_MESSAGES } from "../shared/roster.js";
import { loadingScreen, show } from "../shared/screens.js";
import { Toast } from "../shared/toast.js";
import { Admission } from "./admission.js";
import { Announcer } from "./announcer.js";
import { Dashboard } from "./dashboard.js";
import { HostLinkActions, hostLinkDialog, hostLinkNotice } from "./hostlink.js";
import { RosterQuery } from "./query.js";
import { Receipts } from "./receipts.js";
import { Roster } from "./roster.js";
import { badTokenScreen, noTokenScreen, unknownScreen } from "./screens.js";
import { Teams } from "./teams.js";

/** Problem codes the page words itself; any other shows the server's own detail. */
const REASONS = {
  network_error: "error.network",
  service_unavailable: "error.unavailable",
  rate_limited: "error.rate_limited",
  event_closed: "error.closed",
};

export class HostSession {
  /**
   * `cardActions` has the host's onScore(id, delta), onKick(id) and onEdit(id) for each person;
   * `offered`
   * is a host token from a link or the token form, not yet known to open the event.
   */
  constructor({ code, joinUrl, main, topBar, tr, offered, cardActions }) {
    this.code = code;
    this.joinUrl = joinUrl;
    this.main = main;
    this.topBar = topBar;
    this.tr = tr;
    this.offered = offered;
    this.token = null; // the host token that opened the event
    this.cardActions = cardActions;
    this.event = null;
    this.roster = new Roster();
    this.query = new RosterQuery(tr.locale);
    this.host = null; // the SDK's host client: the stream on /ws, kept in `roster`
    this.dashboard = null; // the dashboard's view while it shows
    this.screen = null; // else a function that builds the screen shown
    this.frame = 0;
    this.focusDashboard = false;
    this.retry = new RetryClock();
    this.toast = new Toast();
    this.announcer = new Announcer(tr);
    this.admission = new Admission(this);
    this.teams = new Teams(this);
    this.receipts = new Receipts(this);
  }

  get eventPath() {
    return `/api/events/${encodeURIComponent(this.code)}`;
  }

  /** The words for a failed call: ours for the usual problems, else the server's. */
  reason(error) {
    const key = REASONS[error.code];
    return key ? this.tr.t(key) : error.message;
  }

  // --- loading

  /**
   * Open the event with the offered key, else with the one this browser keeps. An offered key is
   * kept only once it has opened the event, and a refused one never replaces or deletes a key
   * that works (a link with a wrong key can't take the host's event away).
   */
  async start() {
    this.retry.cancel();
    const offered = this.offered;
    const stored = hostToken(this.code);
    const keys = [...new Set([offered, stored].filter(Boolean))];
    if (!keys.length) return this.showNoToken();
    this.showMessage(() => loadingScreen(this.tr.t("loading")), { focus: false });
    let participants = null;
    let refused = false;
    try {
      this.event = await api(this.eventPath);
      for (const key of keys) {
        try {
          ({ participants } = await api(`${this.eventPath}/participants`, { token: key }));
          this.token = key;
          break;
        } catch (error) {
          if (error.code !== "invalid_token") throw error;
          refused = true;
          if (key === stored) forgetHostToken(this.code); // it was the one that failed
        }
      }
    } catch (error) {
      return this.failed(error);
    }
    this.offered = null;
    if (!participants) return this.showBadToken();
    if (this.token === offered && offered !== stored) keepHostToken(this.code, offered);
    if (refused && offered) this.toast.show(this.tr.t("key.link_refused"));
    this.retry.reset();
    remember(this.code, this.event.title);
    this.roster.replace(participants);
    this.screen = null;
    this.renderNow();
    if (this.event.status !== "closed") this.connect();
  }

  /** A host token from the token form, or from a host link opened over this page. */
  useToken(given) {
    this.host?.close();
    this.offered = given;
    this.focusDashboard = true;
    this.start();
  }

  failed(error) {
    this.host?.close();
    this.topBar.hideControls();
    if (error.code === "event_not_found") return this.showUnknown();
    this.showMessage(() =>
      failureScreen(error, {
        retry: () => this.start(),
        clock: this.retry,
        unreachableLines: [this.tr.t("failure.retrying")],
        words: {
          unreachable: this.tr.t("failure.unreachable"),
          tryNow: this.tr.t("failure.try_now"),
          broken: this.tr.t("failure.broken"),
          tryAgain: this.tr.t("failure.try_again"),
        },
      }),
    );
  }

  // --- live updates

  connect() {
    this.host?.close();
    const host = new Host(this.code, this.token, {
      since: null,
      participants: [],
      roster: this.roster.store,
    });
    this.host = host;
    host.ready.catch(() => {}); // a refusal comes as "end" too
    host.on("connection", ({ status }) => this.topBar.pill.update(status));
    host.on("roster", () => {
      if (host.event) this.setEvent(host.event);
      this.render();
    });
    host.on("message", (message) => this.apply(message));
    host.on("room_check", (message) => this.admission.onRoomCheck(message));
    host.on("receipts", (receipts) => this.receipts.update(receipts));
    host.on("end", ({ reason }) => this.ended(reason));
  }

  /** A message of the host's stream, already applied to the roster by the SDK's Host. */
  apply(message) {
    if (message.type === HostMessage.EVENT_UPDATED) {
      this.setEvent(message.event);
      return;
    }
    if (message.type === HostMessage.EVENT_STATE) {
      this.event = { ...this.event, state: message.state, state_version: message.version };
      this.render();
      return;
    }
    if (!ROSTER_MESSAGES.has(message.type)) return;
    const entry = this.roster.get(message.participant?.id ?? message.participant_id);
    if (entry) {
      const before = entry.category; // the group it was in: touch() works out the new one
      this.roster.touch(entry);
      this.announcer.change(before, entry);
    }
    this.render();
  }

  /** The event as the server now describes it; a change of status is announced. */
  setEvent(event) {
    const before = this.event?.status;
    this.event = event;
    if (before && before !== event.status) {
      this.announcer.say(this.tr.t(`announce.event_${event.status}`));
    }
    if (event.status === "closed") {
      this.host?.close();
      if (before !== "closed") this.endedFocus = true;
    }
    this.render();
  }

  /** The stream stopped for good: the key was refused, the event is gone or over. */
  ended(reason) {
    if (reason === "invalid_token") return this.showBadToken();
    if (reason === "event_not_found") return this.showUnknown();
    if (reason === "event_closed") return this.setEvent({ ...this.event, status: "closed" });
    this.failed({
      code: "closed",
      message: this.tr.t("failure.ended_connection"),
      transient: false,
    });
  }

  // --- what shows

  /** Draw at the next animation frame, once however many changes come before it. */
  render() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.renderNow();
    });
  }

  renderNow() {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    if (!this.event || this.screen) return;
    this.topBar.showEvent(this.event);
    if (!this.dashboard) this.dashboard = this.buildDashboard();
    this.dashboard.render(this.event, this.roster);
    this.admission.render(this.dashboard, this.event, this.roster);
    this.teams.render(this.dashboard, this.event, this.roster);
    this.receipts.render(this.dashboard, this.event);
    if (this.focusDashboard) {
      this.focusDashboard = false;
      this.dashboard.focusHeading();
    }
    if (this.endedFocus) {
      this.endedFocus = false;
      // The buttons that ended it are gone; the banner saying so takes focus.
      const lost =
        document.activeElement === document.body || !document.activeElement?.offsetParent;
      if (lost) this.dashboard.focusBanner();
    }
  }

  buildDashboard() {
    const notice =
      isUnsaved(this.code) && this.event.status !== "closed"
        ? hostLinkNotice(this.hostLinkActions(), () => this.dashboard?.focusHeading())
        : null;
    return new Dashboard({
      main: this.main,
      code: this.code,
      joinUrl: this.joinUrl,
      actions: this.cardActions,
      tr: this.tr,
      query: this.query,
      changed: () => this.render(),
      hostLinkNotice: notice,
    });
  }

  hostLinkActions() {
    return new HostLinkActions({
      tr: this.tr,
      code: this.code,
      title: this.event.title,
      token: this.token,
      toast: this.toast,
    });
  }

  openHostLink() {
    if (this.token && this.event) hostLinkDialog(this.hostLinkActions());
  }

  /** A screen instead of the dashboard; `build()` makes it (again after a change of language). */
  showMessage(build, options) {
    this.dashboard?.destroy();
    this.dashboard = null;
    this.screen = build;
    this.main.dataset.view = "message";
    delete this.main.dataset.layout;
    show(this.main, build(), options);
  }

  showNoToken() {
    this.topBar.showCode(this.code);
    this.showMessage(() => noTokenScreen(this.tr, this.code, (given) => this.useToken(given)));
  }

  showBadToken() {
    this.host?.close();
    if (this.token && this.token === hostToken(this.code)) forgetHostToken(this.code);
    this.token = null;
    this.topBar.showCode(this.code);
    this.showMessage(() => badTokenScreen(this.tr, this.code, (given) => this.useToken(given)));
  }

  showUnknown() {
    this.host?.close();
    this.topBar.showCode(this.code);
    this.showMessage(() => unknownScreen(this.tr, this.code));
  }

  /** The page's language changed: every word again, in the new one. */
  retranslate(tr) {
    this.tr = tr;
    this.announcer.tr = tr;
    this.query.setLocale(tr.locale);
    this.topBar.retranslate(tr);
    if (this.screen) {
      this.retry.cancel(); // a failure screen schedules its retry again
      show(this.main, this.screen(), { focus: false });
      return;
    }
    this.dashboard?.destroy();
    this.dashboard = null;
    this.renderNow();
  }
}
