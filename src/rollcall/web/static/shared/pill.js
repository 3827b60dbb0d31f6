// The connection pill: whether the live connection is up, in words and a coloured dot.

import { el } from "./dom.js";

const STATUS_TEXT = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

/** The pill's element; `pill.update(status)` takes a LiveSocket status. */
export function connectionPill() {
  const label = el("span", { class: "connection-label", text: STATUS_TEXT.connecting });
  const pill = el(
    "div",
    {
      class: "connection",
      "data-status": "connecting",
      role: "status",
      "data-testid": "connection",
    },
    el("span", { class: "dot", "aria-hidden": "true" }),
    label,
  );
  pill.update = (status) => {
    pill.dataset.status = status;
    label.textContent = STATUS_TEXT[status] || status;
  };
  return pill;
}
