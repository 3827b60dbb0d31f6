// This browser's device id: a random UUID made once, kept in localStorage and in a cookie, so
// that clearing either one still brings the phone back as the same participant. Never a
// fingerprint.

const STORAGE_KEY = "rollcall.device";
const COOKIE = "rollcall_device";
const COOKIE_MAX_AGE_S = 400 * 24 * 3600; // the longest a browser keeps a cookie
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A v4 UUID. crypto.randomUUID exists only in secure contexts (https, localhost), and phones
 * often open rollcall at a plain-http LAN address, so build one from getRandomValues there. */
export function newUuid() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function fromStorage() {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null; // storage can be switched off
  }
}

function fromCookie() {
  for (const part of document.cookie.split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === COOKIE) return decodeURIComponent(value.join("="));
  }
  return null;
}

function keep(id) {
  try {
    localStorage.setItem(STORAGE_KEY, id);
  } catch {
    // The cookie still holds it.
  }
  const secure = location.protocol === "https:" ? "; Secure" : "";
  // biome-ignore lint/suspicious/noDocumentCookie: the Cookie Store API exists only in secure contexts, and phones often open rollcall over plain http on a LAN
  document.cookie = `${COOKIE}=${id}; Max-Age=${COOKIE_MAX_AGE_S}; Path=/; SameSite=Strict${secure}`;
}

/** { id, isNew }: isNew when this browser had no device id yet (so no participant anywhere). */
export function device() {
  const valid = (id) => typeof id === "string" && UUID_PATTERN.test(id.toLowerCase());
  const stored = [fromStorage(), fromCookie()].find(valid);
  const id = stored ? stored.toLowerCase() : newUuid();
  keep(id); // write both back, so whichever survives next time holds it
  return { id, isNew: !stored };
}
