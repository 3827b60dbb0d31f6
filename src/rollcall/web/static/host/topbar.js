// The dashboard's top bar: the event's title and status, the connection pill, the host's controls
// (host link, attendance, lock, end), and the page's own tools (projector mode, language).

import { el } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { connectionPill } from "../shared/pill.js";

function pillTexts(tr) {
  return {
    connecting: tr.t("connection.connecting"),
    connected: tr.t("connection.connected"),
    reconnecting: tr.t("connection.reconnecting"),
    offline: tr.t("connection.offline"),
  };
}

function smallButton(className, testid, onclick) {
  return el("button", {
    class: `btn btn-small ${className}`,
    type: "button",
    "data-testid": testid,
    onclick,
  });
}

export class TopBar {
  /** `onLock()`, `onEnd()`, `onHostLink()`, `onAttendance()` and `onProjector()` run when those
   * are pressed. */
  constructor({ tr, onLock, onEnd, onHostLink, onAttendance, onProjector }) {
    this.tr = tr;
    this.title = document.getElementById("event-title");
    this.badge = document.getElementById("status-badge");
    this.controls = document.getElementById("controls");
    this.tools = document.getElementById("page-tools");
    this.pill = connectionPill(pillTexts(tr));
    this.hostLinkButton = smallButton("btn-secondary", "host-link", onHostLink);
    this.attendanceButton = smallButton("btn-secondary", "attendance", onAttendance);
    this.lockButton = smallButton("btn-secondary", "lock", onLock);
    this.endButton = smallButton("btn-quiet-danger", "end", onEnd);
    this.projectorButton = smallButton("btn-secondary projector-toggle", "projector", onProjector);
    this.projectorButton.hidden = true;
    this.controls.append(
      this.pill,
      this.hostLinkButton,
      this.attendanceButton,
      this.lockButton,
      this.endButton,
    );
    this.tools.prepend(this.projectorButton);
    this.event = null;
    this.code = null;
    this.words();
  }

  /** The page's language changed. */
  retranslate(tr) {
    this.tr = tr;
    const pill = connectionPill(pillTexts(tr));
    pill.update(this.pill.dataset.status);
    pill.hidden = this.pill.hidden;
    this.pill.replaceWith(pill);
    this.pill = pill;
    this.words();
    if (this.event) this.redraw(this.event);
    else if (this.code) this.showCode(this.code);
  }

  words() {
    const { tr } = this;
    this.hostLinkButton.replaceChildren(
      icon("link"),
      el("span", { text: tr.t("topbar.host_link") }),
    );
    this.attendanceButton.replaceChildren(
      icon("download"),
      el("span", { text: tr.t("topbar.attendance") }),
    );
    this.attendanceButton.title = tr.t("topbar.attendance_hint");
    this.endButton.replaceChildren(icon("end"), el("span", { text: tr.t("topbar.end") }));
    this.projectorButton.replaceChildren(
      icon("projector"),
      el("span", { text: tr.t("topbar.projector") }),
    );
    this.projectorButton.title = tr.t("topbar.projector_hint");
  }

  showEvent(event) {
    // Called on every draw: touch the bar only when what it shows changed.
    if (this.event && event.status === this.event.status && event.title === this.event.title) {
      return;
    }
    this.redraw(event);
  }

  redraw(event) {
    const { tr } = this;
    this.event = event;
    this.title.textContent = event.title;
    document.title = tr.t("page.title_event", { title: event.title });
    this.badge.hidden = false;
    this.badge.className = `badge badge-${event.status}`;
    this.badge.textContent = tr.t(`event_status.${event.status}`);
    const closed = event.status === "closed";
    this.controls.hidden = false;
    this.projectorButton.hidden = false;
    this.pill.hidden = closed;
    this.hostLinkButton.hidden = closed;
    this.lockButton.hidden = closed;
    this.endButton.hidden = closed;
    const locked = event.status === "locked";
    this.lockButton.replaceChildren(
      icon(locked ? "unlock" : "lock"),
      el("span", { text: locked ? tr.t("topbar.unlock") : tr.t("topbar.lock") }),
    );
    this.lockButton.title = locked ? tr.t("topbar.unlock_hint") : tr.t("topbar.lock_hint");
  }

  /** Projector mode on or off, as the button says. */
  showProjector(on) {
    this.projectorButton.setAttribute("aria-pressed", String(on));
  }

  /** No dashboard to control: only the event's code as the title. */
  showCode(code) {
    this.code = code;
    this.event = null;
    this.controls.hidden = true;
    this.projectorButton.hidden = true;
    this.badge.hidden = true;
    this.title.textContent = code;
    document.title = this.tr.t("page.title");
  }

  hideControls() {
    this.controls.hidden = true;
  }
}
