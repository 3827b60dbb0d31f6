// Host tokens stay in the host's browser: localStorage, one key per event, never in a URL.

const PREFIX = "rollcall.host.";
const RECENT_KEY = "rollcall.hosted";
const RECENT_LIMIT = 8;

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
