// Teams and names on the dashboard: the teams with their counts (each a filter), balancing, the
// host's edit of a person (name and team), seating someone without a phone (with the code and
// QR that let a phone take the seat), and the event's settings for teams, names and the word
// filter.

import { api } from "../shared/api.js";
import { formDialog } from "../shared/dialog.js";
import { el } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { setText } from "./dashboard.js";
import { NO_TEAM } from "./query.js";

/** A labelled control, with a hint under it (the control's description) when one is given. */
function field(id, label, control, hint = null) {
  control.id = id;
  if (hint) control.setAttribute("aria-describedby", `${id}-hint`);
  return el(
    "div",
    { class: "field" },
    el("label", { for: id, text: label }),
    control,
    hint ? el("p", { class: "hint", id: `${id}-hint`, text: hint }) : null,
  );
}

function choices(options, value) {
  return el(
    "select",
    { class: "select" },
    ...options.map(([optionValue, text]) =>
      el("option", { value: optionValue, text, selected: optionValue === value }),
    ),
  );
}

/** Ids for team names: a team keeps its id while its name stays; a new one gets a free id. */
export function teamsFromNames(names, before) {
  const known = new Map(before.map((team) => [team.name.toLocaleLowerCase(), team.id]));
  const used = new Set();
  const teams = [];
  for (const raw of names) {
    const name = raw.trim();
    if (!name || teams.some((team) => team.name.toLocaleLowerCase() === name.toLocaleLowerCase())) {
      continue;
    }
    let id = known.get(name.toLocaleLowerCase());
    for (let n = teams.length + 1; !id || used.has(id); n += 1) id = `team-${n}`;
    used.add(id);
    teams.push({ id, name });
  }
  return teams;
}

export class Teams {
  /** `session` is the dashboard's HostSession: its token, event, roster, query, toast, tr. */
  constructor(session) {
    this.session = session;
    this.dashboard = null;
    this.drawn = null; // what the team tiles show, to touch the page only when it changes
  }

  t(key, params) {
    return this.session.tr.t(key, params);
  }

  /** Called with the dashboard each time it renders. */
  render(dashboard, event, roster) {
    if (dashboard !== this.dashboard) this.attach(dashboard);
    const teams = event.teams ?? [];
    const closed = event.status === "closed";
    this.panel.hidden = teams.length === 0;
    this.addButton.hidden = closed;
    this.settingsButton.hidden = closed;
    this.balanceButton.hidden = closed;
    const counts = new Map(teams.map((team) => [team.id, { active: 0, online: 0 }]));
    const none = { active: 0, online: 0 };
    for (const entry of roster.values()) {
      if (entry.status !== "active") continue;
      const count = counts.get(entry.team) ?? none;
      count.active += 1;
      if (entry.category === "online") count.online += 1;
    }
    const { query } = this.session;
    const tiles = [...teams, { id: NO_TEAM, name: this.t("teams.none") }].map((team) => {
      const count = team.id === NO_TEAM ? none : counts.get(team.id);
      return { ...team, ...count, pressed: query.team === team.id };
    });
    const signature = JSON.stringify([tiles, this.session.tr.locale]);
    if (signature === this.drawn) return;
    this.drawn = signature;
    setText(this.heading, this.t("teams.heading"));
    this.tiles.replaceChildren(...tiles.map((tile) => this.tile(tile)));
  }

  tile({ id, name, active, online, pressed }) {
    const { tr } = this.session;
    return el(
      "li",
      {},
      el(
        "button",
        {
          class: "card count team-count",
          type: "button",
          "aria-pressed": String(pressed),
          "data-team": id,
          onclick: () => {
            const { query } = this.session;
            query.team = query.team === id ? null : id;
            this.session.render();
          },
        },
        el("span", { class: "count-label", text: name }),
        el("span", { class: "count-value", text: tr.n(active) }),
        el("span", { class: "team-online", text: this.t("teams.online", { count: online }) }),
      ),
    );
  }

  attach(dashboard) {
    this.dashboard = dashboard;
    this.drawn = null;
    this.heading = el("h2", { id: "teams-heading", class: "eyebrow" });
    this.tiles = el("ul", { class: "counts team-counts", "data-testid": "teams" });
    this.balanceButton = el(
      "button",
      {
        class: "btn btn-small btn-secondary",
        type: "button",
        "data-testid": "balance",
        onclick: () => this.balance(),
      },
      el("span", { text: this.t("teams.balance") }),
    );
    this.panel = el(
      "section",
      { class: "team-panel", "aria-labelledby": "teams-heading" },
      el("div", { class: "roster-head" }, this.heading, this.balanceButton),
      this.tiles,
    );
    const toolbar = dashboard.area.querySelector(".toolbar");
    dashboard.area.insertBefore(this.panel, toolbar);
    this.addButton = el(
      "button",
      {
        class: "btn btn-small btn-secondary",
        type: "button",
        "data-testid": "add-seat",
        onclick: () => this.addSeat(),
      },
      icon("users"),
      el("span", { text: this.t("seat.add") }),
    );
    this.settingsButton = el(
      "button",
      {
        class: "btn btn-small btn-secondary",
        type: "button",
        "data-testid": "settings",
        onclick: () => this.settings(),
      },
      el("span", { text: this.t("settings.open") }),
    );
    dashboard.heading.parentElement.append(
      el("div", { class: "roster-tools" }, this.addButton, this.settingsButton),
    );
  }

  /** A failed call's words: ours for a refused name, else the session's. */
  reason(error) {
    if (error.code === "name_taken") return this.t("edit.taken");
    if (error.code === "name_not_allowed") return this.t("edit.not_allowed");
    return this.session.reason(error);
  }

  teamField(id, value) {
    const teams = this.session.event.teams ?? [];
    if (!teams.length) return null;
    const options = [[NO_TEAM, this.t("teams.none")], ...teams.map((team) => [team.id, team.name])];
    return field(id, this.t("edit.team"), choices(options, value ?? NO_TEAM));
  }

  /** The host changes a person's name or team. */
  async edit(id) {
    const { session } = this;
    const entry = session.roster.get(id);
    if (!entry) return;
    const name = el("input", {
      class: "input",
      maxlength: "32",
      autocomplete: "off",
      spellcheck: "false",
      required: true,
    });
    name.value = entry.display_name;
    const team = this.teamField("edit-team", entry.team);
    await formDialog({
      title: this.t("edit.title", { name: entry.display_name }),
      fields: [field("edit-name", this.t("edit.name"), name), team],
      confirm: this.t("edit.save"),
      cancel: this.t("dialog.cancel"),
      onSubmit: async (form) => {
        const body = {};
        if (name.value.trim() !== entry.display_name) body.display_name = name.value;
        const chosen = form.querySelector("#edit-team")?.value;
        if (chosen !== undefined && (chosen || null) !== (entry.team ?? null)) {
          body.team = chosen || null;
        }
        if (!Object.keys(body).length) return null;
        try {
          const changed = await api(`${session.eventPath}/participants/${id}`, {
            method: "PATCH",
            body,
            token: session.token,
          });
          session.roster.upsert(changed);
          session.render();
          return null;
        } catch (error) {
          return this.reason(error);
        }
      },
    });
  }

  /** Seat someone without a phone, then show the code (and its QR) that lets a phone take it. */
  async addSeat() {
    const { session } = this;
    const name = el("input", { class: "input", maxlength: "32", autocomplete: "off" });
    let seated = null;
    await formDialog({
      title: this.t("seat.title"),
      fields: [
        el("p", { text: this.t("seat.text") }),
        field("seat-name", this.t("edit.name"), name),
        this.teamField("seat-team", null),
      ],
      confirm: this.t("seat.confirm"),
      cancel: this.t("dialog.cancel"),
      onSubmit: async (form) => {
        if (!name.value.trim()) return this.t("seat.empty");
        const body = { display_name: name.value };
        const team = form.querySelector("#seat-team")?.value;
        if (team) body.team = team;
        try {
          seated = await api(`${session.eventPath}/participants`, {
            method: "POST",
            body,
            token: session.token,
          });
          return null;
        } catch (error) {
          return this.reason(error);
        }
      },
    });
    if (!seated) return;
    session.roster.upsert({ ...seated.participant, presence: "offline" });
    session.render();
    await this.showCode(seated.participant, seated.recovery_code);
  }

  /** The seat's recovery code, large, and its QR (drawn by the server for the host only). */
  async showCode(participant, code) {
    const { session } = this;
    const image = el("img", {
      class: "seat-qr",
      width: "240",
      height: "240",
      alt: this.t("seat.qr_alt", { name: participant.display_name }),
    });
    try {
      // Asked for with the host's token, so drawn from its text (the pages allow data: images).
      const answer = await fetch(
        `${session.eventPath}/participants/${participant.id}/recovery-qr.svg`,
        { headers: { Authorization: `Bearer ${session.token}` } },
      );
      if (answer.ok) {
        image.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(await answer.text())}`;
      }
    } catch {
      // The code alone still does: it is shown in large type.
    }
    await formDialog({
      title: this.t("seat.code_title", { name: participant.display_name }),
      fields: [
        el("p", { text: this.t("seat.code_text") }),
        el("p", {
          class: "event-code seat-code",
          dir: "ltr",
          "data-testid": "seat-code",
          text: code,
        }),
        image.src ? image : null,
      ],
      confirm: this.t("seat.done"),
      cancel: this.t("dialog.cancel"),
      onSubmit: () => null,
    });
  }

  async balance() {
    const { session } = this;
    try {
      const done = await api(`${session.eventPath}/teams/balance`, {
        method: "POST",
        token: session.token,
      });
      session.toast.show(this.t("teams.balanced", { count: done.assigned }));
    } catch (error) {
      session.toast.show(this.t("teams.failed", { reason: session.reason(error) }));
    }
  }

  /** The event's teams, how they are chosen, its kind of names and its word filter. */
  async settings() {
    const { session } = this;
    const { event } = session;
    let filter = { name_filter: event.name_filter, blocked_words: [] };
    try {
      filter = await api(`${session.eventPath}/name-filter`, { token: session.token });
    } catch {
      // Shown without the words; saving leaves them as they are unless the field is changed.
    }
    const teams = el("textarea", { class: "input", rows: "4" });
    teams.value = (event.teams ?? []).map((team) => team.name).join("\n");
    const mode = choices(
      ["host", "choose"].map((value) => [value, this.t(`settings.team_mode.${value}`)]),
      event.team_mode,
    );
    const names = choices(
      ["chosen", "generated"].map((value) => [value, this.t(`settings.names.${value}`)]),
      event.names,
    );
    const filterMode = choices(
      ["default", "custom", "off"].map((value) => [value, this.t(`settings.filter.${value}`)]),
      filter.name_filter,
    );
    const words = el("textarea", { class: "input", rows: "4", spellcheck: "false" });
    words.value = filter.blocked_words.join("\n");
    const lines = (node) => node.value.split("\n").filter((line) => line.trim());
    await formDialog({
      title: this.t("settings.title"),
      fields: [
        field("settings-teams", this.t("settings.teams"), teams, this.t("settings.teams_hint")),
        field("settings-team-mode", this.t("settings.team_mode"), mode),
        field("settings-names", this.t("settings.names"), names),
        field("settings-filter", this.t("settings.filter"), filterMode),
        field("settings-words", this.t("settings.words"), words, this.t("settings.words_hint")),
      ],
      confirm: this.t("edit.save"),
      cancel: this.t("dialog.cancel"),
      onSubmit: async () => {
        const body = {
          teams: teamsFromNames(lines(teams), event.teams ?? []),
          team_mode: mode.value,
          names: names.value,
          name_filter: filterMode.value,
          blocked_words: lines(words),
        };
        try {
          session.setEvent(
            await api(session.eventPath, { method: "PATCH", body, token: session.token }),
          );
          return null;
        } catch (error) {
          return this.session.reason(error);
        }
      },
    });
  }
}
