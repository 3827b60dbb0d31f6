// Says what changed to people who use a screen reader: a polite live region that sums up a few
// seconds of changes in one sentence ("Maya joined." or "12 people joined. 2 went offline."),
// so that a crowd arriving does not become a flood of announcements.

import { el } from "../shared/dom.js";

const EVERY_MS = 2500;
/** The changes worth telling, in the order a summary tells them. */
const KINDS = ["joined", "waiting", "online", "away", "offline", "left", "removed"];

export class Announcer {
  #pending = new Map(); // kind -> names
  #timer = null;
  #last = 0;

  constructor(tr) {
    this.tr = tr;
    this.region = el("div", {
      class: "visually-hidden",
      role: "status",
      "aria-live": "polite",
      "aria-atomic": "true",
      "data-testid": "announcer",
    });
    document.body.append(this.region);
  }

  /** A participant went from category `before` (undefined: new) to `entry.category`. */
  change(before, entry) {
    const after = entry.category;
    if (before === after) return;
    const kind = before === undefined && after !== "waiting" ? "joined" : after;
    if (!KINDS.includes(kind)) return;
    const names = this.#pending.get(kind) || [];
    names.push(entry.display_name);
    this.#pending.set(kind, names);
    this.#schedule();
  }

  /** Say `text` now (the event's own changes: locked, ended). */
  say(text) {
    this.region.textContent = "";
    // Emptied first, so that the same words twice are still announced.
    requestAnimationFrame(() => {
      this.region.textContent = text;
    });
  }

  #schedule() {
    if (this.#timer) return;
    const wait = Math.max(0, this.#last + EVERY_MS - Date.now());
    this.#timer = setTimeout(() => this.#flush(), wait);
  }

  #flush() {
    this.#timer = null;
    this.#last = Date.now();
    const { tr } = this;
    const sentences = [];
    for (const kind of KINDS) {
      const names = this.#pending.get(kind);
      if (!names) continue;
      sentences.push(
        names.length === 1
          ? tr.t(`announce.${kind}`, { name: names[0] })
          : tr.t(`announce.${kind}_many`, { count: names.length }),
      );
    }
    this.#pending.clear();
    if (sentences.length) this.say(sentences.join(" "));
  }
}
