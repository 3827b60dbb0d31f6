// The join page on top of the SDK (/sdk/rollcall.js): get in (join again at once when this phone
// is already in, else ask for a name), then show what the participant's session says. The page
// remembers which screen it shows and with what, so a change of language draws it again.

import { EndReason, getEvent, join, lastName, movedAway, suggestName } from "/sdk/rollcall.js";
import { confirmDialog } from "../shared/dialog.js";
import { RetryClock } from "../shared/failure.js";
import { loadingScreen, show } from "../shared/screens.js";
import { Toast } from "../shared/toast.js";
import { SCREENS } from "./screens.js";
import { JoinedView, NameForm, nameProblem } from "./views.js";

const NAME_PROBLEMS = new Set(["name_taken", "name_not_allowed", "validation_error"]);
/** Refusals that mean the event's settings changed since the form was drawn: draw it again. */
const CHANGED_SETTINGS = new Set([
  "team_not_found",
  "team_choice_off",
  "names_generated",
  "generated_names_off",
]);
/** How many times the page offers another generated name. */
const REROLLS = 3;

/** Where each way out of the event leads. */
const END_SCREENS = {
  [EndReason.KICKED]: "kicked",
  [EndReason.CLOSED]: "closed",
  [EndReason.REPLACED]: "replaced",
  [EndReason.MOVED]: "moved",
  [EndReason.LEFT]: "left",
  [EndReason.REVOKED]: "revoked",
};

/** Refusals of a join that have a screen of their own. */
const REFUSAL_SCREENS = {
  event_not_found: "unknown",
  event_closed: "closed",
  device_banned: "kicked",
  event_locked: "locked",
  event_full: "full",
};

/** Refusals of a recovery code, said next to its field. */
const RECLAIM_PROBLEMS = {
  recovery_code_invalid: "reclaim.invalid",
  validation_error: "reclaim.invalid",
  reclaim_disabled: "reclaim.disabled",
  rate_limited: "reclaim.tooMany",
};

export class JoinPage {
  constructor({ code, main, pill, words, translator, roomCheck = null, recover = null }) {
    this.code = code;
    this.main = main;
    this.pill = pill;
    this.pillWords = words; // the pill's words, refilled when the language changes
    this.translator = translator;
    this.roomCheck = roomCheck;
    this.recover = recover; // a recovery code from the link (the host's QR of a seat)
    this.participant = null; // the SDK's Participant once in
    this.event = null;
    this.shown = null; // what `main` shows: { name, actions } of a screen, or a view's name
    this.form = null; // the NameForm while it shows
    this.joined = null; // the JoinedView while it shows
    this.offered = null; // where names are generated: the name offered, and re-rolls left
    this.team = null; // the team picked in the form
    this.retry = new RetryClock();
    this.toast = new Toast();
    this.t = (key, values) => this.translator.t(key, values);
  }

  /** Speak another language: the words of whatever shows, drawn again where they are. */
  setTranslator(translator) {
    this.translator = translator;
    this.fillPillWords();
    this.pill.update(this.pill.dataset.status);
    if (this.offered && this.shown === "name") {
      // The offered name in the new language's words; no re-roll spent.
      this.offerName(this.offered.rerollsLeft);
      return;
    }
    this.draw({ focus: false });
  }

  fillPillWords() {
    for (const status of ["connecting", "connected", "reconnecting", "offline"]) {
      this.pillWords[status] = this.t(`connection.${status}`);
    }
  }

  // --- getting in

  async start() {
    this.retry.cancel();
    // This phone's seat moved to another phone: it stays out until someone here joins anew.
    if (movedAway(this.code) && !this.participant) {
      return this.showScreen("moved", { joinNew: () => this.joinNew() });
    }
    this.showLoading();
    try {
      return this.entered(await join(this.code, null, this.joinOptions()));
    } catch (error) {
      if (error.code !== "name_required") return this.failed(error, () => this.start());
    }
    try {
      this.event = await getEvent(this.code);
    } catch (error) {
      return this.failed(error, () => this.start());
    }
    this.retry.reset();
    if (this.event.status === "closed") return this.showScreen("closed");
    // A seat's QR: this phone is offered that seat, whatever else the event takes just now.
    if (this.recover) return this.showReclaimForm();
    const refused = { retry: () => this.start(), reclaim: () => this.showReclaimForm() };
    if (this.event.status === "locked") return this.showScreen("locked", refused);
    // Every seat taken (the server says so): where the host lets people in, a newcomer may
    // still join and wait for a seat; elsewhere the join would be refused.
    if (this.event.counts.full && this.event.admission !== "approval") {
      return this.showScreen("full", refused);
    }
    this.askName(lastName(this.code) || "");
  }

  /** The name form: a field, or where names are generated, a name the server offers. */
  askName(name, problem = null) {
    if (this.event?.names === "generated") return this.offerName(REROLLS, problem);
    this.offered = null;
    this.showNameForm({ name, problem });
  }

  /** Ask the server for a name to offer (free in the event just now) and show it. */
  async offerName(rerollsLeft, problem = null) {
    let name;
    try {
      name = await suggestName(this.code, this.translator.locale);
    } catch (error) {
      return this.failed(error, () => this.offerName(rerollsLeft, problem));
    }
    this.offered = { name, rerollsLeft };
    this.showNameForm({ problem });
  }

  /** Join as `name` (typed, or offered), in `team` where the event asks for one. */
  async joinAs(name, team = null) {
    this.retry.cancel();
    this.team = team;
    const form = this.shown === "name" ? this.form : null;
    if (!form) this.showLoading();
    const options = { ...this.joinOptions(), team };
    if (this.offered) {
      options.generated = { suggestion: name, language: this.translator.locale };
    }
    let participant;
    try {
      participant = await join(this.code, this.offered ? null : name, options);
    } catch (error) {
      if (CHANGED_SETTINGS.has(error.code)) {
        this.event = await getEvent(this.code).catch(() => this.event);
        return this.askName(name, { key: "settings.changed" });
      }
      if (!NAME_PROBLEMS.has(error.code)) return this.failed(error, () => this.joinAs(name, team));
      if (form) return form.refuse(nameProblem(error, name));
      if (!this.event) this.event = await getEvent(this.code).catch(() => null);
      return this.askName(name, nameProblem(error, name));
    }
    this.offered = null;
    this.entered(participant);
  }

  /** After a move: this phone joins as someone new, with a name of its own. */
  async joinNew() {
    this.retry.cancel();
    this.showLoading();
    try {
      this.event = await getEvent(this.code);
    } catch (error) {
      return this.failed(error, () => this.joinNew());
    }
    this.askName("");
  }

  /** "Continue as someone already here": move that participant's seat to this phone. */
  async reclaim(recoveryCode) {
    this.retry.cancel();
    const form = this.form;
    // The seat keeps its own name; the join body needs one all the same.
    const name = form?.name.trim() || lastName(this.code) || "guest";
    let participant;
    try {
      participant = await join(this.code, name, { ...this.joinOptions(), recoveryCode });
    } catch (error) {
      const key = RECLAIM_PROBLEMS[error.code];
      if (key && form) return form.refuseCode(key);
      return this.failed(error, () => this.reclaim(recoveryCode));
    }
    this.entered(participant);
  }

  /** Come back in as the same participant (after leaving, or to take over from another tab). */
  async rejoin() {
    this.retry.cancel();
    this.showLoading();
    try {
      await this.participant.rejoin();
    } catch (error) {
      return this.failed(error, () => this.rejoin());
    }
    this.retry.reset();
    this.render();
  }

  joinOptions() {
    return this.roomCheck ? { roomCheck: this.roomCheck } : {};
  }

  /** In: follow what the participant's session says from now on. */
  entered(participant) {
    this.retry.reset();
    this.participant?.close();
    this.participant = participant;
    this.event = participant.event ?? this.event;
    participant.on("connection", ({ status }) => {
      if (status === "stopped") return;
      this.pill.update(status);
      this.pill.hidden = false;
      this.refreshJoined();
    });
    participant.on("presence", () => this.refreshJoined());
    participant.on("state", () => this.refreshJoined());
    participant.on("participant", () => this.render());
    participant.on("event", ({ event }) => {
      this.event = event;
      this.setTitle();
      this.refreshJoined();
    });
    participant.on("end", ({ reason }) => this.ended(reason));
    if (participant.connection !== "stopped") {
      this.pill.update(participant.connection);
      this.pill.hidden = false;
    }
    this.render();
  }

  ended(reason) {
    this.pill.hidden = true;
    const actions = {
      takeOver: () => this.rejoin(),
      joinAgain: () => this.rejoin(),
      joinNew: () => this.joinNew(),
    };
    this.showScreen(END_SCREENS[reason] ?? "revoked", actions);
  }

  async confirmLeave() {
    const { t } = this;
    const title = this.event
      ? t("leave.title", { title: this.event.title })
      : t("leave.titleNoEvent");
    const leaving = await confirmDialog({
      title,
      text: t(this.participant.waiting ? "leave.textWaiting" : "leave.text"),
      confirm: t("leave.confirm"),
      cancel: t("leave.cancel"),
    });
    if (!leaving) return;
    try {
      await this.participant.leave(); // its `end` shows the "you left" screen
    } catch {
      this.toast.show(t("leave.failed"));
    }
  }

  failed(error, retry) {
    this.participant?.close();
    this.pill.hidden = true;
    const screen = REFUSAL_SCREENS[error.code];
    if (screen) return this.showScreen(screen, { retry, reclaim: () => this.showReclaimForm() });
    if (!error.transient) return this.showScreen("error", { retry });
    this.retry.schedule(error, retry);
    return this.showScreen("unreachable", { retry });
  }

  // --- what shows

  setTitle() {
    const { t } = this;
    document.title = this.event
      ? t("page.titleEvent", { title: this.event.title })
      : t("page.title");
  }

  showLoading() {
    this.shown = "loading";
    this.draw({ focus: false });
  }

  showScreen(name, actions = {}) {
    this.shown = { name, actions };
    this.draw();
  }

  /** Only "continue as someone already here": the event takes no new names just now. */
  showReclaimForm() {
    this.shown = "reclaim";
    this.form = null;
    this.draw();
  }

  showNameForm({ name = "", problem = null } = {}) {
    this.shown = "name";
    this.form = null;
    this.draw({ name, problem });
  }

  /** The participant's screen: waiting for the host, or "you're in". */
  render() {
    if (!this.participant || this.participant.ended) return;
    if (this.participant.waiting) {
      if (this.shown?.name !== "waiting") {
        this.showScreen("waiting", { leave: () => this.confirmLeave() });
      }
      return;
    }
    if (this.shown !== "joined") {
      this.shown = "joined";
      this.draw();
    } else {
      this.refreshJoined();
    }
  }

  /** Draw what `shown` says, in the page's language; focus the new heading unless told not to. */
  draw({ focus = true, name = this.form?.name ?? "", problem = this.form?.problem ?? null } = {}) {
    const { t } = this;
    this.setTitle();
    this.form = null;
    this.joined = null;
    if (this.shown === "loading") {
      show(this.main, loadingScreen(t("loading")), { focus: false });
    } else if (this.shown === "name" || this.shown === "reclaim") {
      const reclaimOnly = this.shown === "reclaim";
      const teams = this.event?.team_mode === "choose" ? (this.event.teams ?? []) : [];
      const offered = this.offered;
      this.form = new NameForm({
        t,
        title: this.event ? this.event.title : this.code,
        name,
        problem,
        onJoin: (value, team) => this.joinAs(value, team),
        onReclaim: (value) => this.reclaim(value),
        reclaimOnly,
        recoveryCode: this.recover,
        mayWait: !reclaimOnly && Boolean(this.event?.counts?.full),
        teams: reclaimOnly ? [] : teams,
        team: this.team,
        generated:
          offered && !reclaimOnly
            ? {
                name: offered.name,
                rerollsLeft: offered.rerollsLeft,
                onReroll: () => {
                  this.team = this.form?.team ?? this.team;
                  this.offerName(offered.rerollsLeft - 1);
                },
              }
            : null,
      });
      // The name form's purpose is its field: focus goes there (typing can start at once).
      show(this.main, this.form.screen, { focus: false });
      if (focus && reclaimOnly) {
        this.form.codeInput.focus();
      } else if (focus && offered) {
        (this.form.reroll.disabled ? this.form.submit : this.form.reroll).focus();
      } else if (focus) {
        this.form.input.focus();
        if (problem) this.form.input.select();
      }
    } else if (this.shown === "joined") {
      this.joined = new JoinedView({
        t,
        n: (value) => this.translator.n(value),
        onLeave: () => this.confirmLeave(),
      });
      this.refreshJoined();
      show(this.main, this.joined.screen, { focus });
    } else if (this.shown) {
      const context = {
        t,
        event: this.event,
        code: this.code,
        name: this.participant?.name ?? null,
      };
      show(this.main, SCREENS[this.shown.name](context, this.shown.actions), { focus });
    }
  }

  refreshJoined() {
    const { joined, participant } = this;
    if (!joined || !participant?.participant) return;
    let status = "lost";
    if (participant.connection === "connected") {
      status = participant.presence === "away" ? "away" : "connected";
    }
    joined.update({
      me: participant.participant,
      event: this.event,
      code: this.code,
      status,
      recoveryCode: participant.recoveryCode,
    });
  }
}
