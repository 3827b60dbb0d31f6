// The host's roster: every participant of the event as the host's stream last described them.
// Data only; the dashboard chooses what to show of it (host/query.js) and draws it.

import { presenceOf } from "../shared/roster.js";
import { scoreOf } from "../shared/score.js";

/**
 * What the dashboard groups people by, in the order it lists them: waiting for the host (status
 * `pending`), in the event (by presence), gone by themselves, removed by the host.
 */
export const CATEGORIES = ["waiting", "online", "away", "offline", "left", "removed"];

/** The score a card shows: the host's change while it is on its way, else the stored one. */
export function shownScore(entry) {
  if (entry.pendingScore !== undefined) return entry.pendingScore;
  return scoreOf(entry.state);
}

/** A participant's group among CATEGORIES. */
export function categoryOf(entry) {
  switch (entry.status) {
    case "pending":
      return "waiting";
    case "left":
      return "left";
    case "kicked":
      return "removed";
    default:
      return entry.presence === "away" || entry.presence === "offline" ? entry.presence : "online";
  }
}

/** A name as search compares it: no case, no accents ("José" is found by "jose"). */
export function searchKey(text) {
  return text
    .normalize("NFKD")
    .replace(/\p{M}/gu, "")
    .toLocaleLowerCase()
    .replace(/\s+/g, " ")
    .trim();
}

export class Roster {
  #entries = new Map(); // participant id -> entry
  /** Grows on every change, so a view can tell cheaply whether it is out of date. */
  version = 0;
  /** Grows when someone new arrives or a name changes: the order by name is out of date. */
  namesVersion = 0;
  /**
   * The roster as the SDK's Host keeps it up to date from the host's stream (shared/roster.js
   * applies each message). An entry it changes is touched by the page afterwards, which first
   * reads the group it was in (the announcer says who moved where).
   */
  store = {
    get: (id) => this.#entries.get(id),
    upsert: (participant) => this.#take(participant),
    remove: (id) => this.#remove(id),
    replace: (participants) => this.replace(participants),
  };

  get(id) {
    return this.#entries.get(id);
  }

  has(id) {
    return this.#entries.has(id);
  }

  get size() {
    return this.#entries.size;
  }

  values() {
    return this.#entries.values();
  }

  replace(participants) {
    this.#entries.clear();
    this.namesVersion += 1;
    for (const participant of participants) this.upsert(participant);
  }

  /** Add or update a participant. An entry stays the same object for as long as it is known, so
   * that views may keep it. */
  upsert(participant) {
    const entry = this.#take(participant);
    this.touch(entry);
    return entry;
  }

  /** Mark a change made to an entry in place (a score on its way, a new name, say). */
  touch(entry) {
    if (entry.keyOf !== entry.display_name) {
      entry.key = searchKey(entry.display_name);
      entry.keyOf = entry.display_name;
      this.namesVersion += 1;
    }
    entry.category = categoryOf(entry);
    this.version += 1;
  }

  /** Store a participant's fields in its entry (the same object while it is known). */
  #take(participant) {
    let entry = this.#entries.get(participant.id);
    if (!entry) {
      entry = {};
      this.#entries.set(participant.id, entry);
    }
    Object.assign(entry, participant, { presence: presenceOf(participant) });
    entry.joinedMs = Date.parse(entry.joined_at) || 0;
    return entry;
  }

  #remove(id) {
    if (this.#entries.delete(id)) this.version += 1;
  }

  /** Who waits for the host (newcomers and seat moves), in the order they asked. */
  waiting() {
    return [...this.#entries.values()]
      .filter((entry) => entry.status === "pending")
      .sort((a, b) => String(a.joined_at).localeCompare(String(b.joined_at)));
  }
}
