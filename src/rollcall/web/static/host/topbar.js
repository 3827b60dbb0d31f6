// The dashboard's top bar: the event's title and status, the connection pill, lock and end.

import { el } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { connectionPill } from "../shared/pill.js";

const STATUS_TEXT = { open: "Open", locked: "Locked", closed: "Ended" };

export class TopBar {
  /** `onLock()` and `onEnd()` run when the host presses those buttons. */
  constructor({ onLock, onEnd }) {
    this.title = document.getElementById("event-title");
    this.badge = document.getElementById("status-badge");
    this.controls = document.getElementById("controls");
    this.pill = connectionPill();
    this.lockButton = el("button", {
      class: "btn btn-secondary btn-small",
      type: "button",
      onclick: onLock,
    });
    this.endButton = el(
      "button",
      { class: "btn btn-quiet-danger btn-small", type: "button", onclick: onEnd },
      icon("end"),
      el("span", { text: "End event" }),
    );
    this.controls.append(this.pill, this.lockButton, this.endButton);
  }

  showEvent(event) {
    this.title.textContent = event.title;
    document.title = `${event.title} · rollcall`;
    this.badge.hidden = false;
    this.badge.className = `badge badge-${event.status}`;
    this.badge.textContent = STATUS_TEXT[event.status];
    const closed = event.status === "closed";
    this.controls.hidden = false;
    this.pill.hidden = closed;
    this.lockButton.hidden = closed;
    this.endButton.hidden = closed;
    const locked = event.status === "locked";
    this.lockButton.replaceChildren(
      icon(locked ? "unlock" : "lock"),
      el("span", { text: locked ? "Unlock" : "Lock" }),
    );
    this.lockButton.setAttribute(
      "aria-label",
      locked ? "Unlock: let new people join" : "Lock: only people already in can come back",
    );
  }

  /** No dashboard to control: only the event's code as the title. */
  showCode(code) {
    this.controls.hidden = true;
    this.title.textContent = code;
  }

  hideControls() {
    this.controls.hidden = true;
  }
}
