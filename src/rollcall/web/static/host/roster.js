// The host's roster: every participant of the event as the host's stream last described them.
// Data only; the dashboard draws it.

import { HostMessage } from "../shared/protocol.js";
import { scoreOf } from "../shared/score.js";

const collator = new Intl.Collator(undefined, { sensitivity: "base", numeric: true });

/** The score a card shows: the host's change while it is on its way, else the stored one. */
export function shownScore(entry) {
  if (entry.pendingScore !== undefined) return entry.pendingScore;
  return scoreOf(entry.state);
}

export class Roster {
  #entries = new Map(); // participant id -> entry

  get(id) {
    return this.#entries.get(id);
  }

  has(id) {
    return this.#entries.has(id);
  }

  replace(participants) {
    this.#entries.clear();
    for (const participant of participants) this.upsert(participant);
  }

  upsert(participant) {
    const before = this.#entries.get(participant.id);
    const presence =
      participant.presence || (participant.status === "active" ? "online" : participant.status);
    this.#entries.set(participant.id, { ...before, ...participant, presence });
  }

  /** Apply one participant message of the host's stream; false when it is not one. */
  apply(message) {
    const entry = this.#entries.get(message.participant_id);
    switch (message.type) {
      case HostMessage.JOINED:
      case HostMessage.REJOINED:
        this.upsert(message.participant);
        return true;
      case HostMessage.PRESENCE:
        if (entry && entry.status === "active") entry.presence = message.presence;
        return true;
      case HostMessage.LEFT:
        if (entry) Object.assign(entry, { status: "left", presence: "left" });
        return true;
      case HostMessage.KICKED:
        if (entry) Object.assign(entry, { status: "kicked", presence: "kicked" });
        return true;
      case HostMessage.STATE:
        if (entry && message.version >= entry.version) {
          Object.assign(entry, { state: message.state, version: message.version });
        }
        return true;
      default:
        return false;
    }
  }

  /** Who is in first, then who left, then who was removed; by name within each. */
  sorted() {
    const rank = (entry) => (entry.status === "active" ? 0 : entry.status === "left" ? 1 : 2);
    return [...this.#entries.values()].sort(
      (a, b) => rank(a) - rank(b) || collator.compare(a.display_name, b.display_name),
    );
  }
}
