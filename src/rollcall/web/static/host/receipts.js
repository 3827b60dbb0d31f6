// The receipts on the dashboard: how many phones have shown the current event state ("912 of 950
// have version 7"), live from the host's stream, who is behind (online first, as rollcall lists
// them), and the roster filter that shows only them. It appears once the event has a state. Its
// text has its own catalog, /static/i18n/host-receipts/, so the rest of the dashboard is left as
// it is.

import { api } from "../shared/api.js";
import { el } from "../shared/dom.js";
import { loadMessages } from "../shared/i18n.js";
import { setText } from "./dashboard.js";

/** Names listed in the panel; the filter shows everyone behind in the roster. */
const LISTED = 12;

export class Receipts {
  /** `session` is the dashboard's HostSession: its token, event, query, toast and render(). */
  constructor(session) {
    this.session = session;
    this.t = (key) => key;
    loadMessages("host-receipts").then(
      (translator) => {
        this.t = (key, params) => translator.t(key, params);
        this.session.render();
      },
      () => {}, // no catalog: the keys show, the dashboard still works
    );
    this.counts = null; // { event_version, seen, of } as the host's stream last said
    this.behind = []; // who has not shown it: { id, display_name, presence, seen_event_version }
    this.listedFor = null; // the counts `behind` was asked for
    this.asking = false;
    this.dashboard = null;
  }

  /** The receipts in a welcome, or a `receipts` message of the host's stream. */
  update({ event_version, seen, of }) {
    this.counts = { event_version, seen, of };
    this.session.render();
  }

  /** Called with the dashboard each time it renders. */
  render(dashboard, event) {
    if (dashboard !== this.dashboard) this.attach(dashboard);
    const { counts, t } = this;
    const query = this.session.query;
    const hidden = !counts || event.status === "closed" || !(event.state_version > 0);
    if (this.panel.hidden !== hidden) this.panel.hidden = hidden;
    if (hidden) return;
    this.listBehind(counts);
    const { seen, of, event_version: version } = counts;
    setText(this.heading, t("heading"));
    setText(this.count, t("count", { count: seen, of, version }));
    const label = t("meter", { version });
    if (this.meter.getAttribute("aria-label") !== label)
      this.meter.setAttribute("aria-label", label);
    this.meter.max = Math.max(of, 1);
    this.meter.value = seen;
    this.panel.dataset.complete = String(seen >= of);

    const behind = this.behind;
    setText(this.behindHeading, t("behind", { count: behind.length }));
    this.behindBox.hidden = behind.length === 0;
    const drawn = behind
      .slice(0, LISTED)
      .map((entry) => `${entry.id}:${entry.presence}:${entry.display_name}`)
      .join("|");
    if (drawn !== this.drawn || this.session.tr !== this.drawnTr) {
      this.drawn = drawn;
      this.drawnTr = this.session.tr;
      this.list.replaceChildren(...behind.slice(0, LISTED).map((entry) => this.item(entry)));
    }
    const more = behind.length - LISTED;
    this.more.hidden = more <= 0;
    if (more > 0) setText(this.more, t("more", { count: more }));
    const pressed = String(query.behindOnly);
    if (this.filter.getAttribute("aria-pressed") !== pressed) {
      this.filter.setAttribute("aria-pressed", pressed);
    }
    setText(this.filter, t("filter"));
  }

  attach(dashboard) {
    this.dashboard = dashboard;
    this.drawn = null;
    this.heading = el("h2", { id: "receipts-heading" });
    this.count = el("p", { class: "receipts-count", "data-testid": "receipts" });
    this.meter = el("meter", { class: "receipts-meter", min: "0" });
    this.filter = el("button", {
      class: "btn btn-secondary btn-small",
      type: "button",
      "aria-pressed": "false",
      "data-testid": "behind-filter",
      onclick: () => {
        const query = this.session.query;
        query.behindOnly = !query.behindOnly;
        dashboard.changed();
      },
    });
    this.behindHeading = el("h3", { class: "receipts-behind-heading", id: "behind-heading" });
    this.list = el("ul", {
      class: "waiting-list",
      "aria-labelledby": "behind-heading",
      "data-testid": "behind",
    });
    this.more = el("p", { class: "receipts-more" });
    this.behindBox = el(
      "div",
      { class: "receipts-behind" },
      el("div", { class: "roster-head" }, this.behindHeading, this.filter),
      this.list,
      this.more,
    );
    this.panel = el(
      "section",
      { class: "card receipts-panel", "aria-labelledby": "receipts-heading", hidden: true },
      this.heading,
      this.count,
      this.meter,
      this.behindBox,
    );
    dashboard.area.insertBefore(this.panel, dashboard.area.querySelector(".counts"));
  }

  item(entry) {
    const presence = this.session.tr.t(`presence.${entry.presence}`);
    return el(
      "li",
      { class: "waiting-item", "data-participant-id": entry.id },
      el("span", { class: "dot", "data-presence": entry.presence, "aria-hidden": "true" }),
      el("span", { class: "waiting-name", text: entry.display_name }),
      el("span", { class: "receipts-presence", text: presence }),
    );
  }

  /** Ask rollcall who is behind whenever the counts moved (they come at most once a second). */
  async listBehind(counts) {
    const key = `${counts.event_version}:${counts.seen}:${counts.of}`;
    if (this.listedFor === key || this.asking) return;
    if (counts.seen >= counts.of) {
      this.listedFor = key;
      this.setBehind([]);
      return;
    }
    this.asking = true;
    try {
      const found = await api(`${this.session.eventPath}/receipts`, { token: this.session.token });
      this.listedFor = key;
      this.setBehind(found.behind);
    } catch {
      // The next receipts message asks again.
    } finally {
      this.asking = false;
      this.session.render();
    }
  }

  setBehind(behind) {
    this.behind = behind;
    this.session.query.setBehind(behind.map((entry) => entry.id));
  }
}
