// The join page's screens for when this phone is not (or no longer) in the event.

import { button, el } from "../shared/dom.js";
import { messageScreen } from "../shared/screens.js";

export function kickedScreen() {
  return messageScreen({
    id: "kicked",
    iconName: "ban",
    tone: "danger",
    title: "You were removed from this event",
    lines: ["The host removed you, so this phone can't join this event again."],
  });
}

export function closedScreen(event) {
  return messageScreen({
    id: "closed",
    iconName: "flag",
    tone: "muted",
    title: "This event has ended",
    lines: [event ? `${event.title} is over. Thanks for taking part!` : "Thanks for taking part!"],
  });
}

export function lockedScreen(retry) {
  return messageScreen({
    id: "locked",
    iconName: "lock",
    tone: "warn",
    title: "This event is locked",
    lines: [
      "The host isn't letting new people in right now. Ask them to unlock it, then try again.",
    ],
    actions: [button("Try again", retry)],
  });
}

export function fullScreen(event, retry) {
  return messageScreen({
    id: "full",
    iconName: "users",
    tone: "warn",
    title: "This event is full",
    lines: [
      event
        ? `All ${event.capacity} seats are taken. Ask the host to make room, then try again.`
        : "Every seat is taken. Ask the host to make room, then try again.",
    ],
    actions: [button("Try again", retry)],
  });
}

export function replacedScreen(useThisTab) {
  return messageScreen({
    id: "replaced",
    iconName: "tabs",
    title: "Open in another tab",
    lines: [
      "This phone is in the event from another tab or window. Carry on there, or use this one.",
    ],
    actions: [button("Use this tab", useThisTab)],
  });
}

/** No event has `code`: say so, and offer to type another code. */
export function unknownScreen(code) {
  const input = el("input", {
    class: "input input-code",
    id: "other-code",
    required: true,
    maxlength: "6",
    autocomplete: "off",
    autocapitalize: "characters",
    spellcheck: "false",
    "aria-label": "Event code",
    placeholder: "CODE",
  });
  const form = el(
    "form",
    { class: "join-code-form", novalidate: true },
    input,
    el("button", { class: "btn", type: "submit", text: "Join" }),
  );
  form.addEventListener("submit", (submitEvent) => {
    submitEvent.preventDefault();
    const other = input.value.trim().toUpperCase();
    if (other) location.assign(`/j/${encodeURIComponent(other)}`);
  });
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
        " here. Check the code on the host's screen.",
      ),
    ],
    actions: [form],
  });
}
