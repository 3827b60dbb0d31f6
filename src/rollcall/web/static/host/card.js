// One person on the dashboard: presence, name, score, and the host's buttons for them. The same
// element is a card in the card view and a row in the list view; CSS lays it out.

import { el } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { showScore } from "../shared/score.js";
import { shownScore } from "./roster.js";

export class PersonCard {
  /** `onScore(id, delta)`, `onKick(id)` and `onEdit(id)` are the host's actions on this person. */
  constructor(id, { onScore, onKick, onEdit }, tr) {
    this.tr = tr;
    this.dot = el("span", { class: "dot", "aria-hidden": "true" });
    this.name = el("span", { class: "person-name" });
    this.presence = el("span", { class: "person-presence" });
    this.team = el("span", { class: "team-chip", "data-testid": "team", hidden: true });
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
    this.edit = el(
      "button",
      {
        class: "btn btn-small btn-secondary edit",
        type: "button",
        "data-action": "edit",
        onclick: () => onEdit(id),
      },
      icon("pencil"),
    );
    this.scoreButtons = el("div", { class: "score-buttons", role: "group" }, this.minus, this.plus);
    this.actions = el("div", { class: "person-actions" }, this.scoreButtons, this.edit, this.kick);
    this.node = el(
      "li",
      { class: "card person", "data-participant-id": id },
      this.dot,
      el("div", { class: "person-who" }, this.name, el("span", {}, this.presence, this.team)),
      el("span", { class: "score" }, this.score, this.points),
      this.actions,
    );
    this.signature = null;
  }

  /** Show `entry`; `teams` maps the event's team ids to their names. */
  update(entry, closed, teams = new Map()) {
    const value = shownScore(entry);
    const team = entry.team ? (teams.get(entry.team) ?? null) : null;
    const phoneless = entry.has_phone === false && entry.category === "offline";
    // Big rooms send many messages; touch the DOM only for the card that changed.
    const signature = [entry.category, entry.display_name, value, closed, team, phoneless].join(
      "\u0000",
    );
    if (this.signature === signature) return;
    this.signature = signature;
    const { tr } = this;
    const name = entry.display_name;
    this.node.dataset.presence = entry.category;
    this.dot.dataset.presence = entry.category;
    this.name.textContent = name;
    this.name.title = name;
    this.presence.textContent = phoneless
      ? tr.t("presence.no_phone")
      : tr.t(`presence.${entry.category}`);
    this.node.dataset.phone = String(!phoneless);
    this.team.hidden = !team;
    this.team.textContent = team ? tr.t("card.team", { team }) : "";
    this.edit.setAttribute("aria-label", tr.t("card.edit_name", { name }));
    this.edit.title = tr.t("card.edit_name", { name });
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
