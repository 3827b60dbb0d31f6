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
      case HostMessage.PENDING:
      case HostMessage.RECLAIM_REQUESTED:
        this.upsert(message.participant);
        return true;
      case HostMessage.REJOINED:
        // An approved seat move: the request is gone, its seat's owner is on the new phone.
        if (message.request_id) this.#entries.delete(message.request_id);
        this.upsert(message.participant);
        return true;
      case HostMessage.PRESENCE:
        if (entry && entry.status === "active") entry.presence = message.presence;
        return true;
      case HostMessage.LEFT:
        // Someone waiting who withdrew or was removed leaves the roster.
        if (entry?.status === "pending") this.#entries.delete(entry.id);
        else if (entry) Object.assign(entry, { status: "left", presence: "left" });
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

  /** Who waits for the host (newcomers and seat moves), in the order they asked. */
  waiting() {
    return [...this.#entries.values()]
      .filter((entry) => entry.status === "pending")
      .sort((a, b) => String(a.joined_at).localeCompare(String(b.joined_at)));
  }

  /** Who is in first, then who left, then who was removed; by name within each. Not who waits. */
  sorted() {
    const rank = (entry) => (entry.status === "active" ? 0 : entry.status === "left" ? 1 : 2);
    return [...this.#entries.values()]
      .filter((entry) => entry.status !== "pending")
      .sort((a, b) => rank(a) - rank(b) || collator.compare(a.display_name, b.display_name));
  }
}
