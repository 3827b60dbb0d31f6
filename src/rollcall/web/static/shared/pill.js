// The connection pill: whether the live connection is up, in words and a coloured dot.

import { el } from "./dom.js";

const STATUS_TEXT = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

/** The pill's element; `pill.update(status)` takes a LiveSocket status. `texts` words each
 * status, for a page in another language. */
export function connectionPill(texts = STATUS_TEXT) {
  const label = el("span", { class: "connection-label", text: texts.connecting });
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
    label.textContent = texts[status] || status;
  };
  return pill;
}
