// Where the host token comes from. It lives in this browser's localStorage; it can arrive once in
// the URL fragment (#host_token=…, as `rollcall event create` prints it), which is then removed.

import { keepHostToken } from "../shared/hostkeys.js";

/** The token in the fragment, kept for `code` and taken out of the address; or null. */
export function tokenFromFragment(code) {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const given = fragment.get("host_token");
  if (!given) return null;
  keepHostToken(code, given);
  history.replaceState(history.state, "", location.pathname + location.search);
  return given;
}
