// The host dashboard, made for a projector: the QR code and the code in large type, live counts,
// the live roster, and the host's controls (score, kick, lock, close), in the host's language.

import { codeFromPath } from "../shared/api.js";
import { chooseLocale, loadTranslator, Translator, translateDocument } from "../shared/i18n.js";
import { languageMenu } from "../shared/language.js";
import {
  changeScore,
  downloadAttendance,
  endEvent,
  kickParticipant,
  toggleLock,
} from "./actions.js";
import { projectorMode, setProjectorMode, showProjectorMode } from "./projector.js";
import { HostSession } from "./session.js";
import { tokenFromFragment } from "./token.js";
import { TopBar } from "./topbar.js";

/** The host page's words in `locale`, else in English; with no catalog at all, the keys. */
async function words(locale) {
  for (const tried of new Set([locale, "en"])) {
    try {
      return await loadTranslator("host", tried);
    } catch {
      // the next one
    }
  }
  return new Translator("en", {}, {});
}

const code = codeFromPath();
let tr = await words(chooseLocale());
translateDocument(tr);

// The buttons act on the session made just below; none can be pressed before it exists.
const topBar = new TopBar({
  tr,
  onLock: () => toggleLock(session),
  onEnd: () => endEvent(session),
  onHostLink: () => session.openHostLink(),
  onAttendance: () => downloadAttendance(session),
  onProjector: () => {
    const on = !projectorMode();
    setProjectorMode(on);
    topBar.showProjector(on);
  },
});
const session = new HostSession({
  code,
  joinUrl: document.querySelector('meta[name="rollcall-join-url"]').content,
  main: document.getElementById("main"),
  topBar,
  tr,
  offered: tokenFromFragment(),
  cardActions: {
    onScore: (id, delta) => changeScore(session, id, delta),
    onKick: (id) => kickParticipant(session, id),
    onEdit: (id) => session.teams.edit(id),
  },
});

showProjectorMode(projectorMode());
topBar.showProjector(projectorMode());

const menu = languageMenu({
  locale: tr.locale,
  label: tr.t("language"),
  onChange: async (locale) => {
    tr = await words(locale);
    translateDocument(tr);
    menu.relabel(tr.t("language"));
    session.retranslate(tr);
  },
});
document.getElementById("page-tools").append(menu);

// Opening the host link in a tab already at /host/CODE changes only the fragment: no new page.
addEventListener("hashchange", () => {
  const given = tokenFromFragment();
  if (given && given !== session.token) session.useToken(given);
});

session.start();
