// One person on the dashboard: presence, name, score, and the host's buttons for them.

import { el } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { showScore } from "../shared/score.js";
import { shownScore } from "./roster.js";

export const PRESENCE_TEXT = {
  online: "Online",
  away: "Away",
  offline: "Offline",
  left: "Left",
  kicked: "Removed",
};

export class PersonCard {
  /** `onScore(id, delta)` and `onKick(id)` are the host's actions on this person. */
  constructor(id, { onScore, onKick }) {
    this.dot = el("span", { class: "dot", "aria-hidden": "true" });
    this.name = el("span", { class: "person-name" });
    this.presence = el("span", { class: "person-presence" });
    this.score = el("span", { class: "score", "data-testid": "score" });
    this.minus = el("button", {
      class: "icon-btn",
      type: "button",
      text: "−",
      onclick: () => onScore(id, -1),
    });
    this.plus = el("button", {
      class: "icon-btn",
      type: "button",
      text: "+",
      onclick: () => onScore(id, 1),
    });
    this.kick = el(
      "button",
      { class: "btn btn-small btn-quiet-danger kick", type: "button", onclick: () => onKick(id) },
      icon("x"),
      el("span", { text: "Remove" }),
    );
    this.scoreButtons = el("div", { class: "score-buttons", role: "group" }, this.minus, this.plus);
    this.actions = el("div", { class: "person-actions" }, this.scoreButtons, this.kick);
    this.node = el(
      "li",
      { class: "card person", "data-participant-id": id },
      this.dot,
      el("div", { class: "person-who" }, this.name, this.presence),
      this.score,
      this.actions,
    );
    this.signature = null;
  }

  update(entry, closed) {
    const value = String(shownScore(entry));
    // Big rooms send many messages; touch the DOM only for the card that changed.
    const signature = [entry.presence, entry.status, entry.display_name, value, closed].join(
      "\u0000",
    );
    if (this.signature === signature) return;
    this.signature = signature;
    const name = entry.display_name;
    this.node.dataset.presence = entry.presence;
    this.dot.dataset.presence = entry.presence;
    this.name.textContent = name;
    this.name.title = name;
    this.presence.textContent = PRESENCE_TEXT[entry.presence] || entry.presence;
    showScore(this.score, value);
    this.actions.hidden = closed || entry.status === "kicked";
    this.scoreButtons.setAttribute("aria-label", `Score of ${name}`);
    this.score.setAttribute("aria-label", `${value} ${value === "1" ? "point" : "points"}`);
    this.minus.setAttribute("aria-label", `Take a point from ${name}`);
    this.plus.setAttribute("aria-label", `Give ${name} a point`);
    this.kick.setAttribute("aria-label", `Remove ${name}`);
    this.kick.title = `Remove ${name}`;
  }
}
