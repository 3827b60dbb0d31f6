// The host dashboard, made for a projector: the QR code and the code in large type, live counts,
// the live roster, and the host's controls (score, kick, lock, close).

import { codeFromPath } from "../shared/api.js";
import { hostToken } from "../shared/hostkeys.js";
import { changeScore, endEvent, kickParticipant, toggleLock } from "./actions.js";
import { HostSession } from "./session.js";
import { tokenFromFragment } from "./token.js";
import { TopBar } from "./topbar.js";

const code = codeFromPath();
const token = tokenFromFragment(code) || hostToken(code);
// The buttons act on the session made just below; none can be pressed before it exists.
const session = new HostSession({
  code,
  joinUrl: document.querySelector('meta[name="rollcall-join-url"]').content,
  main: document.getElementById("main"),
  topBar: new TopBar({
    onLock: () => toggleLock(session),
    onEnd: () => endEvent(session),
  }),
  token,
  cardActions: {
    onScore: (id, delta) => changeScore(session, id, delta),
    onKick: (id) => kickParticipant(session, id),
  },
});

// Opening the host link in a tab already at /host/CODE changes only the fragment: no new page.
addEventListener("hashchange", () => {
  const given = tokenFromFragment(code);
  if (given && given !== session.token) session.useToken(given);
});

session.start();
