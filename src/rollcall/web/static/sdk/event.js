// An event by its code: the code as rollcall writes it, its API path, its public description.

import { api } from "/static/shared/api.js";

/** Codes are shown upper case and accepted in any case. */
export function normaliseCode(code) {
  return String(code ?? "")
    .trim()
    .toUpperCase();
}

export function eventPath(code) {
  return `/api/events/${encodeURIComponent(normaliseCode(code))}`;
}

/** The event's public description: title, capacity, status, counts. */
export function getEvent(code) {
  return api(eventPath(code));
}
