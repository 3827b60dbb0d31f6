// A host token can arrive in the URL fragment (#host_token=…, as the host link and `rollcall
// event create` give it). It is taken out of the address at once; the session keeps it only
// once it has opened the event (host/session.js).

/** The token in the fragment, or null; either way the fragment leaves the address. */
export function tokenFromFragment() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const given = fragment.get("host_token");
  if (!given) return null;
  history.replaceState(history.state, "", location.pathname + location.search);
  return given;
}
