// What this browser remembers about the events it joined: the name it joined each with, so that
// coming back needs no typing, and whether it left. The device id (shared/device.js) is what
// rollcall knows the browser by. A page on another site than rollcall's also keeps the session
// token here, in its own storage: rollcall's cookie never comes with its calls.

function key(code) {
  return `rollcall.joined.${code}`;
}

function read(code) {
  try {
    return JSON.parse(localStorage.getItem(key(code)) || "null") || {};
  } catch {
    return {};
  }
}

function write(code, record) {
  try {
    if (record) localStorage.setItem(key(code), JSON.stringify(record));
    else localStorage.removeItem(key(code));
  } catch {
    // Without storage the session cookie still brings this browser back.
  }
}

/** The name this browser is in `code` with, or null (never joined, left, or moved away). */
export function rememberedName(code) {
  const record = read(code);
  return record.left || record.moved ? null : record.name || null;
}

/** True when this browser's participant in `code` continued on another phone. */
export function movedAway(code) {
  return Boolean(read(code).moved);
}

/** This browser's participant moved to another phone: this one is a stranger to the event now. */
export function rememberMoved(code) {
  const { name } = read(code);
  write(code, { name, moved: true });
}

/** The name this browser last used in `code`, even after leaving: for the name field. */
export function lastName(code) {
  return read(code).name || null;
}

export function rememberName(code, name) {
  const { token } = read(code);
  write(code, token ? { name, token } : { name });
}

/** The session token kept for `code` (only a page on another site than rollcall's keeps one). */
export function rememberedToken(code) {
  return read(code).token || null;
}

export function rememberToken(code, token) {
  write(code, { ...read(code), token });
}

export function rememberLeft(code) {
  const { name } = read(code);
  write(code, name ? { name, left: true } : null);
}
