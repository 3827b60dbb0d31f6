// An event by its code: the code as rollcall writes it, its API path, its public description.

import { api, serverOrigin } from "/static/shared/api.js";

/** Codes are shown upper case and accepted in any case. */
export function normaliseCode(code) {
  return String(code ?? "")
    .trim()
    .toUpperCase();
}

export function eventPath(code) {
  return `/api/events/${encodeURIComponent(normaliseCode(code))}`;
}

/**
 * The event's public description: title, capacity, status, counts. `server`: the URL of another
 * site's rollcall (one that lists this page's origin), as join() takes it.
 */
export function getEvent(code, { server = null } = {}) {
  return api(eventPath(code), { server: serverOrigin(server) });
}
