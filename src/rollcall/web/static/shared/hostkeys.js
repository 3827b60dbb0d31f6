// Host tokens stay in the host's browser: localStorage, one key per event. A URL carries one only
// in its fragment (the host link), which browsers never send to a server.

const PREFIX = "rollcall.host.";
const RECENT_KEY = "rollcall.hosted";
const RECENT_LIMIT = 8;
const UNSAVED_PREFIX = "rollcall.unsaved.";

export function hostToken(code) {
  try {
    return localStorage.getItem(PREFIX + code);
  } catch {
    return null;
  }
}

export function keepHostToken(code, token, title = null) {
  localStorage.setItem(PREFIX + code, token);
  if (title) remember(code, title);
}

export function forgetHostToken(code) {
  localStorage.removeItem(PREFIX + code);
  localStorage.removeItem(UNSAVED_PREFIX + code);
}

/** A key made here and not yet copied or saved by the host: the dashboard offers to, once. */
export function markUnsaved(code) {
  localStorage.setItem(UNSAVED_PREFIX + code, "1");
}

export function isUnsaved(code) {
  try {
    return localStorage.getItem(UNSAVED_PREFIX + code) === "1";
  } catch {
    return false;
  }
}

export function markSaved(code) {
  try {
    localStorage.removeItem(UNSAVED_PREFIX + code);
  } catch {
    // Nothing was kept.
  }
}

/** Events this browser hosts, newest first, for the start page. */
export function hostedEvents() {
  try {
    const list = JSON.parse(localStorage.getItem(RECENT_KEY) || "[]");
    return Array.isArray(list) ? list.filter((item) => hostToken(item.code)) : [];
  } catch {
    return [];
  }
}

export function remember(code, title) {
  const list = hostedEvents().filter((item) => item.code !== code);
  list.unshift({ code, title });
  localStorage.setItem(RECENT_KEY, JSON.stringify(list.slice(0, RECENT_LIMIT)));
}
