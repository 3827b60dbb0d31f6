// What this browser remembers about an event it joined: only the name it joined with.

function key(code) {
  return `rollcall.joined.${code}`;
}

/** The name this browser joined `code` with, or null. */
export function rememberedName(code) {
  try {
    return JSON.parse(localStorage.getItem(key(code)) || "null")?.name || null;
  } catch {
    return null;
  }
}

export function rememberName(code, participant) {
  try {
    localStorage.setItem(key(code), JSON.stringify({ name: participant.display_name }));
  } catch {
    // Without storage the session cookie still brings this phone back.
  }
}
