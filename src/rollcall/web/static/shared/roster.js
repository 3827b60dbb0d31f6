// A host's roster as the host's stream changes it: the one place that says what each participant
// message does to it. The SDK's Host (sdk/host.js) and the host page's Roster (host/roster.js)
// both apply the stream with it; each keeps its entries its own way (`store`).

import { HostMessage } from "./protocol.js";

/** The messages of the host's stream that change a roster. */
export const ROSTER_MESSAGES = new Set([
  HostMessage.JOINED,
  HostMessage.PENDING,
  HostMessage.REJOINED,
  HostMessage.RECLAIM_REQUESTED,
  HostMessage.PRESENCE,
  HostMessage.LEFT,
  HostMessage.KICKED,
  HostMessage.STATE,
  HostMessage.RENAMED,
  HostMessage.TEAM,
]);

/** A roster entry always says its presence; a status that is not `active` is its presence. */
export function presenceOf(participant) {
  return participant.presence || (participant.status === "active" ? "online" : participant.status);
}

/**
 * Apply one message of the host's stream to a roster. `store` keeps the entries: `get(id)`,
 * `upsert(participant)` (stores one the message carries, returns its entry) and `remove(id)`.
 * Entries are changed in place. Returns the entry the message changed, null when it names nobody
 * known (or removed them), or undefined when the message is not about a participant.
 */
export function applyToRoster(store, message) {
  const entry = store.get(message.participant_id);
  switch (message.type) {
    case HostMessage.JOINED:
    case HostMessage.PENDING:
    case HostMessage.REJOINED:
    case HostMessage.RECLAIM_REQUESTED:
      // An approved seat move: the request is gone, its seat's owner is on the new phone.
      if (message.request_id) store.remove(message.request_id);
      return message.participant ? store.upsert(message.participant) : (entry ?? null);
    case HostMessage.PRESENCE:
      // Whoever left or was removed stays so, whatever their socket did last.
      if (entry && entry.status !== "left" && entry.status !== "kicked") {
        entry.presence = message.presence;
      }
      break;
    case HostMessage.LEFT:
      // Someone waiting who withdrew or was removed leaves the roster.
      if (entry?.status === "pending") {
        store.remove(entry.id);
        return null;
      }
      if (entry) Object.assign(entry, { status: "left", presence: "left" });
      break;
    case HostMessage.KICKED:
      if (entry) Object.assign(entry, { status: "kicked", presence: "kicked" });
      break;
    case HostMessage.STATE:
      if (entry && message.version >= entry.version) {
        Object.assign(entry, { state: message.state, version: message.version });
      }
      break;
    case HostMessage.RENAMED:
      if (entry) entry.display_name = message.display_name;
      break;
    case HostMessage.TEAM:
      if (entry) entry.team = message.team;
      break;
    default:
      return undefined;
  }
  return entry ?? null;
}
