// The dashboard itself, made for a projector: the QR code and the code in large type, live
// counts, and the roster of people with the host's buttons.

import { el } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { PersonCard, PRESENCE_TEXT } from "./card.js";

const COUNTED = ["online", "away", "offline", "left"];

/** The URL as text with line-break chances after each slash, never inside the code. */
export function breakableUrl(url) {
  return url.split("/").flatMap((part, index) => (index ? [el("wbr"), `/${part}`] : [part]));
}

function joinPanel(code, joinUrl) {
  return el(
    "section",
    { class: "card join-panel", "aria-labelledby": "join-heading" },
    el("h2", { class: "eyebrow", id: "join-heading", text: "Scan to join" }),
    el("img", {
      class: "qr",
      src: `/api/events/${encodeURIComponent(code)}/qr.svg`,
      alt: `QR code that opens ${joinUrl}`,
      width: "480",
      height: "480",
    }),
    el("p", { class: "code-label", text: "or open" }),
    el(
      "p",
      { class: "join-url", "data-testid": "join-url" },
      ...breakableUrl(joinUrl.replace(/^https?:\/\//, "")),
    ),
    el("p", { class: "code-label", id: "code-label", text: "Event code" }),
    el("p", {
      class: "event-code",
      "aria-labelledby": "code-label",
      "data-testid": "event-code",
      text: code,
    }),
  );
}

function count(kind) {
  const value = el("span", { class: "count-value", "data-testid": `count-${kind}` });
  const item = el(
    "li",
    { class: "card count" },
    el(
      "span",
      { class: "count-label" },
      el("span", { class: "dot", "data-presence": kind, "aria-hidden": "true" }),
      PRESENCE_TEXT[kind],
    ),
    value,
  );
  return { item, value };
}

export class Dashboard {
  /** Fills `main`; `actions` has the host's onScore(id, delta) and onKick(id) for the cards. */
  constructor({ main, code, joinUrl, actions }) {
    this.main = main;
    this.actions = actions;
    this.cards = new Map(); // participant id -> PersonCard
    this.counts = Object.fromEntries(COUNTED.map((kind) => [kind, count(kind)]));
    this.list = el("ul", { class: "roster", "aria-label": "People", "data-testid": "roster" });
    this.emptyTitle = el("strong");
    this.emptyText = el("span");
    this.empty = el("div", { class: "empty" }, this.emptyTitle, this.emptyText);
    this.seats = el("span", { class: "seats", "data-testid": "seats" });
    this.banner = el(
      "p",
      { class: "closed-banner", role: "status" },
      icon("flag"),
      el("span", {
        text: "This event has ended. Everyone's session is over; the roster below is final.",
      }),
    );
    this.joinPanel = joinPanel(code, joinUrl);
    const area = el(
      "section",
      { class: "roster-area", "aria-labelledby": "roster-heading" },
      this.banner,
      el(
        "ul",
        { class: "counts", "aria-label": "Counts" },
        ...COUNTED.map((kind) => this.counts[kind].item),
      ),
      el(
        "div",
        { class: "roster-head" },
        el("h2", { id: "roster-heading", text: "People" }),
        this.seats,
      ),
      this.list,
      this.empty,
    );
    const screen = document.createDocumentFragment();
    screen.append(this.joinPanel, area);
    main.dataset.view = "dashboard";
    main.replaceChildren(screen);
  }

  render(event, roster) {
    const closed = event.status === "closed";
    this.main.dataset.closed = String(closed);
    this.banner.hidden = !closed;
    this.joinPanel.hidden = closed;

    const entries = roster.sorted();
    const tally = { online: 0, away: 0, offline: 0, left: 0 };
    for (const entry of entries) if (entry.presence in tally) tally[entry.presence] += 1;
    for (const kind of COUNTED) this.counts[kind].value.textContent = String(tally[kind]);
    const seated = entries.filter((entry) => entry.status !== "kicked").length;
    const seatWord = event.capacity === 1 ? "seat" : "seats";
    this.seats.textContent = `${seated} of ${event.capacity} ${seatWord} taken`;

    for (const [id, card] of this.cards) {
      if (!roster.has(id)) {
        card.node.remove();
        this.cards.delete(id);
      }
    }
    entries.forEach((entry, index) => {
      let card = this.cards.get(entry.id);
      if (!card) {
        card = new PersonCard(entry.id, this.actions);
        this.cards.set(entry.id, card);
      }
      card.update(entry, closed);
      // Move a card only when it is out of place, so focus on its buttons survives updates.
      const there = this.list.children[index];
      if (there !== card.node) this.list.insertBefore(card.node, there || null);
    });
    this.empty.hidden = entries.length > 0;
    this.emptyTitle.textContent = closed ? "Nobody joined" : "Nobody here yet";
    this.emptyText.textContent = closed
      ? "This event ended before anyone joined."
      : "Names appear here as people join.";
    this.list.hidden = entries.length === 0;
  }
}
