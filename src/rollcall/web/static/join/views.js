// The join page's two views of its own: the name form, and "you're in" with the score.

import { el } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { scoreOf, showScore } from "../shared/score.js";
import { avatarColour, initials } from "./avatar.js";

function intro(kicker, title) {
  return el(
    "div",
    { class: "event-intro" },
    el("p", { class: "eyebrow", text: kicker }),
    el("h2", { id: "event-title", text: title, tabindex: "-1" }),
  );
}

/** Asks for a name; `onJoin(name)` runs on a submit, and `refuse(text)` says what was wrong. */
export class NameForm {
  constructor({ title, name, onJoin }) {
    this.input = el("input", {
      class: "input",
      id: "name",
      name: "name",
      required: true,
      maxlength: "32",
      autocomplete: "nickname",
      autocapitalize: "words",
      enterkeyhint: "go",
      spellcheck: "false",
      "aria-describedby": "name-hint",
    });
    this.input.value = name;
    this.error = el("p", { class: "field-error", id: "name-error", role: "alert", hidden: true });
    this.submit = el("button", { class: "btn btn-lg btn-block", type: "submit", text: "Join" });
    const form = el(
      "form",
      { class: "form", novalidate: true },
      el(
        "div",
        { class: "field" },
        el("label", { for: "name", text: "Your name" }),
        this.input,
        el("p", { class: "hint", id: "name-hint", text: "This is how the host will see you." }),
      ),
      this.error,
      this.submit,
    );
    form.addEventListener("submit", (submitEvent) => {
      submitEvent.preventDefault();
      const value = this.input.value.trim();
      if (!value) return this.refuse("Type the name you want to go by.");
      this.refuse("");
      this.submit.disabled = true;
      this.submit.textContent = "Joining…";
      onJoin(value);
    });
    this.screen = el(
      "section",
      { "data-screen": "name", "aria-labelledby": "event-title" },
      intro("You're joining", title),
      el("div", { class: "card join-card" }, form),
      el("p", {
        class: "phone-note",
        text: "One phone is one player: reload, lose your signal or scan again, and you're back as yourself.",
      }),
    );
  }

  /** Show `text` as the problem with the name (none when empty) and give the field back. */
  refuse(text) {
    this.submit.disabled = false;
    this.submit.textContent = "Join";
    this.error.textContent = text;
    this.error.hidden = !text;
    if (text) {
      this.input.setAttribute("aria-invalid", "true");
      this.input.setAttribute("aria-errormessage", "name-error");
      this.input.focus();
      this.input.select();
    } else {
      this.input.removeAttribute("aria-invalid");
    }
  }
}

/** What the server said about a refused name, in words for the person who typed it. */
export function nameProblem(error, name) {
  if (error.code === "name_taken") {
    return `Someone here already goes by “${name.trim()}”. Pick another name.`;
  }
  const message = error.problem.errors?.[0]?.message;
  return message ? `That name won't work: ${message}.` : "That name won't work. Try another.";
}

/** "You're in as …": who this phone is, whether the host sees it, its score and other state. */
export class JoinedView {
  constructor() {
    this.avatar = el("div", { class: "avatar", "aria-hidden": "true" });
    this.name = el("span", { class: "me-name" });
    this.score = el("span", { class: "score-value", "data-testid": "score" });
    this.details = el("dl", { class: "card state-list", hidden: true });
    this.title = el("p", { class: "eyebrow" });
    this.check = el("p", { class: "in-check" });
    this.checkStatus = null;
    this.note = el("p", { class: "phone-note" });
    const heading = el(
      "h2",
      { tabindex: "-1", id: "me-title" },
      el("span", { class: "me-kicker", text: "You're in as " }),
      this.name,
    );
    this.screen = el(
      "section",
      { "data-screen": "joined", "aria-labelledby": "me-title" },
      el("div", { class: "event-intro" }, this.title),
      el("div", { class: "card me" }, this.avatar, heading, this.check),
      el(
        "div",
        { class: "card score-card", role: "group", "aria-label": "Score" },
        el("span", { class: "eyebrow", text: "Score" }),
        el("output", { "aria-live": "polite" }, this.score),
      ),
      this.details,
      this.note,
    );
  }

  update({ me, event, code, connected }) {
    this.avatar.textContent = initials(me.display_name);
    this.avatar.style.background = avatarColour(me.display_name);
    this.name.textContent = me.display_name;
    this.title.textContent = event ? event.title : code;
    this.updateCheck(connected ? "connected" : "waiting");
    showScore(this.score, String(scoreOf(me.state)));
    const others = Object.entries(me.state || {}).filter(([key]) => key !== "score");
    this.details.hidden = others.length === 0;
    this.details.replaceChildren(
      ...others.flatMap(([key, value]) => [
        el("dt", { text: key.replaceAll("_", " ") }),
        el("dd", { text: typeof value === "string" ? value : JSON.stringify(value) }),
      ]),
    );
    this.note.textContent = `Keep this page open${event ? ` during ${event.title}` : ""}. If it closes, scan the code again: you'll be back as ${me.display_name}.`;
  }

  updateCheck(status) {
    if (this.checkStatus === status) return;
    this.checkStatus = status;
    this.check.dataset.status = status;
    this.check.replaceChildren(
      ...(status === "connected"
        ? [icon("check"), el("span", { text: "You're on the host's screen" })]
        : [el("span", { text: "Your place is kept while you reconnect" })]),
    );
  }
}
