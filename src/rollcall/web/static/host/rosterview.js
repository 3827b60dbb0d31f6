// The two ways the dashboard draws people. Cards, for a small room: every card in the page, each
// button a tab stop. A list, for a crowd: one row a person, only the rows in sight are in the
// page (a windowed list), and the keyboard moves between rows with the arrow keys while Tab
// stops once in the list (docs/decisions.md has the measurements behind this).

import { el } from "../shared/dom.js";
import { PersonCard } from "./card.js";

/** Rows drawn beyond each edge of the visible part, so a quick scroll shows no gap. */
const OVERSCAN = 8;
const ACTIONS = ["minus", "plus", "edit", "kick"];

export class CardGrid {
  constructor({ tr, actions, label }) {
    this.tr = tr;
    this.actions = actions;
    this.cards = new Map(); // participant id -> PersonCard, shown or filtered out
    this.list = el("ul", {
      class: "roster",
      "data-layout": "cards",
      "aria-label": label,
      "data-testid": "roster",
    });
    this.node = this.list;
  }

  show(rows, closed, teams) {
    this.teams = teams;
    // Cards filtered out leave the page but are kept, so that a search cleared is not a
    // thousand cards built again.
    const wanted = new Set(rows.map((entry) => entry.id));
    for (const [id, card] of this.cards) {
      if (!wanted.has(id)) card.node.remove();
    }
    // Walk the cards in the page alongside the rows (never an index into the live children,
    // which costs a walk of its own each time), and move a card only when it is out of place,
    // so focus on its buttons survives updates.
    let there = this.list.firstChild;
    for (const entry of rows) {
      let card = this.cards.get(entry.id);
      if (!card) {
        card = new PersonCard(entry.id, this.actions, this.tr);
        this.cards.set(entry.id, card);
      }
      card.update(entry, closed, teams);
      if (there === card.node) there = there.nextSibling;
      else this.list.insertBefore(card.node, there);
    }
  }

  /** Focus the first person, if any (from the search box's arrow down). */
  focusFirst() {
    this.list.querySelector("button")?.focus();
  }
}

export class WindowedList {
  constructor({ tr, actions, label }) {
    this.tr = tr;
    this.actions = actions;
    this.rows = [];
    this.closed = false;
    this.cards = new Map(); // participant id -> PersonCard, only the rows drawn
    this.activeId = null; // the row that holds the list's one tab stop
    this.rowHeight = 0;
    this.list = el("ul", {
      class: "roster",
      "data-layout": "list",
      "aria-label": label,
      "data-testid": "roster",
      tabindex: "-1",
    });
    this.node = el("div", { class: "roster-viewport" }, this.list);
    this.frame = 0;
    this.node.addEventListener("scroll", () => this.redrawSoon(), { passive: true });
    this.list.addEventListener("keydown", (event) => this.onKey(event));
    this.list.addEventListener("focusin", (event) => {
      const row = event.target.closest("[data-participant-id]");
      if (row) this.setActive(row.dataset.participantId);
    });
    this.resize = new ResizeObserver(() => {
      this.rowHeight = 0;
      // A list that grows or shrinks under a row the keyboard is on keeps that row in sight.
      if (this.list.contains(document.activeElement)) this.keepInSight = true;
      this.redrawSoon();
    });
    this.keepInSight = false;
    this.resize.observe(this.node);
  }

  show(rows, closed, teams) {
    // The row the keyboard is on, in sight before the rows change (a search cleared, a sort),
    // is in sight after, wherever it moved to.
    const active = this.activeId ? this.index(this.activeId) : -1;
    if (this.list.contains(document.activeElement) && active >= 0 && this.inSight(active)) {
      this.keepInSight = true;
    }
    this.rows = rows;
    this.closed = closed;
    this.teams = teams;
    this.indexOf = null;
    this.draw();
  }

  /** Whether row `index` is wholly in the visible part of the list. */
  inSight(index) {
    const height = this.size();
    const top = index * height;
    const view = this.node;
    return top >= view.scrollTop && top + height <= view.scrollTop + view.clientHeight;
  }

  redrawSoon() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  /** Index of a participant in the rows, built once per show(). */
  index(id) {
    if (!this.indexOf) this.indexOf = new Map(this.rows.map((entry, i) => [entry.id, i]));
    return this.indexOf.get(id) ?? -1;
  }

  draw() {
    if (!this.node.isConnected) return;
    const { rows } = this;
    const height = this.size();
    if (this.keepInSight) {
      this.keepInSight = false;
      const active = this.activeId ? this.index(this.activeId) : -1;
      if (active >= 0) this.scrollTo(active);
    }
    const top = this.node.scrollTop;
    // What can be seen: the list's own box, never more than the window (whatever the layout).
    const seen = Math.min(this.node.clientHeight, innerHeight) || innerHeight;
    const first = Math.max(0, Math.floor(top / height) - OVERSCAN);
    const last = Math.min(rows.length, Math.ceil((top + seen) / height) + OVERSCAN);
    const drawn = [];
    for (let index = first; index < last; index += 1) drawn.push(this.place(rows[index], index));
    // The row with focus stays while it is in the rows, even out of sight, so focus survives.
    const active = this.activeId ? this.index(this.activeId) : -1;
    if (active >= 0 && (active < first || active >= last)) {
      const card = this.place(rows[active], active);
      if (active < first) drawn.unshift(card);
      else drawn.push(card);
    }
    const kept = new Set(drawn);
    const focused = this.list.contains(document.activeElement) ? document.activeElement : null;
    for (const [id, card] of this.cards) {
      if (!kept.has(card)) {
        card.node.remove();
        this.cards.delete(id);
      }
    }
    // The rows stand in the page in the order they are seen, so a screen reader reads them so.
    let there = this.list.firstChild;
    for (const card of drawn) {
      if (there === card.node) there = there.nextSibling;
      else this.list.insertBefore(card.node, there);
    }
    if (focused && document.activeElement !== focused) {
      (focused.isConnected ? focused : this.list).focus({ preventScroll: true });
    }
    this.ensureTabStop(Math.floor(top / height));
  }

  /** Draw `entry` as row `index`; returns its card. */
  place(entry, index) {
    let card = this.cards.get(entry.id);
    if (!card) {
      card = new PersonCard(entry.id, this.actions, this.tr);
      this.cards.set(entry.id, card);
    }
    card.update(entry, this.closed, this.teams);
    const node = card.node;
    const top = `${index * this.rowHeight}px`;
    if (node.style.top !== top) node.style.top = top;
    const position = String(index + 1);
    if (node.getAttribute("aria-posinset") !== position) {
      node.setAttribute("aria-posinset", position);
    }
    const size = String(this.rows.length);
    if (node.getAttribute("aria-setsize") !== size) node.setAttribute("aria-setsize", size);
    return card;
  }

  /** Size the list for its rows; returns the height of one row. */
  size() {
    const height = this.measure();
    const total = `${this.rows.length * height}px`;
    if (this.list.style.height !== total) this.list.style.height = total;
    return height;
  }

  /** Scroll the least that brings row `index` wholly into sight. */
  scrollTo(index) {
    if (this.inSight(index)) return;
    const height = this.size();
    const top = index * height;
    const view = this.node;
    view.scrollTop = top < view.scrollTop ? top : top + height - view.clientHeight;
  }

  /** The height of one row, read from the page once (and again when the list is resized). */
  measure() {
    if (this.rowHeight) return this.rowHeight;
    const probe = new PersonCard("probe", this.actions, this.tr);
    probe.node.style.visibility = "hidden";
    this.list.append(probe.node);
    this.rowHeight = probe.node.getBoundingClientRect().height || 56;
    probe.node.remove();
    return this.rowHeight;
  }

  /** Exactly one row (and its buttons) can be reached with Tab: the active one. */
  ensureTabStop(first) {
    let stopId = this.activeId && this.cards.has(this.activeId) ? this.activeId : null;
    if (!stopId && this.rows.length) stopId = this.rows[Math.min(first, this.rows.length - 1)]?.id;
    for (const [id, card] of this.cards) {
      const reachable = id === stopId;
      if (card.reachable === reachable) continue;
      card.reachable = reachable;
      const value = reachable ? 0 : -1;
      card.node.tabIndex = value;
      for (const button of card.node.querySelectorAll("button")) button.tabIndex = value;
    }
  }

  setActive(id) {
    if (this.activeId === id) return;
    this.activeId = id;
    this.ensureTabStop(0);
  }

  focusFirst() {
    if (this.rows.length) this.moveTo(0, null);
  }

  onKey(event) {
    const row = event.target.closest("[data-participant-id]");
    if (!row || event.altKey || event.ctrlKey || event.metaKey) return;
    const index = this.index(row.dataset.participantId);
    const page = Math.max(1, Math.floor(this.node.clientHeight / this.measure()) - 1);
    const target = {
      ArrowDown: index + 1,
      ArrowUp: index - 1,
      PageDown: index + page,
      PageUp: index - page,
      Home: 0,
      End: this.rows.length - 1,
    }[event.key];
    if (target === undefined) return;
    event.preventDefault();
    const action = event.target.dataset.action || null;
    this.moveTo(Math.max(0, Math.min(this.rows.length - 1, target)), action);
  }

  /** Focus row `index` (or its `action` button), scrolling it into sight. */
  moveTo(index, action) {
    const entry = this.rows[index];
    if (!entry) return;
    this.scrollTo(index);
    this.activeId = entry.id;
    this.draw();
    const node = this.cards.get(entry.id)?.node;
    if (!node) return;
    const button = ACTIONS.includes(action) && node.querySelector(`[data-action="${action}"]`);
    (button && !button.closest("[hidden]") ? button : node).focus({ preventScroll: true });
  }

  destroy() {
    this.resize.disconnect();
    cancelAnimationFrame(this.frame);
  }
}
