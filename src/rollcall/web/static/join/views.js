// The join page's two views of its own: the name form, and "you're in" with the score. Each is
// drawn in the page's language (`t`); a change of language draws it again from what it holds.

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

/** A form of one field: its label, the input, a hint (the input's `aria-describedby`), an error. */
function fieldForm({ input, label, hint, error, submit }) {
  return el(
    "form",
    { class: "form", novalidate: true },
    el(
      "div",
      { class: "field" },
      el("label", { for: input.id, text: label }),
      input,
      el("p", { class: "hint", id: input.getAttribute("aria-describedby"), text: hint }),
    ),
    error,
    submit,
  );
}

/** A radio group of the event's teams (`teams`: [{id, name}]), `chosen` checked. */
function teamPicker(t, teams, chosen) {
  const options = teams.map((team) => {
    const id = `team-${team.id}`;
    return el(
      "label",
      { class: "team-option", for: id },
      el("input", {
        type: "radio",
        name: "team",
        id,
        value: team.id,
        required: true,
        checked: team.id === chosen,
      }),
      el("span", { text: team.name }),
    );
  });
  return el(
    "fieldset",
    { class: "field team-picker", "aria-describedby": "team-hint" },
    el("legend", { text: t("team.label") }),
    el("div", { class: "team-options" }, ...options),
    el("p", { class: "hint", id: "team-hint", text: t("team.hint") }),
  );
}

/**
 * Asks for a name; `onJoin(name, team)` runs on a submit, and `refuse(problem)` says what was
 * wrong (`problem`: a catalog key and its values, or null). Where the event's names are
 * generated (`generated`: {name, rerollsLeft, onReroll}), it shows the name the server offers
 * and a button for another instead of a field; where teams are chosen (`teams`), it asks for one.
 * `mayWait`: every seat is taken and the event lets newcomers wait, which it says.
 */
export class NameForm {
  constructor({
    t,
    title,
    name,
    problem = null,
    onJoin,
    onReclaim = null,
    reclaimOnly = false,
    generated = null,
    teams = [],
    team = null,
    recoveryCode = null,
    mayWait = false,
  }) {
    this.t = t;
    this.problem = null;
    this.generated = generated;
    this.picker = teams.length ? teamPicker(t, teams, team) : null;
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
    this.submit = el("button", {
      class: "btn btn-lg btn-block",
      type: "submit",
      text: t("name.submit"),
    });
    const form = generated
      ? this.generatedForm(generated)
      : fieldForm({
          input: this.input,
          label: t("name.label"),
          hint: t("name.hint"),
          error: this.error,
          submit: this.submit,
        });
    if (this.picker) form.insertBefore(this.picker, this.error);
    form.addEventListener("submit", (submitEvent) => {
      submitEvent.preventDefault();
      const value = generated ? generated.name : this.input.value.trim();
      if (!value) return this.refuse({ key: "name.empty" });
      const team = this.team;
      if (this.picker && !team) return this.refuse({ key: "team.empty" });
      this.refuse(null);
      this.submit.disabled = true;
      this.submit.textContent = t("name.submitting");
      onJoin(value, team);
    });
    this.screen = el(
      "section",
      { "data-screen": "name", "aria-labelledby": "event-title" },
      intro(t("name.kicker"), title),
      // Every seat is taken, but this event lets newcomers wait for the host.
      mayWait
        ? el("p", { class: "wait-note", "data-testid": "full-wait", text: t("name.fullWait") })
        : null,
      // A locked or full event takes no new names, but a seat can still move to this phone.
      reclaimOnly ? null : el("div", { class: "card join-card" }, form),
      onReclaim ? this.reclaimForm(onReclaim, { open: reclaimOnly, code: recoveryCode }) : null,
      el("p", { class: "phone-note", text: t("name.note") }),
    );
    if (problem) this.refuse(problem, { focus: false });
  }

  get name() {
    return this.generated ? "" : this.input.value;
  }

  /** The team picked, or null. */
  get team() {
    return this.picker?.querySelector("input:checked")?.value ?? null;
  }

  /** The offered name, large, and "Another name" while re-rolls are left. */
  generatedForm({ name, rerollsLeft, onReroll }) {
    const { t } = this;
    this.offered = el("output", {
      class: "generated-name",
      id: "generated-name",
      "aria-live": "polite",
      "data-testid": "generated-name",
      text: name,
    });
    this.reroll = el("button", {
      class: "btn btn-secondary btn-block",
      type: "button",
      "data-testid": "reroll",
      disabled: rerollsLeft <= 0,
      text: t("generated.another", { count: rerollsLeft }),
      onclick: () => {
        this.reroll.disabled = true;
        onReroll();
      },
    });
    return el(
      "form",
      { class: "form", novalidate: true },
      el(
        "div",
        { class: "field generated-field" },
        el("p", { class: "field-label", id: "generated-label", text: t("generated.label") }),
        this.offered,
        el("p", { class: "hint", text: t("generated.hint") }),
        this.reroll,
      ),
      this.error,
      this.submit,
    );
  }

  /** "Continue as someone already here": the recovery code from another phone moves a seat here. */
  reclaimForm(onReclaim, { open = false, code = null } = {}) {
    const { t } = this;
    this.codeInput = el("input", {
      class: "input input-code",
      id: "recovery-code",
      name: "recovery-code",
      maxlength: "12",
      autocomplete: "off",
      autocapitalize: "characters",
      spellcheck: "false",
      enterkeyhint: "go",
      "aria-describedby": "recovery-hint",
    });
    if (code) this.codeInput.value = code;
    this.codeError = el("p", {
      class: "field-error",
      id: "recovery-error",
      role: "alert",
      hidden: true,
    });
    this.codeSubmit = el("button", {
      class: "btn btn-secondary btn-lg btn-block",
      type: "submit",
      text: t("reclaim.submit"),
    });
    const form = fieldForm({
      input: this.codeInput,
      label: t("reclaim.label"),
      hint: t("reclaim.hint"),
      error: this.codeError,
      submit: this.codeSubmit,
    });
    form.addEventListener("submit", (submitEvent) => {
      submitEvent.preventDefault();
      const value = this.codeInput.value.trim();
      if (!value) return this.refuseCode("reclaim.empty");
      this.refuseCode(null);
      this.codeSubmit.disabled = true;
      onReclaim(value);
    });
    return el(
      "details",
      { class: "card reclaim", open },
      el("summary", { text: t("reclaim.open") }),
      form,
    );
  }

  /** Say what was wrong with the recovery code (`key` of the catalog), or nothing when null. */
  refuseCode(key) {
    this.codeSubmit.disabled = false;
    this.codeError.textContent = key ? this.t(key) : "";
    this.codeError.hidden = !key;
    if (key) {
      this.codeInput.setAttribute("aria-invalid", "true");
      this.codeInput.focus();
      this.codeInput.select();
    } else {
      this.codeInput.removeAttribute("aria-invalid");
    }
  }

  /** Show `problem` ({key, values}) as what is wrong with the name (none when null). */
  refuse(problem, { focus = true } = {}) {
    this.problem = problem;
    this.submit.disabled = false;
    this.submit.textContent = this.t("name.submit");
    this.error.textContent = problem ? this.t(problem.key, problem.values) : "";
    this.error.hidden = !problem;
    if (problem && this.generated) {
      if (focus) this.submit.focus();
    } else if (problem) {
      this.input.setAttribute("aria-invalid", "true");
      this.input.setAttribute("aria-errormessage", "name-error");
      if (focus) {
        this.input.focus();
        this.input.select();
      }
    } else {
      this.input.removeAttribute("aria-invalid");
      this.input.removeAttribute("aria-errormessage");
    }
  }
}

const MAX_NAME_LENGTH = 32;

/** What the server said about a refused name, as a catalog key for the person who typed it. */
export function nameProblem(error, name) {
  if (error.code === "name_taken") return { key: "name.taken", values: { name: name.trim() } };
  if (error.code === "name_not_allowed") return { key: "name.notAllowed" };
  // The server's reasons are in English; the page says the same in the reader's language.
  if (/\p{Cc}/u.test(name)) return { key: "name.control" };
  if (Array.from(name.normalize("NFKC").trim()).length > MAX_NAME_LENGTH) {
    return { key: "name.tooLong", values: { count: MAX_NAME_LENGTH } };
  }
  return { key: "name.invalid" };
}

/**
 * "You're in as …": who this phone is, whether the host sees it, its score and other state, and
 * the way out. `status` is "connected", "away" (the page is hidden) or "lost" (reconnecting).
 */
export class JoinedView {
  constructor({ t, n, onLeave }) {
    this.t = t;
    this.n = n;
    this.avatar = el("div", { class: "avatar", "aria-hidden": "true" });
    this.name = el("span", { class: "me-name" });
    this.score = el("span", { class: "score-value", "data-testid": "score" });
    this.details = el("dl", { class: "card state-list", hidden: true });
    this.title = el("p", { class: "eyebrow" });
    this.team = el("p", { class: "me-team", "data-testid": "team", hidden: true });
    // Whether the host sees this phone: a status, so a change is read out.
    this.check = el("p", { class: "in-check", role: "status", "data-testid": "presence" });
    this.checkStatus = null;
    this.note = el("p", { class: "phone-note" });
    this.recoveryCode = el("strong", { class: "recovery-code", "data-testid": "recovery-code" });
    this.recovery = el(
      "details",
      { class: "recovery", hidden: true },
      el("summary", { text: t("recovery.open") }),
      el("p", {}, this.recoveryCode),
      el("p", { class: "phone-note", text: t("recovery.text") }),
    );
    this.leave = el("button", {
      class: "btn btn-quiet-danger btn-block leave-button",
      type: "button",
      text: t("leave.button"),
      onclick: onLeave,
    });
    const heading = el(
      "h2",
      { tabindex: "-1", id: "me-title" },
      el("span", { class: "me-kicker", text: `${t("joined.kicker")} ` }),
      this.name,
    );
    this.screen = el(
      "section",
      { "data-screen": "joined", "aria-labelledby": "me-title" },
      el("div", { class: "event-intro" }, this.title),
      el("div", { class: "card me" }, this.avatar, heading, this.team, this.check),
      el(
        "div",
        { class: "card score-card", role: "group", "aria-labelledby": "score-label" },
        el("span", { class: "eyebrow", id: "score-label", text: t("joined.score") }),
        el("output", { "aria-live": "polite" }, this.score),
      ),
      this.details,
      this.note,
      this.recovery,
      this.leave,
    );
  }

  update({ me, event, code, status, recoveryCode = null }) {
    const { t } = this;
    this.recovery.hidden = !recoveryCode;
    this.recoveryCode.textContent = recoveryCode ?? "";
    this.avatar.textContent = initials(me.display_name);
    this.avatar.style.background = avatarColour(me.display_name);
    this.name.textContent = me.display_name;
    this.title.textContent = event ? event.title : code;
    const team = me.team ? (event?.teams ?? []).find((known) => known.id === me.team) : null;
    this.team.hidden = !team;
    this.team.textContent = team ? t("team.yours", { team: team.name }) : "";
    this.screen.dataset.status = status;
    this.updateCheck(status);
    showScore(this.score, this.n(scoreOf(me.state)));
    const others = Object.entries(me.state || {}).filter(([key]) => key !== "score");
    this.details.hidden = others.length === 0;
    this.details.replaceChildren(
      ...others.flatMap(([key, value]) => [
        el("dt", { text: key.replaceAll("_", " ") }),
        el("dd", { text: typeof value === "string" ? value : JSON.stringify(value) }),
      ]),
    );
    this.note.textContent = event
      ? t("joined.note", { title: event.title, name: me.display_name })
      : t("joined.noteNoTitle", { name: me.display_name });
  }

  updateCheck(status) {
    if (this.checkStatus === status) return;
    this.checkStatus = status;
    this.check.dataset.status = status;
    const { t } = this;
    this.check.replaceChildren(
      ...(status === "connected"
        ? [icon("check"), el("span", { text: t("joined.online") })]
        : [el("span", { text: t(status === "away" ? "joined.away" : "joined.lost") })]),
    );
  }
}
