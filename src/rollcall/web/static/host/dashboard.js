// The dashboard itself, made for a projector: the QR code and the code in large type, counts that
// filter, a search, a sort, and the roster as cards (a small room) or a list (a crowd).

import { el } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { SORTS } from "./query.js";
import { CATEGORIES } from "./roster.js";
import { CardGrid, WindowedList } from "./rosterview.js";

/** Past this many people, the automatic view is the list. */
export const LIST_FROM = 40;
export const VIEWS = ["auto", "cards", "list"];
const VIEW_KEY = "rollcall.view";

export function storedView() {
  try {
    const view = localStorage.getItem(VIEW_KEY);
    return VIEWS.includes(view) ? view : "auto";
  } catch {
    return "auto";
  }
}

function storeView(view) {
  try {
    localStorage.setItem(VIEW_KEY, view);
  } catch {
    // Private mode: the choice lasts for this page only.
  }
}

/** Set a node's text only when it changes: a draw happens every frame while messages come. */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** The URL as text with line-break chances after each slash, never inside the code. */
export function breakableUrl(url) {
  return url.split("/").flatMap((part, index) => (index ? [el("wbr"), `/${part}`] : [part]));
}

function joinPanel(code, joinUrl, tr) {
  return el(
    "section",
    { class: "card join-panel", "aria-labelledby": "join-heading" },
    el("h2", { class: "eyebrow", id: "join-heading", text: tr.t("join.scan") }),
    el("img", {
      class: "qr",
      src: `/api/events/${encodeURIComponent(code)}/qr.svg`,
      alt: tr.t("join.qr_alt", { url: joinUrl }),
      width: "480",
      height: "480",
    }),
    el("p", { class: "code-label", text: tr.t("join.or_open") }),
    el(
      "p",
      { class: "join-url", "data-testid": "join-url", dir: "ltr" },
      ...breakableUrl(joinUrl.replace(/^https?:\/\//, "")),
    ),
    el("p", { class: "code-label", id: "code-label", text: tr.t("join.code") }),
    el("p", {
      class: "event-code",
      "aria-labelledby": "code-label",
      "data-testid": "event-code",
      dir: "ltr",
      text: code,
    }),
  );
}

function select(id, label, options, value, onChange) {
  const node = el(
    "select",
    { class: "select", id },
    ...options.map(([optionValue, text]) =>
      el("option", { value: optionValue, text, selected: optionValue === value }),
    ),
  );
  node.addEventListener("change", () => onChange(node.value));
  return el(
    "div",
    { class: "toolbar-field" },
    el("label", { for: id, class: "toolbar-label", text: label }),
    node,
  );
}

export class Dashboard {
  /**
   * Fills `main`. `actions` has the host's onScore(id, delta) and onKick(id); `query` is the
   * search, filters and sort (kept by the session across redraws); `changed()` asks for a redraw.
   */
  constructor({ main, code, joinUrl, actions, tr, query, changed, hostLinkNotice = null }) {
    this.main = main;
    this.actions = actions;
    this.tr = tr;
    this.query = query;
    this.changed = changed;
    this.viewChoice = storedView();
    this.layout = null;
    this.view = null;
    const t = (key, params) => tr.t(key, params);

    this.counts = Object.fromEntries(CATEGORIES.map((kind) => [kind, this.countTile(kind)]));
    this.search = el("input", {
      class: "input search-input",
      id: "roster-search",
      type: "search",
      autocomplete: "off",
      spellcheck: "false",
      placeholder: t("toolbar.search_placeholder"),
      "aria-keyshortcuts": "/",
      "data-testid": "search",
    });
    this.search.value = query.text;
    this.search.addEventListener("input", () => {
      this.query.setText(this.search.value);
      this.changed();
    });
    this.search.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.search.value) {
        event.preventDefault();
        this.search.value = "";
        this.query.setText("");
        this.changed();
      } else if (event.key === "ArrowDown") {
        event.preventDefault();
        this.view?.focusFirst();
      }
    });
    this.direction = el(
      "button",
      {
        class: "btn btn-secondary btn-small direction",
        type: "button",
        "aria-pressed": String(query.descending),
        title: t("toolbar.reverse"),
        onclick: () => {
          this.query.descending = !this.query.descending;
          this.direction.setAttribute("aria-pressed", String(this.query.descending));
          this.changed();
        },
      },
      icon("arrows"),
      el("span", { class: "visually-hidden", text: t("toolbar.reverse") }),
    );
    const toolbar = el(
      "div",
      { class: "toolbar", role: "search", "aria-label": t("toolbar.label") },
      el(
        "div",
        { class: "toolbar-field search-field" },
        el("label", { for: "roster-search", class: "toolbar-label", text: t("toolbar.search") }),
        el("div", { class: "search-box" }, icon("search"), this.search),
      ),
      el(
        "div",
        { class: "toolbar-group" },
        select(
          "roster-sort",
          t("toolbar.sort"),
          SORTS.map((sort) => [sort, t(`sort.${sort}`)]),
          query.sort,
          (sort) => {
            this.query.sort = sort;
            this.changed();
          },
        ),
        this.direction,
      ),
      select(
        "roster-view",
        t("toolbar.view"),
        VIEWS.map((view) => [view, t(`view.${view}`)]),
        this.viewChoice,
        (view) => {
          this.viewChoice = view;
          storeView(view);
          this.changed();
        },
      ),
    );

    this.heading = el("h2", { id: "roster-heading", tabindex: "-1", text: t("roster.heading") });
    this.shown = el("span", { class: "shown", "data-testid": "shown" });
    this.seats = el("span", { class: "seats", "data-testid": "seats" });
    this.emptyTitle = el("strong");
    this.emptyText = el("span");
    this.clearButton = el("button", {
      class: "btn btn-secondary",
      type: "button",
      text: t("roster.clear"),
      onclick: () => this.clearQuery(),
    });
    this.empty = el(
      "div",
      { class: "empty", "data-testid": "empty" },
      this.emptyTitle,
      this.emptyText,
      this.clearButton,
    );
    this.banner = el(
      "p",
      { class: "closed-banner", tabindex: "-1", "data-testid": "ended" },
      icon("flag"),
      el("span", { text: t("roster.ended") }),
    );
    this.slot = el("div", { class: "roster-slot" });
    this.joinPanel = joinPanel(code, joinUrl, tr);
    this.area = el(
      "section",
      { class: "roster-area", "aria-labelledby": "roster-heading" },
      this.banner,
      hostLinkNotice,
      el(
        "ul",
        { class: "counts", "aria-label": t("counts.label") },
        ...CATEGORIES.map((kind) => this.counts[kind].item),
      ),
      toolbar,
      el(
        "div",
        { class: "roster-head" },
        this.heading,
        el("p", { class: "roster-facts" }, this.shown, this.seats),
      ),
      this.slot,
      this.empty,
    );
    this.onSlash = (event) => {
      const typing = event.target.closest?.("input, textarea, select, [contenteditable]");
      if (event.key !== "/" || typing || event.ctrlKey || event.metaKey || event.altKey) return;
      if (this.search.offsetParent === null) return; // hidden in projector mode
      event.preventDefault();
      this.search.focus();
      this.search.select();
    };
    document.addEventListener("keydown", this.onSlash);
    const screen = document.createDocumentFragment();
    screen.append(this.joinPanel, this.area);
    main.dataset.view = "dashboard";
    main.replaceChildren(screen);
  }

  countTile(kind) {
    const value = el("span", { class: "count-value", "data-testid": `count-${kind}` });
    const button = el(
      "button",
      {
        class: "card count",
        type: "button",
        "aria-pressed": String(this.query.filters.has(kind)),
        "data-filter": kind,
        onclick: () => {
          this.query.toggleFilter(kind);
          this.changed();
        },
      },
      el(
        "span",
        { class: "count-label" },
        el("span", { class: "dot", "data-presence": kind, "aria-hidden": "true" }),
        this.tr.t(`presence.${kind}`),
      ),
      value,
    );
    return { item: el("li", {}, button), button, value };
  }

  clearQuery() {
    this.query.clear();
    this.search.value = "";
    this.changed();
    this.search.focus();
  }

  /** The layout for `size` people: the host's choice, else cards for a small room. */
  layoutFor(size) {
    if (this.viewChoice !== "auto") return this.viewChoice;
    return size > LIST_FROM ? "list" : "cards";
  }

  useLayout(layout) {
    if (layout === this.layout) return;
    const hadFocus = this.view?.node.contains(document.activeElement);
    this.view?.destroy?.();
    const View = layout === "list" ? WindowedList : CardGrid;
    this.view = new View({ tr: this.tr, actions: this.actions, label: this.tr.t("roster.label") });
    this.layout = layout;
    this.main.dataset.layout = layout;
    this.slot.replaceChildren(this.view.node);
    if (hadFocus) this.heading.focus();
  }

  render(event, roster) {
    const { tr, query } = this;
    const closed = event.status === "closed";
    if (this.main.dataset.closed !== String(closed)) this.main.dataset.closed = String(closed);
    this.banner.hidden = !closed;
    this.joinPanel.hidden = closed;
    this.useLayout(this.layoutFor(roster.size));

    const teams = event.teams ?? [];
    query.setTeams(teams);
    const selected = query.select(roster);
    const { counts, totals, total } = selected;
    // Who waits is listed in the waiting room above (host/admission.js), with admit and deny;
    // the roster shows them only when the host asks for them with the "waiting" filter.
    const rows = query.filters.has("waiting")
      ? selected.rows
      : selected.rows.filter((entry) => entry.status !== "pending");
    for (const kind of CATEGORIES) {
      const tile = this.counts[kind];
      setText(tile.value, tr.n(counts[kind]));
      const pressed = String(query.filters.has(kind));
      if (tile.button.getAttribute("aria-pressed") !== pressed) {
        tile.button.setAttribute("aria-pressed", pressed);
      }
    }
    setText(
      this.shown,
      query.narrowed
        ? tr.t("roster.shown", { shown: rows.length, count: total })
        : tr.t("roster.people", { count: total }),
    );
    const seated = total - totals.waiting - totals.removed;
    setText(this.seats, tr.t("roster.seats", { taken: seated, count: event.capacity }));
    this.view.show(rows, closed, new Map(teams.map((team) => [team.id, team.name])));

    const nobody = total === 0;
    this.empty.hidden = rows.length > 0;
    this.slot.hidden = rows.length === 0;
    this.clearButton.hidden = nobody;
    if (nobody) {
      setText(this.emptyTitle, tr.t(closed ? "roster.none_closed" : "roster.none"));
      setText(this.emptyText, tr.t(closed ? "roster.none_closed_text" : "roster.none_text"));
    } else {
      setText(this.emptyTitle, tr.t("roster.no_match"));
      setText(this.emptyText, tr.t("roster.no_match_text"));
    }
    return { rows, counts, total };
  }

  focusHeading() {
    this.heading.focus();
  }

  focusBanner() {
    this.banner.focus();
  }

  destroy() {
    document.removeEventListener("keydown", this.onSlash);
    this.view?.destroy?.();
  }
}
