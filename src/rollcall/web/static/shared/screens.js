// Whole-screen messages (loading, kicked, closed, …) and swapping what a page's `main` shows.

import { el } from "./dom.js";
import { icon } from "./icons.js";

/** A centred message: an icon, a heading, a line or two, and optional actions. */
export function messageScreen({ id, iconName, tone, title, lines = [], actions = [] }) {
  const heading = el("h2", { text: title, tabindex: "-1" });
  const screen = el(
    "section",
    { class: "screen", "data-screen": id, "aria-labelledby": `${id}-title` },
    iconName ? el("div", { class: "screen-icon", "data-tone": tone }, icon(iconName)) : null,
    heading,
    ...lines.map((line) => (typeof line === "string" ? el("p", { text: line }) : line)),
    actions.length ? el("div", { class: "actions" }, ...actions) : null,
  );
  heading.id = `${id}-title`;
  return screen;
}

export function loadingScreen(text) {
  return el(
    "section",
    { class: "screen", "data-screen": "loading", "aria-busy": "true" },
    el("div", { class: "spinner", role: "presentation" }),
    el("p", { role: "status", text }),
  );
}

/** Swap what `main` shows and move focus to the new heading, so screen readers hear it. */
export function show(main, screen, { focus = true } = {}) {
  main.replaceChildren(screen);
  if (focus) {
    const target = screen.querySelector("h2[tabindex='-1']");
    if (target) target.focus({ preventScroll: true });
  }
}
