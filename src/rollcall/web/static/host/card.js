// One person on the dashboard: presence, name, score, and the host's buttons for them. The same
// element is a card in the card view and a row in the list view; CSS lays it out.

import { el } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { showScore } from "../shared/score.js";
import { shownScore } from "./roster.js";

export class PersonCard {
  /** `onScore(id, delta)` and `onKick(id)` are the host's actions on this person. */
  constructor(id, { onScore, onKick }, tr) {
    this.tr = tr;
    this.dot = el("span", { class: "dot", "aria-hidden": "true" });
    this.name = el("span", { class: "person-name" });
    this.presence = el("span", { class: "person-presence" });
    this.score = el("span", {
      class: "score-number",
      "data-testid": "score",
      "aria-hidden": "true",
    });
    this.points = el("span", { class: "visually-hidden" });
    this.minus = el("button", {
      class: "icon-btn",
      type: "button",
      text: "−",
      "data-action": "minus",
      onclick: () => onScore(id, -1),
    });
    this.plus = el("button", {
      class: "icon-btn",
      type: "button",
      text: "+",
      "data-action": "plus",
      onclick: () => onScore(id, 1),
    });
    this.kickLabel = el("span", { class: "kick-label" });
    this.kick = el(
      "button",
      {
        class: "btn btn-small btn-quiet-danger kick",
        type: "button",
        "data-action": "kick",
        onclick: () => onKick(id),
      },
      icon("x"),
      this.kickLabel,
    );
    this.scoreButtons = el("div", { class: "score-buttons", role: "group" }, this.minus, this.plus);
    this.actions = el("div", { class: "person-actions" }, this.scoreButtons, this.kick);
    this.node = el(
      "li",
      { class: "card person", "data-participant-id": id },
      this.dot,
      el("div", { class: "person-who" }, this.name, this.presence),
      el("span", { class: "score" }, this.score, this.points),
      this.actions,
    );
    this.signature = null;
  }

  update(entry, closed) {
    const value = shownScore(entry);
    // Big rooms send many messages; touch the DOM only for the card that changed.
    const signature = [entry.category, entry.display_name, value, closed].join("\u0000");
    if (this.signature === signature) return;
    this.signature = signature;
    const { tr } = this;
    const name = entry.display_name;
    this.node.dataset.presence = entry.category;
    this.dot.dataset.presence = entry.category;
    this.name.textContent = name;
    this.name.title = name;
    this.presence.textContent = tr.t(`presence.${entry.category}`);
    showScore(this.score, tr.n(value));
    this.actions.hidden = closed || entry.category === "removed";
    this.scoreButtons.setAttribute("aria-label", tr.t("card.score_of", { name }));
    this.points.textContent = tr.t("card.points", { count: value });
    this.minus.setAttribute("aria-label", tr.t("card.take_point", { name }));
    this.plus.setAttribute("aria-label", tr.t("card.give_point", { name }));
    this.kickLabel.textContent = tr.t("card.remove");
    this.kick.setAttribute("aria-label", tr.t("card.remove_name", { name }));
    this.kick.title = tr.t("card.remove_name", { name });
  }
}
