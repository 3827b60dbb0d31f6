// The host page's screens without a dashboard: no host key, a wrong one, no such event.

import { el } from "../shared/dom.js";
import { messageScreen } from "../shared/screens.js";

function tokenForm(tr, onToken) {
  const input = el("input", {
    class: "input",
    id: "host-token",
    type: "password",
    required: true,
    autocomplete: "off",
    spellcheck: "false",
  });
  const form = el(
    "form",
    { class: "form", novalidate: true },
    el(
      "div",
      { class: "field" },
      el("label", { for: "host-token", text: tr.t("key.label") }),
      input,
    ),
    el("button", { class: "btn btn-lg btn-block", type: "submit", text: tr.t("key.open") }),
  );
  form.addEventListener("submit", (submitEvent) => {
    submitEvent.preventDefault();
    const given = input.value.trim();
    if (!given) return input.focus();
    onToken(given);
  });
  return form;
}

function startNewEvent(tr, className = "btn btn-secondary btn-lg") {
  return el("a", { class: className, href: "/", text: tr.t("key.new_event") });
}

/** A sentence of the catalog with the event's code in bold where it says {code}. */
function withCode(text, code) {
  const [before, after = ""] = text.split("{code}");
  return el("p", {}, before, el("strong", { text: code, dir: "ltr" }), after);
}

/** `onToken(token)` runs when the host pastes a token into the screen's form. */
export function noTokenScreen(tr, code, onToken) {
  return messageScreen({
    id: "no-token",
    iconName: "key",
    tone: "warn",
    title: tr.t("key.none_title"),
    lines: [withCode(tr.t("key.none_text"), code)],
    actions: [tokenForm(tr, onToken), startNewEvent(tr)],
  });
}

export function badTokenScreen(tr, code, onToken) {
  return messageScreen({
    id: "bad-token",
    iconName: "key",
    tone: "danger",
    title: tr.t("key.bad_title"),
    lines: [withCode(tr.t("key.bad_text"), code)],
    actions: [tokenForm(tr, onToken), startNewEvent(tr)],
  });
}

export function unknownScreen(tr, code) {
  return messageScreen({
    id: "unknown",
    iconName: "search",
    tone: "muted",
    title: tr.t("unknown.title"),
    lines: [withCode(tr.t("unknown.text"), code || "—")],
    actions: [startNewEvent(tr, "btn btn-lg")],
  });
}
