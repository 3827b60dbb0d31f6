// The host page's screens without a dashboard: no host key, a wrong one, no such event.

import { el } from "../shared/dom.js";
import { messageScreen } from "../shared/screens.js";

function tokenForm(onToken) {
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
    el("div", { class: "field" }, el("label", { for: "host-token", text: "Host token" }), input),
    el("button", { class: "btn btn-lg btn-block", type: "submit", text: "Open the dashboard" }),
  );
  form.addEventListener("submit", (submitEvent) => {
    submitEvent.preventDefault();
    const given = input.value.trim();
    if (!given) return input.focus();
    onToken(given);
  });
  return form;
}

function startNewEvent(className = "btn btn-secondary btn-lg") {
  return el("a", { class: className, href: "/", text: "Start a new event" });
}

/** `onToken(token)` runs when the host pastes a token into the screen's form. */
export function noTokenScreen(code, onToken) {
  return messageScreen({
    id: "no-token",
    iconName: "key",
    tone: "warn",
    title: "This browser has no host key for this event",
    lines: [
      el(
        "p",
        {},
        "The dashboard of ",
        el("strong", { text: code }),
        " opens with the host token made with the event. It is kept in the browser that created the event, and it comes in the host link that ",
        el("code", { text: "rollcall event create" }),
        " prints.",
      ),
    ],
    actions: [tokenForm(onToken), startNewEvent()],
  });
}

export function badTokenScreen(code, onToken) {
  return messageScreen({
    id: "bad-token",
    iconName: "key",
    tone: "danger",
    title: "This host key doesn't open this event",
    lines: [
      el(
        "p",
        {},
        "The key this browser had is not the host token of ",
        el("strong", { text: code }),
        ". Paste the right one, or start a new event.",
      ),
    ],
    actions: [tokenForm(onToken), startNewEvent()],
  });
}

export function unknownScreen(code) {
  return messageScreen({
    id: "unknown",
    iconName: "search",
    tone: "muted",
    title: "No event with this code",
    lines: [
      el(
        "p",
        {},
        "There is no event ",
        el("strong", { text: code || "(none)" }),
        " on this server.",
      ),
    ],
    actions: [startNewEvent("btn btn-lg")],
  });
}
